import numpy as np

from fnn import layers, random
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
