"""Gradient descent: plain, with momentum, and with Nesterov momentum."""

from __future__ import annotations

from typing import Any

import attrs
import numpy as np

from fnn import tree
from fnn.core import freeze, readonly
from fnn.optim.transform import (
    LeafUpdate,
    Schedule,
    Transform,
    check_learning_rate,
    check_state,
    leafwise,
    learning_rate,
)
from fnn.validators import fraction

__all__ = ["SgdState", "MomentumState", "sgd", "momentum", "nesterov"]


@attrs.frozen
class SgdState:
    """State of ``sgd``: only the number of updates made so far."""

    step: int = 0


@attrs.frozen
class MomentumState:
    """State of ``momentum`` and ``nesterov``: the step count and the velocity, shaped
    like the params."""

    step: int
    velocity: Any = attrs.field(converter=freeze)


def zeros_like_tree(params: Any) -> Any:
    """A read-only zero array for every leaf of ``params``."""
    return tree.map(lambda p: readonly(np.zeros_like(p)), params)


def _zero_velocity(params: Any) -> MomentumState:
    """The init of ``momentum`` and ``nesterov``."""
    return MomentumState(0, zeros_like_tree(params))


def sgd(lr: float | Schedule = 0.01) -> Transform:
    """Gradient descent: updates = −lr·g (W ← W − lr·dE/dW)."""
    check_learning_rate("sgd", lr)

    def init(params):
        return SgdState(0)

    def prepare(grads, state, params):
        check_state("sgd", state, SgdState)
        scale = -learning_rate(lr, state.step)
        return LeafUpdate(lambda g: (g * scale,), (), lambda: SgdState(state.step + 1),
                          fresh_update=True)

    return leafwise("sgd", init, prepare)


def momentum(lr: float | Schedule = 0.01, momentum: float = 0.9) -> Transform:
    """Momentum as in the book: v ← momentum·v − lr·g; updates = v (so p ← p + v).

    The velocity starts at zero.
    """
    check_learning_rate("momentum", lr)
    momentum = fraction("momentum", "momentum", momentum)

    def prepare(grads, state, params):
        check_state("momentum", state, MomentumState)
        rate = learning_rate(lr, state.step)

        def leaf(g, v):
            v = v * momentum
            v -= g * rate
            return v, v

        return LeafUpdate(leaf, (state.velocity,),
                          lambda velocity: MomentumState(state.step + 1, velocity))

    return leafwise("momentum", _zero_velocity, prepare)


def nesterov(lr: float | Schedule = 0.01, momentum: float = 0.9) -> Transform:
    """Nesterov momentum (Sutskever et al.), written with the book's velocity::

        v ← momentum·v − lr·g
        updates = momentum·v − lr·g          (with the new v)

    that is p ← p + momentum²·v_old − (1 + momentum)·lr·g: PyTorch's and optax's
    ``nesterov=True`` (equal to them for a constant lr; they scale by lr after
    the velocity, so a schedule acts slightly differently). The book's code
    adds momentum²·v with the velocity *already updated*, which weighs the
    history by momentum³ and the gradient by (1 + momentum + momentum²)·lr:
    a different update, not this one. The velocity starts at zero.
    """
    check_learning_rate("nesterov", lr)
    momentum = fraction("nesterov", "momentum", momentum)

    def prepare(grads, state, params):
        check_state("nesterov", state, MomentumState)
        rate = learning_rate(lr, state.step)

        def leaf(g, v):
            step = g * rate
            v = v * momentum
            v -= step
            u = v * momentum
            u -= step
            return u, v

        return LeafUpdate(leaf, (state.velocity,),
                          lambda velocity: MomentumState(state.step + 1, velocity),
                          fresh_update=True)

    return leafwise("nesterov", _zero_velocity, prepare)
