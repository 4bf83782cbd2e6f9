import numpy as np
import pytest

import fnn
from fnn import initializers, random
from fnn.errors import DTypeError, ShapeError
from fnn.layers import DenseParams, dense
from fnn.testing import assert_layer_gradients


@pytest.mark.parametrize("use_bias", [True, False])
@pytest.mark.parametrize("batch", [1, 4])
def test_gradients(rng, use_bias, batch):
    assert_layer_gradients(dense(3, use_bias=use_bias), rng.normal(size=(batch, 5)))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_weight_gradient_of_one_sample_is_the_exact_outer_product(rng, dtype):
    # A batch of one takes np.dot's route; each element is a single product, so exact.
    x, dy = rng.normal(size=(1, 6)).astype(dtype), rng.normal(size=(1, 5)).astype(dtype)
    grad = dense(5).param_grads(DenseParams(np.zeros((6, 5), dtype)), x, dy).w
    assert grad.dtype == dtype
    np.testing.assert_array_equal(grad, x[0][:, None] * dy[0][None, :])


def test_forward_is_the_affine_map(rng):
    w, b = rng.normal(size=(3, 2)), rng.normal(size=2)
    x = rng.normal(size=(4, 3))
    y, state, _ = dense(2).forward(DenseParams(w, b), None, x)
    np.testing.assert_allclose(y, x @ w + b)
    assert state is None


def test_init_shapes_dtypes_and_read_only_params():
    params, state, out_shape = dense(7).init(random.key(0), (5,), np.float64)
    assert out_shape == (7,) and state is None
    assert params.w.shape == (5, 7) and params.b.shape == (7,)
    assert params.w.dtype == params.b.dtype == np.float64
    assert not params.w.flags.writeable and not params.b.flags.writeable
    assert not params.b.any()


@pytest.mark.parametrize("w_init", [initializers.zeros, initializers.normal(0.01),
                                    initializers.glorot_uniform(), initializers.glorot_normal(),
                                    initializers.he_normal(), initializers.he_uniform()])
def test_takes_every_initializer(w_init):
    params, _, _ = dense(4, w_init=w_init).init(random.key(0), (3,))
    assert params.w.shape == (3, 4) and params.w.dtype == np.float32


def test_param_grads_equal_backward_grads_without_dx(rng):
    layer = dense(3)
    params, _, _ = layer.init(random.key(0), (4,), np.float64)
    x, dy = rng.normal(size=(5, 4)), rng.normal(size=(5, 3))
    _, _, cache = layer.forward(params, None, x)
    fnn.testing.assert_trees_equal(layer.param_grads(params, cache, dy),
                                   layer.backward(params, cache, dy)[1])


def test_wrong_inputs_name_the_layer_and_both_shapes():
    layer = dense(3)
    params, _, _ = layer.init(random.key(0), (4,))
    with pytest.raises(ShapeError, match=r"dense\(3\).*\(batch, 4\).*\(2, 5\)"):
        layer.forward(params, None, np.zeros((2, 5), np.float32))
    with pytest.raises(ShapeError, match=r"\(batch, 4\).*\(4,\)"):
        layer.forward(params, None, np.zeros(4, np.float32))
    with pytest.raises(DTypeError, match=r"float32.*float64"):
        layer.forward(params, None, np.zeros((2, 4)))
    with pytest.raises(ShapeError, match="flatten"):
        layer.init(random.key(0), (1, 28, 28))
    with pytest.raises(ValueError, match="units must be an integer >= 1, got 0"):
        dense(0)
