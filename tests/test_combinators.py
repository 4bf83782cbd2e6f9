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
