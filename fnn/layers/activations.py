"""Elementwise activations and softmax: layers without parameters or state.

Each backward reads only what its forward cached (the output where that is
enough, so the cache shares the array the next layer keeps anyway) and never
writes into ``dy``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from fnn.core import Layer, check_float
from fnn.numerics import logistic
from fnn.validators import unit_interval

__all__ = ["relu", "leaky_relu", "sigmoid", "tanh", "identity", "softmax", "step"]


def _activation(name: str, fwd: Callable[[np.ndarray], tuple[np.ndarray, Any]],
                bwd: Callable[[Any, np.ndarray], np.ndarray]) -> Layer:
    """A shape-preserving layer from ``fwd(x) -> (y, cache)`` and ``bwd(cache, dy) -> dx``."""

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
    return _activation("relu()", _relu_forward, _relu_backward)


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

    return _activation(f"leaky_relu({alpha})", fwd, bwd)


def _sigmoid_forward(x):
    y = logistic(x)
    return y, y


def _sigmoid_backward(y, dy):
    dx = 1 - y
    dx *= y
    dx *= dy
    return dx


def sigmoid() -> Layer:
    """y = 1 / (1 + e^−x); dx = dy · y · (1 − y)."""
    return _activation("sigmoid()", _sigmoid_forward, _sigmoid_backward)


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
    return _activation("tanh()", _tanh_forward, _tanh_backward)


def identity() -> Layer:
    """y = x; dx = dy."""
    return _activation("identity()", lambda x: (x, None), lambda cache, dy: dy)


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
    return _activation("softmax()", _softmax_forward, _softmax_backward)


def _step_forward(x):
    return (x > 0).astype(x.dtype), None


def step() -> Layer:
    """The Heaviside step y = [x > 0], as in the perceptron; its gradient is zero."""
    return _activation("step()", _step_forward, lambda cache, dy: np.zeros_like(dy))
