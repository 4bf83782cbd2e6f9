"""Gradient transformations, in the shape of optax's.

A ``Transform`` is a pair of pure functions::

    init(params) -> opt_state
    update(grads, opt_state, params=None) -> (updates, new_opt_state)

``apply_updates(params, updates)`` adds the updates; ``chain`` composes.
"""

from __future__ import annotations

from typing import Any, Callable

import attrs
import numpy as np

from fnn import tree
from fnn.core import readonly
from fnn.errors import TreeError

__all__ = ["Transform", "apply_updates", "chain", "learning_rate", "check_learning_rate",
           "map_matching"]

Schedule = Callable[[int], float]


@attrs.frozen
class Transform:
    """``init(params) -> state`` and ``update(grads, state, params=None) -> (updates, state)``."""

    init: Callable
    update: Callable


def apply_updates(params: Any, updates: Any) -> Any:
    """params + updates, leaf by leaf, as new read-only arrays."""
    return map_matching("apply_updates", lambda p, u: readonly(p + u), params, updates)


def map_matching(where: str, f: Callable, first: Any, *rest: Any) -> Any:
    """``tree.map`` whose structure errors say which transform met them."""
    try:
        return tree.map(f, first, *rest)
    except TreeError as exc:
        raise TreeError(f"{where}: the trees do not match (was the state made by init "
                        f"for these params?): {exc}") from exc


def learning_rate(lr: float | Schedule, step: int) -> float:
    """``lr`` itself, or the schedule ``lr`` evaluated at ``step``, as a Python float."""
    return float(lr(step)) if callable(lr) else lr


def check_learning_rate(where: str, lr: float | Schedule) -> None:
    """A learning rate is a schedule or a positive, finite number."""
    if callable(lr):
        return
    if isinstance(lr, bool) or not isinstance(lr, (int, float, np.floating, np.integer)) \
            or not np.isfinite(lr) or lr <= 0:
        raise ValueError(f"{where}: lr must be a positive number or a schedule, got {lr!r}")


def chain(*transforms: Transform) -> Transform:
    """Apply ``transforms`` in order, each to the updates of the one before.

    The state is the tuple of the transforms' states.
    """

    def init(params):
        return tuple(t.init(params) for t in transforms)

    def update(grads, state, params=None):
        if not isinstance(state, tuple) or len(state) != len(transforms):
            raise TreeError(f"chain: expected a state tuple of {len(transforms)} (one per "
                            f"transform), got {type(state).__name__}")
        new_states = []
        for t, s in zip(transforms, state):
            grads, s = t.update(grads, s, params)
            new_states.append(s)
        return grads, tuple(new_states)

    return Transform(init, update)
