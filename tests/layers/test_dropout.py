import numpy as np
import pytest

import fnn
from fnn import random
from fnn.errors import MissingKeyError
from fnn.layers import dropout
from fnn.testing import assert_layer_gradients
from tests.layers.layer_checks import assert_pure_and_dtype_preserving


def train_forward(layer, x, key):
    return layer.forward(None, None, x, key=key, train=True)


def test_gradients_with_a_fixed_key(rng):
    assert_layer_gradients(dropout(0.5), rng.normal(size=(4, 6)), key=random.key(3))


def test_same_key_same_mask_different_key_different_mask():
    layer, x = dropout(0.5), np.ones((8, 50), np.float32)
    a, b = train_forward(layer, x, random.key(1))[0], train_forward(layer, x, random.key(1))[0]
    c = train_forward(layer, x, random.key(2))[0]
    np.testing.assert_array_equal(a, b)
    assert (a != c).any()


@pytest.mark.parametrize("rate", [0.2, 0.5, 0.8])
def test_inverted_scaling_keeps_the_expected_value(rng, rate):
    layer = dropout(rate)
    x = rng.uniform(1, 2, size=(200, 500)).astype(np.float32)
    y = train_forward(layer, x, random.key(0))[0]
    kept = y != 0
    np.testing.assert_allclose(y[kept], x[kept] / (1 - rate), rtol=1e-6)
    assert abs(kept.mean() - (1 - rate)) < 0.01
    assert abs(y.mean() / x.mean() - 1) < 0.02


def test_backward_uses_the_forward_mask(rng):
    layer, x = dropout(0.3), rng.normal(size=(5, 7))
    y, _, cache = train_forward(layer, x, random.key(4))
    dx, grads = layer.backward(None, cache, np.ones_like(y))
    assert grads is None
    np.testing.assert_array_equal(dx, np.where(y != 0, 1 / 0.7, 0))


def test_identity_in_evaluation_without_a_key(rng):
    layer, x = dropout(0.5), rng.normal(size=(3, 4))
    y, state, cache = layer.forward(None, None, x)
    assert y is x and state is None
    dy = rng.normal(size=x.shape)
    assert layer.backward(None, cache, dy)[0] is dy


def test_training_without_a_key_is_refused_naming_the_layer():
    with pytest.raises(MissingKeyError, match=r"dropout\(0.5\): training needs a random key"):
        dropout(0.5).forward(None, None, np.ones((2, 2), np.float32), train=True)
    model = fnn.sequential(fnn.layers.dense(3), dropout(0.5))
    params, state, _ = model.init(random.key(0), (2,))
    with pytest.raises(ValueError, match=r"layer 1 of sequential, dropout\(0.5\)"):
        model.forward(params, state, np.ones((2, 2), np.float32), train=True)


@pytest.mark.parametrize("rate", [-0.1, 1.0, 1.5, True, "0.5"])
def test_rate_must_lie_in_the_half_open_unit_interval(rate):
    with pytest.raises(ValueError, match=r"dropout: rate must be a number in \[0, 1\)"):
        dropout(rate)


def test_rate_zero_is_the_identity_in_training(rng):
    x = rng.normal(size=(3, 4))
    np.testing.assert_array_equal(train_forward(dropout(0.0), x, random.key(0))[0], x)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_pure_and_dtype_preserving(rng, dtype):
    assert_pure_and_dtype_preserving(dropout(0.4), rng.normal(size=(3, 2, 4)).astype(dtype),
                                     key=random.key(0))


def test_gradients_inside_sequential(rng):
    model = fnn.sequential(fnn.layers.dense(4), dropout(0.5), fnn.layers.tanh(), fnn.layers.dense(2))
    assert_layer_gradients(model, rng.normal(size=(3, 5)), key=random.key(7))
