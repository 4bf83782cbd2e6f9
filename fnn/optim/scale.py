"""Scaling by the learning rate: the one block that owns the count a schedule reads."""

from __future__ import annotations

import attrs

from fnn.optim.transform import (
    EmptyState,
    LeafStep,
    Schedule,
    Transform,
    check_learning_rate,
    check_state,
    leafwise,
    learning_rate,
)

__all__ = ["ScaleByScheduleState", "scale_by_learning_rate"]


@attrs.frozen
class ScaleByScheduleState:
    """State of ``scale_by_learning_rate`` with a schedule: the updates made so far."""

    count: int = 0


def scale_by_learning_rate(lr: float | Schedule, *, name: str = "scale_by_learning_rate"
                           ) -> Transform:
    """updates = −lr·u, with ``lr`` a number or a schedule ``count -> lr``.

    The minus sign is here because fnn adds updates to the params. With a
    schedule the state counts the updates (``ScaleByScheduleState``), so the
    first update sees count 0; with a number it is an ``EmptyState``, as in
    optax. ``name`` is what error messages call it.
    """
    check_learning_rate(name, lr)
    if not callable(lr):
        scale = -float(lr)

        def prepare_constant(grads, state, params):
            check_state(name, state, EmptyState)
            return LeafStep(None, (), lambda: state, scale=scale)

        return leafwise(name, lambda params: EmptyState(), prepare_constant)

    def prepare(grads, state, params):
        check_state(name, state, ScaleByScheduleState)
        return LeafStep(None, (), lambda: ScaleByScheduleState(state.count + 1),
                        scale=-learning_rate(lr, state.count))

    return leafwise(name, lambda params: ScaleByScheduleState(0), prepare)
