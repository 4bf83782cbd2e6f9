import numpy as np
import pytest

import fnn
from fnn import layers, random
from fnn.errors import ShapeError, TreeError
from fnn.testing import assert_layer_gradients, assert_trees_equal


def mlp():
    return fnn.sequential(layers.dense(6), layers.tanh(), layers.dense(5), layers.sigmoid(),
                          layers.dense(4), layers.leaky_relu(0.2), layers.dense(3),
                          layers.relu(), layers.dense(3), layers.identity(), layers.softmax())


def test_gradients_of_every_layer_inside_sequential(rng):
    assert_layer_gradients(mlp(), rng.normal(size=(5, 4)))


def test_gradients_through_flatten_and_step(rng):
    model = fnn.sequential(layers.flatten(), layers.dense(3), layers.step(), layers.dense(2))
    errors = fnn.gradcheck.layer_errors(model, rng.normal(size=(2, 2, 3)))
    # step has zero gradient, so nothing before it gets any; after it, dense(2) does.
    assert errors["params[3].w"] < 1e-6 and errors["params[3].b"] < 1e-6
    assert errors["x"] == errors["params[1].w"] == 0.0


def test_shape_inference_matches_forward_shapes(rng):
    model = fnn.sequential(layers.flatten(), layers.dense(7), layers.relu(), layers.dense(2))
    params, state, out_shape = model.init(random.key(0), (3, 4))
    assert out_shape == (2,)
    assert [p.w.shape for p in params if p is not None] == [(12, 7), (7, 2)]
    assert state == (None,) * 4
    y, _, _ = model.forward(params, state, rng.normal(size=(5, 3, 4)).astype(np.float32))
    assert y.shape == (5, *out_shape)


def test_nested_sequential(rng):
    inner = fnn.sequential(layers.dense(4), layers.tanh())
    assert_layer_gradients(fnn.sequential(inner, layers.dense(2)), rng.normal(size=(3, 5)))


def test_param_grads_skips_work_but_matches_backward(rng):
    model = fnn.sequential(layers.flatten(), layers.dense(4), layers.relu(), layers.dense(2))
    params, state, _ = model.init(random.key(1), (2, 3), np.float64)
    _, _, cache = model.forward(params, state, rng.normal(size=(3, 2, 3)))
    dy = rng.normal(size=(3, 2))
    assert_trees_equal(model.param_grads(params, cache, dy), model.backward(params, cache, dy)[1])


def test_mismatched_input_names_the_layer_position_and_both_shapes():
    model = fnn.sequential(layers.flatten(), layers.dense(5), layers.relu(), layers.dense(3))
    params, state, _ = model.init(random.key(0), (2, 4))
    with pytest.raises(ShapeError, match=r"layer 1 of sequential, dense\(5\): expected input of "
                                         r"shape \(batch, 8\), got \(6, 9\)"):
        model.forward(params, state, np.zeros((6, 3, 3), np.float32))


def test_params_of_another_model_are_refused():
    model = fnn.sequential(layers.dense(5), layers.relu())
    with pytest.raises(TreeError, match="tuple of 2"):
        model.forward((None,), (None, None), np.zeros((1, 3), np.float32))


def test_init_errors_name_the_position():
    with pytest.raises(ShapeError, match="layer 1 of sequential, dense"):
        fnn.sequential(layers.relu(), layers.dense(3)).init(random.key(0), (2, 2))


def test_arguments_must_be_layers():
    with pytest.raises(TypeError, match=r"relu instead of relu\(\)"):
        fnn.sequential(layers.relu)
    with pytest.raises(ValueError):
        fnn.sequential()


def key_recorder(seen, uses_key=True):
    """A shape-preserving layer that records the key its forward receives."""

    def forward(params, state, x, *, key=None, train=False):
        seen.append(key)
        return x, state, None

    return fnn.Layer("recorder", layers.identity().init, forward, layers.identity().backward,
                     uses_key=uses_key)


def test_keys_go_to_the_children_that_read_them():
    seen = []
    model = fnn.sequential(layers.dense(3), key_recorder(seen), layers.relu(),
                           fnn.sequential(layers.tanh(), key_recorder(seen)),
                           key_recorder(seen, uses_key=False))
    assert model.uses_key and not fnn.sequential(layers.dense(2), layers.relu()).uses_key
    params, state, _ = model.init(random.key(0), (2,))
    k = random.key(5)
    model.forward(params, state, np.ones((1, 2), np.float32), key=k, train=True)
    # child i of a sequential gets split(key, n)[i], as if every child had been given one
    assert seen == [random.split(k, 5)[1], random.split(random.split(k, 5)[3], 2)[1], None]
    seen.clear()
    model.forward(params, state, np.ones((1, 2), np.float32))
    assert seen == [None, None, None]


def test_fnn_layers_say_whether_they_read_a_key():
    reads = {layer.name for layer in (layers.dense(2), layers.conv2d(2, 3), layers.relu(),
                                      layers.leaky_relu(), layers.softmax(), layers.flatten(),
                                      layers.max_pool2d(2), layers.avg_pool2d(2),
                                      layers.batch_norm(), layers.dropout(0.5))
             if layer.uses_key}
    assert reads == {layers.dropout(0.5).name}


def test_a_key_that_is_not_a_key_is_refused_even_where_no_child_reads_it():
    model = fnn.sequential(layers.dense(2), layers.relu())
    params, state, _ = model.init(random.key(0), (3,))
    with pytest.raises(TypeError, match=r"fnn.random.Key"):
        model.forward(params, state, np.ones((1, 3), np.float32), key=0)


# --- residual, concatenate, add, and combinators nested in each other ---

def run(model, x, seed=0):
    params, state, _ = model.init(random.key(seed), x.shape[1:], x.dtype)
    return params, state, model.forward(params, state, x)[0]


def test_residual_adds_the_input_to_the_block_output(rng):
    block = fnn.sequential(layers.dense(4), layers.tanh(), layers.dense(4))
    x = rng.normal(size=(3, 4))
    (p,), (s,), y = run(fnn.residual(block), x)
    np.testing.assert_array_equal(y, x + block.forward(p, s, x)[0])


def test_concatenate_joins_branch_outputs_on_axis_one(rng):
    a, b = layers.conv2d(2, 1), fnn.sequential(layers.conv2d(3, 3, padding=1), layers.relu())
    model = fnn.concatenate(a, b)
    x = rng.normal(size=(2, 1, 5, 5))
    params, state, out_shape = model.init(random.key(0), (1, 5, 5), np.float64)
    y = model.forward(params, state, x)[0]
    assert out_shape == (5, 5, 5) and y.shape == (2, 5, 5, 5)
    np.testing.assert_array_equal(y[:, :2], a.forward(params[0], state[0], x)[0])
    np.testing.assert_array_equal(y[:, 2:], b.forward(params[1], state[1], x)[0])


def test_add_sums_branch_outputs(rng):
    branches = [layers.dense(3), layers.identity(), fnn.sequential(layers.dense(3), layers.relu())]
    x = rng.normal(size=(4, 3))
    params, state, y = run(fnn.add(*branches), x)
    ys = [b.forward(p, s, x)[0] for b, p, s in zip(branches, params, state, strict=True)]
    np.testing.assert_array_equal(y, ys[0] + ys[1] + ys[2])


NESTED = {
    "residual": lambda: fnn.residual(fnn.sequential(layers.dense(5), layers.tanh(), layers.dense(5))),
    "concatenate": lambda: fnn.concatenate(layers.dense(2), fnn.sequential(layers.dense(3),
                                                                            layers.sigmoid())),
    "add": lambda: fnn.add(layers.dense(4), layers.identity(), layers.dense(4, use_bias=False)),
    "sequential of residuals of sequentials": lambda: fnn.sequential(
        fnn.residual(fnn.sequential(layers.dense(5), layers.tanh(), layers.dense(5))),
        fnn.residual(fnn.add(layers.dense(5), fnn.concatenate(layers.dense(2), layers.dense(3)))),
        layers.dense(2)),
}


@pytest.mark.parametrize("make", NESTED.values(), ids=NESTED.keys())
def test_gradients_of_combinators_and_nested_ones(rng, make):
    x = rng.normal(size=(3, 5)) if "residual" in make().name or "sequential" in make().name \
        else rng.normal(size=(3, 4))
    assert_layer_gradients(make(), x)


def test_gradients_of_a_nested_cnn_with_conv_pool_and_batch_norm(rng):
    # No bias before batch norm: its gradient is zero, which a relative error cannot check.
    block = fnn.sequential(layers.conv2d(3, 3, padding=1, use_bias=False), layers.batch_norm(),
                           layers.tanh(),
                           layers.conv2d(3, 3, padding=1))
    model = fnn.sequential(layers.conv2d(3, 1), fnn.residual(block),
                           fnn.concatenate(layers.avg_pool2d(2), layers.max_pool2d(2)),
                           layers.flatten(), layers.dense(2))
    assert_layer_gradients(model, rng.normal(size=(2, 2, 4, 4)))


@pytest.mark.parametrize("make", NESTED.values(), ids=NESTED.keys())
def test_param_grads_of_combinators_match_backward(rng, make):
    model = make()
    x = rng.normal(size=(3, 5 if "residual" in model.name else 4))
    params, state, _ = model.init(random.key(1), x.shape[1:], np.float64)
    y, _, cache = model.forward(params, state, x)
    dy = rng.normal(size=y.shape)
    assert_trees_equal(model.param_grads(params, cache, dy), model.backward(params, cache, dy)[1])


def test_residual_refuses_a_block_that_changes_the_shape():
    with pytest.raises(ShapeError, match=r"residual\(dense\(3\)\): y = x \+ block\(x\) needs a block "
                                         r"that keeps the shape \(4,\), but it gives \(3,\)"):
        fnn.residual(layers.dense(3)).init(random.key(0), (4,))


def test_concatenate_and_add_refuse_branch_shapes_that_do_not_fit():
    with pytest.raises(ShapeError, match=r"concatenate\(.*\): branch outputs \(2, 4, 4\), "
                                         r"\(2, 6, 6\) .* every axis but the first"):
        fnn.concatenate(layers.conv2d(2, 3), layers.conv2d(2, 1)).init(random.key(0), (1, 6, 6))
    with pytest.raises(ShapeError, match=r"add\(dense\(3\), dense\(2\)\): branch outputs \(3,\), "
                                         r"\(2,\) .* the same shape"):
        fnn.add(layers.dense(3), layers.dense(2)).init(random.key(0), (4,))


def test_errors_in_nested_children_name_every_level():
    model = fnn.sequential(layers.flatten(), fnn.residual(fnn.concatenate(
        layers.dense(2), layers.conv2d(2, 3))))
    with pytest.raises(ShapeError, match=r"^layer 1 of sequential, the block of residual, branch 1 "
                                         r"of concatenate, conv2d\(2, 3\): expected a 3-D input"):
        model.init(random.key(0), (2, 2))
    model = fnn.sequential(layers.relu(), fnn.add(layers.identity(), layers.dense(3)))
    params, state, _ = model.init(random.key(0), (3,))
    with pytest.raises(ShapeError, match=r"^layer 1 of sequential, branch 1 of add, dense\(3\): "
                                         r"expected input of shape \(batch, 3\), got \(2, 4\)"):
        model.forward(params, state, np.zeros((2, 4), np.float32))


def test_combinators_refuse_params_with_one_entry_too_few_and_dy_of_another_shape():
    model = fnn.concatenate(layers.dense(2), layers.dense(3))
    params, state, _ = model.init(random.key(0), (4,))
    with pytest.raises(TreeError, match=r"concatenate\(dense\(2\), dense\(3\)\): expected params "
                                        r"as a tuple of 2 \(one per branch\), got tuple of length 1"):
        model.forward(params[:1], state, np.zeros((1, 4), np.float32))
    _, _, cache = model.forward(params, state, np.zeros((2, 4), np.float32))
    with pytest.raises(ShapeError, match=r"expected dy of the output's shape \(2, 5\), got \(5,\)"):
        model.backward(params, cache, np.zeros(5, np.float32))
    for combinator in (fnn.residual, fnn.concatenate, fnn.add):
        with pytest.raises(TypeError, match=r"relu instead of relu\(\)"):
            combinator(layers.relu)
    with pytest.raises(ValueError, match="add needs at least one layer"):
        fnn.add()


def test_branches_get_keys_split_per_branch():
    seen = []
    model = fnn.concatenate(key_recorder(seen), layers.dense(2), key_recorder(seen))
    assert model.uses_key and not fnn.add(layers.dense(2), layers.relu()).uses_key
    assert fnn.residual(key_recorder(seen)).uses_key
    params, state, _ = model.init(random.key(0), (2,))
    k = random.key(3)
    model.forward(params, state, np.ones((1, 2), np.float32), key=k, train=True)
    assert seen == [random.split(k, 3)[0], random.split(k, 3)[2]]


def test_layers_list_their_children_and_read_like_the_code_that_made_them():
    dense, relu = layers.dense(100), layers.relu()
    model = fnn.sequential(dense, relu, layers.dense(10))
    assert model.children == (dense, relu, model.children[2]) and dense.children == ()
    assert repr(model) == "sequential(dense(100), relu(), dense(10))"
    block = fnn.residual(fnn.concatenate(layers.conv2d(8, 3, padding=1), layers.conv2d(
        8, (1, 3), stride=2, use_bias=False)))
    assert repr(block) == ("residual(concatenate(conv2d(8, 3, padding=1), "
                           "conv2d(8, (1, 3), stride=2, use_bias=False)))")
    assert repr(fnn.add(layers.max_pool2d(3, stride=2), layers.batch_norm(momentum=0.99),
                        layers.dropout(0.5), layers.leaky_relu(0.1), layers.dense(3, use_bias=False))
                ) == ("add(max_pool2d(3, stride=2), batch_norm(momentum=0.99), dropout(0.5), "
                      "leaky_relu(0.1), dense(3, use_bias=False))")


# --- a layer whose backward returns a gradient of the wrong shape (issue 13, bug 7) ---

def wrong_grad_layer():
    """dense(3) whose backward returns a bias gradient of 5 elements."""
    good = layers.dense(3)

    def backward(params, cache, dy):
        dx, grads = good.backward(params, cache, dy)
        return dx, layers.DenseParams(grads.w, np.zeros(5, grads.b.dtype))

    return fnn.Layer("bad_dense", good.init, good.forward, backward, uses_key=False)


def test_a_wrong_gradient_shape_is_blamed_on_the_layer_and_the_parameter_path():
    model = fnn.sequential(layers.dense(4), layers.relu(), wrong_grad_layer())
    optimizer = fnn.optim.momentum(0.1)
    ts = fnn.init_train_state(model, optimizer, random.key(0), (2,))
    step = fnn.make_train_step(model, fnn.losses.mse(), optimizer)
    message = (r"layer 2 of sequential, bad_dense: backward returned a gradient of shape \(5,\) "
               r"for params\.b of shape \(3,\)")
    with pytest.raises(ShapeError, match=message):
        step(ts, np.ones((2, 2), np.float32), np.zeros((2, 3), np.float32))
    params, state, _ = model.init(random.key(0), (2,))
    y, _, cache = model.forward(params, state, np.ones((2, 2), np.float32))
    with pytest.raises(ShapeError, match=message):  # a hand-written step is told the same
        model.backward(params, cache, y)
    nested = fnn.sequential(fnn.residual(fnn.sequential(layers.dense(3), wrong_grad_layer())))
    params, state, _ = nested.init(random.key(0), (3,))
    y, _, cache = nested.forward(params, state, np.ones((2, 3), np.float32))
    with pytest.raises(ShapeError, match=r"^layer 0 of sequential, the block of residual, layer 1 "
                                         r"of sequential, bad_dense: backward returned"):
        nested.backward(params, cache, y)


def test_a_single_layer_model_with_a_wrong_gradient_is_named_too():
    layer = wrong_grad_layer()
    params, state, _ = layer.init(random.key(0), (2,))
    f = fnn.value_and_grad(layer, fnn.losses.mse())
    with pytest.raises(ShapeError, match=r"^bad_dense: backward returned a gradient of shape "
                                         r"\(5,\) for params\.b of shape \(3,\)"):
        f(params, state, np.ones((2, 2), np.float32), np.zeros((2, 3), np.float32))


def test_grads_of_another_structure_are_refused_by_name():
    good = layers.dense(3)
    tuple_grads = fnn.Layer("tuple_grads", good.init, good.forward,
                            lambda p, c, dy: (good.backward(p, c, dy)[0], (p.w, p.b)))
    model = fnn.sequential(tuple_grads)
    params, state, _ = model.init(random.key(0), (2,))
    y, _, cache = model.forward(params, state, np.ones((1, 2), np.float32))
    with pytest.raises(TreeError, match=r"layer 0 of sequential, tuple_grads: backward returned "
                                        r"grads not shaped like the params"):
        model.backward(params, cache, y)
