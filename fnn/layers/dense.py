"""The fully connected (affine) layer: y = x·W + b."""

from __future__ import annotations

import attrs
import numpy as np

from fnn import random
from fnn.core import Layer, array_field, call_text, check_input, check_params
from fnn.errors import ShapeError
from fnn.initializers import Initializer, glorot_uniform, initialize, zeros
from fnn.validators import integer

__all__ = ["DenseParams", "dense"]


@attrs.frozen
class DenseParams:
    """Parameters of ``dense``: ``w`` of shape (in, out), ``b`` of shape (out,) or None."""

    w: np.ndarray = array_field()
    b: np.ndarray | None = array_field(default=None)


def weight_grad(x: np.ndarray, dy: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """xᵀ·dy (into ``out`` when given). For a batch of one it is an outer product,
    which numpy's matmul runs through a slow generic loop (7x slower than its batch
    of 100 on a 784x500 weight); np.dot sends it to BLAS. Both give the same bytes:
    each element is one product."""
    return (np.dot if len(x) == 1 else np.matmul)(x.T, dy, out=out)


def dense(units: int, *, w_init: Initializer | None = None, b_init: Initializer = zeros,
          use_bias: bool = True) -> Layer:
    """Affine layer on (batch, in) inputs: y = x·W + b, of shape (batch, units).

    Backward: dx = dy·Wᵀ, dW = xᵀ·dy, db = Σ_batch dy. ``w_init`` defaults to
    ``glorot_uniform()``; the book's 0.01·N(0, 1) is ``initializers.normal(0.01)``.
    """
    units = integer("dense", "units", units)
    name = call_text("dense", units, use_bias=None if use_bias else False)
    w_init = glorot_uniform() if w_init is None else w_init

    def init(key, in_shape, dtype=np.float32):
        in_shape = tuple(in_shape)
        if len(in_shape) != 1:
            raise ShapeError(f"{name}: expected a 1-D input shape (features,), got {in_shape}; "
                             f"put flatten() before dense")
        dtype = np.dtype(dtype)
        k_w, k_b = random.split(key)
        w = initialize(f"{name} w_init", w_init, k_w, (in_shape[0], units), dtype)
        b = initialize(f"{name} b_init", b_init, k_b, (units,), dtype) if use_bias else None
        return DenseParams(w, b), None, (units,)

    def forward(params, state, x, *, key=None, train=False):
        check_params(name, params, DenseParams, (None, units), (units,))
        check_input(name, x, params.w.shape[:1], params.w.dtype)
        y = x @ params.w
        if params.b is not None:
            y += params.b
        return y, state, x

    def param_grads(params, x, dy):
        return DenseParams(weight_grad(x, dy), dy.sum(axis=0) if params.b is not None else None)

    def backward(params, x, dy):
        return dy @ params.w.T, param_grads(params, x, dy)

    return Layer(name, init, forward, backward, param_grads, uses_key=False)
