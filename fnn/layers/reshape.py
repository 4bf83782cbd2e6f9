"""Layers that only change the shape of their input."""

from __future__ import annotations

import math

import numpy as np

from fnn.core import Layer, check_float

__all__ = ["flatten"]


def flatten() -> Layer:
    """(batch, *shape) → (batch, prod(shape)); backward reshapes dy back. Views, no copies."""

    def init(key, in_shape, dtype=np.float32):
        return None, None, (math.prod(in_shape),)

    def forward(params, state, x, *, key=None, train=False):
        check_float("flatten()", x)
        return x.reshape(x.shape[0], math.prod(x.shape[1:])), state, x.shape

    def backward(params, in_shape, dy):
        return dy.reshape(in_shape), None

    return Layer("flatten()", init, forward, backward, uses_key=False)
