"""The train state and the pure functions that advance it."""

from __future__ import annotations

from typing import Any, Callable

import attrs
import numpy as np

from fnn import random
from fnn.core import Layer, Loss, freeze, param_grads
from fnn.errors import DataError, NonFiniteError, ShapeError
from fnn.optim.transform import Transform, apply_updates

__all__ = ["TrainState", "StepMetrics", "init_train_state", "value_and_grad",
           "make_train_step", "predict"]


@attrs.frozen
class TrainState:
    """Everything a training run carries from one step to the next.

    ``params`` and ``state`` are the model's, ``opt_state`` the optimizer's;
    ``key`` seeds the next step's randomness and ``step`` counts the steps taken.
    """

    params: Any = attrs.field(converter=freeze)
    state: Any = attrs.field(converter=freeze)
    opt_state: Any = attrs.field(converter=freeze)
    key: random.Key
    step: int = 0


@attrs.frozen
class StepMetrics:
    """What a train step reports: the loss of the batch, before the update."""

    loss: float


def init_train_state(model: Layer, optimizer: Transform, key: random.Key,
                     in_shape: tuple[int, ...], dtype: np.dtype = np.float32) -> TrainState:
    """Initialise the model for inputs of ``in_shape`` (no batch axis) and the optimizer.

    ``key`` is split: one part makes the parameters, the other is the state's key.
    """
    init_key, train_key = random.split(key)
    params, state, _ = model.init(init_key, tuple(in_shape), dtype)
    return TrainState(params, state, optimizer.init(params), train_key, 0)


def value_and_grad(model: Layer, loss: Loss) -> Callable:
    """``f(params, state, x, t, *, key=None, train=True) -> (loss_value, grads, new_state)``.

    One forward pass, the loss, and one backward pass; ``grads`` is shaped like ``params``.
    """

    def f(params, state, x, t, *, key=None, train=True):
        y, new_state, cache = model.forward(params, state, x, key=key, train=train)
        value, loss_cache = loss.forward(y, t)
        grads = param_grads(model, params, cache, loss.backward(loss_cache))
        return value, grads, new_state

    return f


def check_batch(x: Any, t: Any) -> None:
    """x and t are arrays with the same, non-zero number of samples."""
    nx, nt = np.shape(x)[:1], np.shape(t)[:1]
    if nx != nt:
        raise ShapeError(f"x and t must hold the same number of samples, got x of shape "
                         f"{np.shape(x)} and t of shape {np.shape(t)}")
    if nx in ((), (0,)):
        raise DataError(f"expected a non-empty batch, got x of shape {np.shape(x)}")


def make_train_step(model: Layer, loss: Loss, optimizer: Transform) -> Callable:
    """``step(ts, x, t) -> (new_ts, metrics)``: one pure gradient step on a batch.

    The step splits ``ts.key`` into the next state's key and a key for this
    step's randomness (dropout), so a run depends on its seed alone.
    A loss that is NaN or infinite raises ``NonFiniteError`` naming the step;
    ``ts`` is never half-updated.
    """
    grad_fn = value_and_grad(model, loss)

    def step(ts: TrainState, x: np.ndarray, t: np.ndarray) -> tuple[TrainState, StepMetrics]:
        check_batch(x, t)
        next_key, step_key = random.split(ts.key)
        value, grads, new_state = grad_fn(ts.params, ts.state, x, t, key=step_key, train=True)
        if not np.isfinite(value):
            raise NonFiniteError(f"train step {ts.step}: the loss is {value}; the state before "
                                 f"this step is unchanged (try a smaller learning rate)")
        updates, opt_state = optimizer.update(grads, ts.opt_state, ts.params)
        params = apply_updates(ts.params, updates)
        return TrainState(params, new_state, opt_state, next_key, ts.step + 1), StepMetrics(value)

    return step


def predict(model: Layer, ts: TrainState, x: np.ndarray, *,
            batch_size: int | None = None) -> np.ndarray:
    """The model's outputs on ``x`` in evaluation mode (``train=False``).

    With ``batch_size``, ``x`` is run in slices of that many samples to bound memory.
    """
    if batch_size is None:
        return model.forward(ts.params, ts.state, x, train=False)[0]
    if batch_size < 1:
        raise ValueError(f"predict: batch_size must be positive, got {batch_size}")
    return np.concatenate([model.forward(ts.params, ts.state, x[i:i + batch_size], train=False)[0]
                           for i in range(0, max(len(x), 1), batch_size)])
