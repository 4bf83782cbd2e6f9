"""The sigmoid layer and sigmoid BCE within a few ulps over the whole range, both tails,
value and gradient; softmax cross-entropy finite for float32 logits near ±3e38.

References are computed in np.longdouble (64-bit significands on x86), with the forms
that lose nothing in either tail: σ(x) = e^x/(1 + e^x) for x < 0.
"""

import numpy as np
import pytest

from fnn import layers, losses

POINTS = [-80.0, -30.0, -15.0, -5.0, 5.0, 15.0, 30.0, 80.0]
DTYPES = [np.float32, np.float64]
ULPS = 4

pytestmark = pytest.mark.skipif(np.finfo(np.longdouble).eps >= np.finfo(np.float64).eps,
                                reason="needs a long double wider than float64")


def sigma(x):
    """σ(x) in long double."""
    x = np.longdouble(x)
    return 1 / (1 + np.exp(-x)) if x >= 0 else np.exp(x) / (1 + np.exp(x))


def softplus(x):
    """log(1 + e^x) in long double."""
    x = np.longdouble(x)
    return x + np.log1p(np.exp(-x)) if x >= 0 else np.log1p(np.exp(x))


def assert_ulps(actual, expected, dtype, ulps=ULPS):
    error = abs(np.longdouble(actual) - expected) / abs(expected)
    assert error <= ulps * np.finfo(dtype).eps, (float(actual), float(expected), float(error))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("x", POINTS)
def test_sigmoid_layer_value_and_gradient(x, dtype):
    layer = layers.sigmoid()
    xs = np.array([[x]], dtype)
    y, _, cache = layer.forward(None, None, xs)
    dx, _ = layer.backward(None, cache, np.ones_like(xs))
    assert y.dtype == dx.dtype == dtype
    assert_ulps(y[0, 0], sigma(x), dtype)
    assert_ulps(dx[0, 0], sigma(x) * sigma(-x), dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("target", [0.0, 1.0])
@pytest.mark.parametrize("y", POINTS)
def test_sigmoid_bce_value_and_gradient(y, target, dtype):
    loss = losses.sigmoid_binary_cross_entropy()
    value, cache = loss.forward(np.array([[y]], dtype), np.array([[target]], dtype))
    dy = loss.backward(cache)
    # −[t log σ(y) + (1 − t) log σ(−y)] = softplus(−y) for t = 1, softplus(y) for t = 0
    assert_ulps(value, softplus(-y if target else y), dtype)
    assert_ulps(dy[0, 0], -sigma(-y) if target else sigma(y), dtype)


@pytest.mark.parametrize("eps", [0.0, 0.1], ids=["plain", "label smoothing"])
@pytest.mark.parametrize("labels", [np.array([1, 0]), np.array([[0.0, 1.0], [1.0, 0.0]], np.float32)],
                         ids=["labels", "one-hot"])
@pytest.mark.filterwarnings("error::RuntimeWarning")  # no overflow warning either
def test_softmax_cross_entropy_stays_finite_for_float32_logits_near_the_limit(labels, eps):
    y = np.array([[3e38, -3e38], [3e38, -3e38]], np.float32)
    loss = losses.softmax_cross_entropy(label_smoothing=eps)
    value, cache = loss.forward(y, labels)
    # the label's logit lies d = 6e38 below the other's in row 0, above it in row 1: with
    # targets smoothed to 1 − ε/2 and ε/2, row 0 pays (1 − ε/2)·d and row 1 (ε/2)·d
    assert value == pytest.approx(float(np.float32(3e38)), rel=1e-7)
    a, b = (1 - eps / 2) / 2, eps / 4
    np.testing.assert_allclose(loss.backward(cache), [[a, -a], [b, -b]], rtol=1e-6)
