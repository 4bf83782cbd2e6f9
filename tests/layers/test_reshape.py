import numpy as np
import pytest

from fnn import layers, random
from fnn.errors import ShapeError
from fnn.testing import assert_layer_gradients


def test_gradients(rng):
    assert_layer_gradients(layers.flatten(), rng.normal(size=(2, 3, 2, 2)))


def test_shapes_and_views(rng):
    layer = layers.flatten()
    x = rng.normal(size=(4, 3, 5))
    _, _, out_shape = layer.init(random.key(0), x.shape[1:])
    y, _, cache = layer.forward(None, None, x)
    assert out_shape == (15,) and y.shape == (4, 15) and np.shares_memory(x, y)
    dx, _ = layer.backward(None, cache, y)
    np.testing.assert_array_equal(dx, x)


def test_empty_batch():
    y, _, _ = layers.flatten().forward(None, None, np.zeros((0, 2, 3)))
    assert y.shape == (0, 6)


def test_reshape_to_a_given_shape_with_one_size_inferred(rng):
    x = rng.normal(size=(2, 3, 4))
    for shape, expected in [((12,), (12,)), ((4, 3), (4, 3)), ((-1, 2), (6, 2)), ((2, -1, 3), (2, 2, 3))]:
        layer = layers.reshape(shape)
        assert layer.init(random.key(0), (3, 4))[2] == expected
        y, _, cache = layer.forward(None, None, x)
        np.testing.assert_array_equal(y, x.reshape(2, *expected))
        assert np.shares_memory(x, y)
        np.testing.assert_array_equal(layer.backward(None, cache, y)[0], x)


def test_reshape_refuses_sizes_that_do_not_fit():
    with pytest.raises(ShapeError, match=r"reshape\(\(5, -1\)\): an input of shape \(3, 4\) \(12 "
                                         r"values per sample\) cannot be reshaped to \(5, -1\)"):
        layers.reshape((5, -1)).init(random.key(0), (3, 4))
    with pytest.raises(ShapeError, match=r"cannot be reshaped to \(7,\)"):
        layers.reshape((7,)).forward(None, None, np.zeros((2, 6)))
    with pytest.raises(ValueError, match="one -1 at most"):
        layers.reshape((-1, -1))
    with pytest.raises(ValueError, match="reshape: each size in shape must be an integer >= 1"):
        layers.reshape((0, 3))
    with pytest.raises(TypeError, match="reshape: shape must be a tuple"):
        layers.reshape(12)
