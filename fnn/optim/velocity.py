"""Momentum's velocity as a block: ``trace``."""

from __future__ import annotations

from typing import Any

import attrs
import numpy as np

from fnn import tree
from fnn.core import freeze, readonly
from fnn.optim.transform import LeafStep, Transform, check_state, leafwise
from fnn.validators import fraction

__all__ = ["TraceState", "trace", "zeros_like_tree"]


@attrs.frozen
class TraceState:
    """State of ``trace``: the velocity, shaped like the params, started at zero."""

    trace: Any = attrs.field(converter=freeze)


def zeros_like_tree(params: Any) -> Any:
    """A read-only zero array for every leaf of ``params``."""
    return tree.map(lambda p: readonly(np.zeros_like(p)), params)


def trace(decay: float = 0.9, nesterov: bool = False, *, name: str = "trace") -> Transform:
    """Momentum's velocity: v ← decay·v + u; updates = v, or decay·v + u with ``nesterov``.

    Put after ``scale_by_learning_rate`` this is the book's momentum,
    v ← μ·v − lr·g (the learning rate scales the gradient before it enters
    the velocity; optax traces first and scales after, which differs under a
    schedule). The velocity starts at zero.
    """
    decay = fraction(name, "decay", decay)

    def leaf(u, v):
        v = v * decay
        v += u
        return v, v

    def nesterov_leaf(u, v):
        v = v * decay
        v += u
        w = v * decay
        w += u
        return w, v

    def prepare(grads, state, params):
        check_state(name, state, TraceState)
        return LeafStep(nesterov_leaf if nesterov else leaf, (state.trace,), TraceState,
                        fresh=bool(nesterov))

    return leafwise(name, lambda params: TraceState(zeros_like_tree(params)), prepare)

