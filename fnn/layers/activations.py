"""Elementwise activations and softmax: layers without parameters or state.

Each backward reads only what its forward cached (the output where that is
enough, so the cache shares the array the next layer keeps anyway) and never
writes into ``dy``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from fnn.core import Layer, call_text, check_float
from fnn.errors import ConfigError
from fnn.numerics import erfc, logistic_from_tail, logistic_tail
from fnn.validators import non_negative, unit_interval

__all__ = ["elementwise", "relu", "leaky_relu", "elu", "gelu", "sigmoid", "tanh", "identity",
           "softmax", "step"]


def elementwise(name: str, fwd: Callable[[np.ndarray], tuple[np.ndarray, Any]],
                bwd: Callable[[Any, np.ndarray], np.ndarray]) -> Layer:
    """A layer without parameters or state from ``fwd(x) -> (y, cache)`` and
    ``bwd(cache, dy) -> dx`` (stax's ``elementwise``, with the derivative by hand).

    ``y`` and ``dx`` keep x's shape; ``cache`` is whatever ``bwd`` needs (x, y or
    None). ``bwd`` must not write into ``dy``. ``name`` labels the layer in errors.
    """

    def init(key, in_shape, dtype=np.float32):
        return None, None, tuple(in_shape)

    def forward(params, state, x, *, key=None, train=False):
        check_float(name, x)
        y, cache = fwd(x)
        return y, state, cache

    def backward(params, cache, dy):
        return bwd(cache, dy), None

    return Layer(name, init, forward, backward, uses_key=False)


def _relu_forward(x):
    y = np.maximum(x, 0)
    return y, y


def _relu_backward(y, dy):
    # [y > 0] as floats, then one float product: faster than dy times a bool array
    # (a mixed-type product), with the same bytes.
    dx = (y > 0).astype(dy.dtype)
    dx *= dy
    return dx


def relu() -> Layer:
    """y = max(x, 0); dx = dy · [x > 0]."""
    return elementwise("relu()", _relu_forward, _relu_backward)


def leaky_relu(alpha: float = 0.01) -> Layer:
    """y = x for x > 0, alpha·x otherwise, with 0 ≤ alpha ≤ 1; dx = dy · (1 or alpha)."""
    alpha = unit_interval("leaky_relu", "alpha", alpha)

    def fwd(x):
        # max(x, alpha·x) is the leaky ReLU for alpha in [0, 1], in one buffer.
        y = x * alpha
        np.maximum(y, x, out=y)
        return y, y

    def bwd(y, dy):
        # For alpha in [0, 1], y > 0 exactly where x > 0, and the slope (1 or alpha) is
        # max([y > 0], alpha), exactly: plain ufuncs, several times faster than np.where.
        dx = (y > 0).astype(dy.dtype)
        np.maximum(dx, alpha, out=dx)
        dx *= dy
        return dx

    return elementwise(f"leaky_relu({alpha})", fwd, bwd)


def elu(alpha: float = 1.0) -> Layer:
    """y = x for x > 0, alpha·(eˣ − 1) otherwise, with alpha ≥ 0; dx = dy · (1 or y + alpha)."""
    alpha = non_negative("elu", "alpha", alpha)

    def fwd(x):
        y = np.minimum(x, 0)
        np.expm1(y, out=y)
        y *= alpha
        y += np.maximum(x, 0)
        return y, y

    def bwd(y, dy):
        # y > 0 exactly where x > 0; below, the slope alpha·eˣ is y + alpha.
        dx = np.where(y > 0, 1, y + alpha).astype(dy.dtype, copy=False)
        dx *= dy
        return dx

    return elementwise(call_text("elu", *([] if alpha == 1.0 else [alpha])), fwd, bwd)


_SQRT_HALF = 0.7071067811865476
_ONE_OVER_SQRT_2PI = 0.3989422804014327
_SQRT_2_OVER_PI = 0.7978845608028654


def _gelu_erf_forward(x):
    # Φ(x) = erfc(−x/√2)/2 in float64: 1 + erf(x/√2) would cancel for x < 0 (all of
    # Φ lost below x ≈ −8.3, where PyTorch's x·(1 + erf)/2 gives 0)
    cdf = erfc(np.multiply(x, -_SQRT_HALF, dtype=np.float64))  # erfc magnifies x's rounding
    cdf *= 0.5
    return (x * cdf).astype(x.dtype, copy=False), (x, cdf)


def _gelu_erf_backward(cache, dy):
    # d/dx x·Φ(x) = Φ(x) + x·φ(x)
    x, cdf = cache
    slope = np.square(x, dtype=np.float64)
    slope *= -0.5
    np.exp(slope, out=slope)
    slope *= x
    slope *= _ONE_OVER_SQRT_2PI
    slope += cdf
    return (dy * slope).astype(dy.dtype, copy=False)


def _gelu_tanh_forward(x):
    inner = x * x
    inner *= 0.044715 * _SQRT_2_OVER_PI
    inner += _SQRT_2_OVER_PI
    inner *= x
    t = np.tanh(inner, out=inner)
    y = t + 1
    y *= x
    y *= 0.5
    return y, (x, t)


def _gelu_tanh_backward(cache, dy):
    # y = x·(1 + t)/2 with t = tanh(u), u = √(2/π)·(x + 0.044715·x³):
    # dy/dx = (1 + t)/2 + x·(1 − t²)·u'/2, u' = √(2/π)·(1 + 3·0.044715·x²)
    x, t = cache
    du = x * x
    du *= 3 * 0.044715 * _SQRT_2_OVER_PI
    du += _SQRT_2_OVER_PI
    du *= x
    du *= 1 - t * t
    du += 1 + t
    du *= 0.5
    du *= dy
    return du


def gelu(approximate: str = "none") -> Layer:
    """y = x·Φ(x) = x·erfc(−x/√2)/2, Φ the standard normal CDF; dx = dy·(Φ(x) + x·φ(x)).

    ``approximate="tanh"`` uses x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))/2 instead, as
    PyTorch's ``GELU(approximate="tanh")``. The exact form computes erfc in float64, so
    its value and gradient keep their precision in the negative tail, where PyTorch's
    x·(1 + erf(x/√2))/2 loses digits (and is 0 below x ≈ −8.3).
    """
    if approximate == "none":
        return elementwise("gelu()", _gelu_erf_forward, _gelu_erf_backward)
    if approximate == "tanh":
        return elementwise("gelu(approximate='tanh')", _gelu_tanh_forward, _gelu_tanh_backward)
    raise ConfigError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")


def _sigmoid_forward(x):
    e = logistic_tail(x)
    return logistic_from_tail(x, e), e


def _sigmoid_backward(e, dy):
    # y·(1 − y) = e/(1 + e)² with e = e^−|x|: 1 − y would lose the tail where y ≈ 1
    r = e + 1
    dx = e / r
    dx /= r
    dx *= dy
    return dx


def sigmoid() -> Layer:
    """y = 1 / (1 + e^−x); dx = dy · y · (1 − y), computed as dy · e/(1 + e)² with
    e = e^−|x|, so both are within a few ulps for inputs of any size (the cache holds e)."""
    return elementwise("sigmoid()", _sigmoid_forward, _sigmoid_backward)


def _tanh_forward(x):
    y = np.tanh(x)
    return y, y


def _tanh_backward(y, dy):
    dx = y * y
    np.subtract(1, dx, out=dx)
    dx *= dy
    return dx


def tanh() -> Layer:
    """y = tanh(x); dx = dy · (1 − y²)."""
    return elementwise("tanh()", _tanh_forward, _tanh_backward)


def identity() -> Layer:
    """y = x; dx = dy."""
    return elementwise("identity()", lambda x: (x, None), lambda cache, dy: dy)


def softmax_last_axis(x: np.ndarray) -> np.ndarray:
    """exp(x) / Σ exp(x) over the last axis, shifted by the maximum so it never overflows."""
    y = x - x.max(axis=-1, keepdims=True)
    np.exp(y, out=y)
    y /= y.sum(axis=-1, keepdims=True)
    return y


def _softmax_forward(x):
    y = softmax_last_axis(x)
    return y, y


def _softmax_backward(y, dy):
    dx = dy - (dy * y).sum(axis=-1, keepdims=True)
    dx *= y
    return dx


def softmax() -> Layer:
    """y = softmax(x) over the last axis; dx = y · (dy − Σ dy·y).

    For classification, train on logits with ``losses.softmax_cross_entropy``
    instead: it is exact for large logits and cheaper.
    """
    return elementwise("softmax()", _softmax_forward, _softmax_backward)


def _step_forward(x):
    return (x > 0).astype(x.dtype), None


def step() -> Layer:
    """The Heaviside step y = [x > 0], as in the perceptron; its gradient is zero."""
    return elementwise("step()", _step_forward, lambda cache, dy: np.zeros_like(dy))
