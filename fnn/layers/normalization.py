"""Batch normalisation (per feature after dense, per channel after conv) and layer
normalisation (per sample)."""

from __future__ import annotations

from typing import Any

import attrs
import numpy as np

from fnn.core import Layer, array_field, call_text, check_float, check_input
from fnn.errors import ConfigError, DataError, ShapeError, TreeError
from fnn.validators import positive, unit_interval

__all__ = ["BatchNormParams", "BatchNormState", "batch_norm", "LayerNormParams", "layer_norm"]


@attrs.frozen
class BatchNormParams:
    """Parameters of ``batch_norm``: scale ``gamma`` (starts at 1) and shift ``beta``
    (starts at 0), each of shape (features,) or (channels,)."""

    gamma: np.ndarray = array_field()
    beta: np.ndarray = array_field()


@attrs.frozen
class BatchNormState:
    """State of ``batch_norm``: the running ``mean`` (starts at 0) and ``var`` (starts at 1)."""

    mean: np.ndarray = array_field()
    var: np.ndarray = array_field()


def _axes(x: np.ndarray) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """The axes statistics run over, and the shape a per-feature vector broadcasts as."""
    if x.ndim == 2:
        return (0,), (-1,)
    return (0, 2, 3), (-1, 1, 1)


def _dot_per_feature(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Σ a·b over every axis but the feature axis (1), in one pass and without a temporary."""
    subscripts = "nc,nc->c" if a.ndim == 2 else "nchw,nchw->c"
    return np.einsum(subscripts, a, b)


def batch_norm(*, momentum: float = 0.9, eps: float = 1e-5, sync: Any = None) -> Layer:
    """y = gamma · (x − μ) / √(σ² + eps) + beta, per feature of (N, F) inputs or per channel
    of (N, C, H, W) inputs (statistics over N, H and W, unlike the book's per activation).

    Training: μ and σ² are the batch mean and biased variance (the mean of (x − μ)²),
    and the new state is running = momentum · running + (1 − momentum) · batch, for the
    mean and for that same biased variance (as the book, Keras and Flax do).
    Evaluation: μ and σ² are the running statistics and the state is returned unchanged.
    Backward, with x̂ = (x − μ) / √(σ² + eps) and m samples per feature:
    dgamma = Σ dy·x̂, dbeta = Σ dy, and in training
    dx = gamma / √(σ² + eps) · (dy − dbeta / m − x̂ · dgamma / m)
    (in evaluation μ and σ² are constants: dx = gamma / √(σ² + eps) · dy).

    ``sync`` (a ``fnn.distributed.Communicator``, or anything whose
    ``sum(arrays) -> arrays`` sums a tuple of arrays over the processes of a
    data-parallel run) synchronises training: the sample count, Σx, Σ(x − μ)² and,
    backward, Σdy and Σdy·x̂ are summed over every process's shard, so μ, σ², the
    running statistics and dx are those of the global batch. ``dgamma`` and ``dbeta``
    stay this shard's, for the step to sum with the other gradients. Every process
    must then call ``forward`` and ``backward`` alike, an empty shard included.
    """
    momentum = unit_interval("batch_norm", "momentum", momentum)
    if sync is not None and not callable(getattr(sync, "sum", None)):
        raise ConfigError(f"batch_norm: sync must be a communicator (fnn.distributed.communicator()), "
                          f"got {type(sync).__name__}")
    summed = (lambda *arrays: arrays) if sync is None else (lambda *arrays: sync.sum(arrays))
    eps = positive("batch_norm", "eps", eps)
    name = call_text("batch_norm", momentum=None if momentum == 0.9 else momentum,
                     eps=None if eps == 1e-5 else eps)

    def init(key, in_shape, dtype=np.float32):
        in_shape = tuple(in_shape)
        if len(in_shape) not in (1, 3):
            raise ShapeError(f"{name}: expected an input shape (features,) or (channels, height, "
                             f"width), got {in_shape}")
        ones, zeros = np.ones(in_shape[0], dtype), np.zeros(in_shape[0], dtype)
        return BatchNormParams(ones, zeros), BatchNormState(zeros, ones), in_shape

    def forward(params, state, x, *, key=None, train=False):
        if not isinstance(params, BatchNormParams) or not isinstance(state, BatchNormState):
            raise TreeError(f"{name}: expected BatchNormParams and BatchNormState, got "
                            f"{type(params).__name__} and {type(state).__name__} "
                            f"(params or state made for another model?)")
        check_float(name, x, params.gamma.dtype)
        features = params.gamma.shape[0]
        if x.ndim not in (2, 4) or x.shape[1] != features:
            raise ShapeError(f"{name}: expected input of shape (batch, {features}) or (batch, "
                             f"{features}, height, width), got {x.shape}")
        if any(a.shape != (features,) for a in (params.beta, state.mean, state.var)):
            raise ShapeError(f"{name}: gamma, beta, mean and var must all have shape "
                             f"({features},), got {params.beta.shape}, {state.mean.shape} and "
                             f"{state.var.shape} for beta, mean and var")
        axes, column = _axes(x)
        if train:
            # sum / m is x.mean's bytes; summed, the statistics are the global batch's.
            count, total = summed(np.array(x.size // features), x.sum(axis=axes))
            m = int(count)
            if m <= 1:
                raise DataError(f"{name}: training needs more than one value per feature to "
                                f"normalise by, got input of shape {x.shape}"
                                + (f" ({m} over every process)" if sync is not None else "")
                                + " (a last batch of one sample? pass drop_last=True to fit or "
                                  "batches)")
            mean = total / m
            centred = x - mean.reshape(column)
            var = summed(_dot_per_feature(centred, centred))[0] / m
            new_state = BatchNormState(momentum * state.mean + (1 - momentum) * mean,
                                       momentum * state.var + (1 - momentum) * var)
        else:
            centred = x - state.mean.reshape(column)
            var, new_state, m = state.var, state, 0
        inv_std = 1 / np.sqrt(var + eps)
        # y = centred · (gamma / √(σ² + eps)) + beta: x̂ itself is never stored, backward
        # folds its 1 / √(σ² + eps) into per-feature factors.
        y = centred * (params.gamma * inv_std).reshape(column)
        y += params.beta.reshape(column)
        return y, new_state, (centred, inv_std, m)

    def backward(params, cache, dy):
        centred, inv_std, m = cache  # m: values per feature in the (global) batch; 0 in evaluation
        axes, column = _axes(dy)
        dbeta = dy.sum(axis=axes)
        dgamma = _dot_per_feature(dy, centred) * inv_std
        grads = BatchNormParams(dgamma, dbeta)
        scale = (params.gamma * inv_std).reshape(column)
        if not m:
            return dy * scale, grads
        dbeta, dgamma = summed(dbeta, dgamma)
        dx = centred * (dgamma * inv_std / -m).reshape(column)
        dx += dy
        dx -= (dbeta / m).reshape(column)
        dx *= scale
        return dx, grads

    return Layer(name, init, forward, backward, uses_key=False)


@attrs.frozen
class LayerNormParams:
    """Parameters of ``layer_norm``: ``gain`` (starts at 1) and ``bias`` (starts at 0),
    each of the input's shape without the batch axis."""

    gain: np.ndarray = array_field()
    bias: np.ndarray = array_field()


def layer_norm(eps: float = 1e-5) -> Layer:
    """y = gain · (x − μ) / √(σ² + eps) + bias, with μ and σ² the mean and biased variance
    of each sample over all its non-batch axes, and gain and bias of the input's shape
    (as PyTorch's ``LayerNorm(in_shape)``). The same in training and evaluation; no state.

    Backward, with x̂ = (x − μ) / √(σ² + eps), g = dy·gain and means over a sample's axes:
    dgain = Σ_batch dy·x̂, dbias = Σ_batch dy, dx = (g − mean(g) − x̂·mean(g·x̂)) / √(σ² + eps).
    """
    eps = positive("layer_norm", "eps", eps)
    name = call_text("layer_norm", *([] if eps == 1e-5 else [eps]))

    def init(key, in_shape, dtype=np.float32):
        in_shape = tuple(in_shape)
        if not in_shape:
            raise ShapeError(f"{name}: expected an input shape of at least one axis, got ()")
        return LayerNormParams(np.ones(in_shape, dtype), np.zeros(in_shape, dtype)), None, in_shape

    def forward(params, state, x, *, key=None, train=False):
        if not isinstance(params, LayerNormParams):
            raise TreeError(f"{name}: expected LayerNormParams, got {type(params).__name__} "
                            f"(params made for another model?)")
        check_input(name, x, params.gain.shape, params.gain.dtype)
        axes = tuple(range(1, x.ndim))
        centred = x - x.mean(axis=axes, keepdims=True)
        inv_std = np.square(centred).mean(axis=axes, keepdims=True)
        inv_std += eps
        np.sqrt(inv_std, out=inv_std)
        np.divide(1, inv_std, out=inv_std)
        x_hat = centred
        x_hat *= inv_std
        y = x_hat * params.gain
        y += params.bias
        return y, state, (x_hat, inv_std)

    def backward(params, cache, dy):
        x_hat, inv_std = cache
        axes = tuple(range(1, dy.ndim))
        grads = LayerNormParams((dy * x_hat).sum(axis=0), dy.sum(axis=0))
        g = dy * params.gain
        dx = x_hat * -(g * x_hat).mean(axis=axes, keepdims=True)
        dx += g
        dx -= g.mean(axis=axes, keepdims=True)
        dx *= inv_std
        return dx, grads

    return Layer(name, init, forward, backward, uses_key=False)
