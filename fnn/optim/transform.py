"""Gradient transformations, in the shape of optax's.

A ``Transform`` is a pair of pure functions::

    init(params) -> opt_state
    update(grads, opt_state, params=None) -> (updates, new_opt_state)

``apply_updates(params, updates)`` adds the updates; ``chain`` composes.
"""

from __future__ import annotations

import math
from typing import Any, Callable

import attrs
import numpy as np

from fnn import settings, tree
from fnn.core import readonly
from fnn.errors import DTypeError, ShapeError, TreeError

__all__ = ["Transform", "apply_updates", "chain", "learning_rate", "check_learning_rate",
           "map_matching", "map_unzip", "check_state"]

Schedule = Callable[[int], float]


@attrs.frozen
class Transform:
    """``init(params) -> state`` and ``update(grads, state, params=None) -> (updates, state)``."""

    init: Callable
    update: Callable


def apply_updates(params: Any, updates: Any) -> Any:
    """params + updates, leaf by leaf, as new read-only arrays of the params' dtypes."""

    def add(p, u):
        new = p + u
        if new.dtype != np.result_type(p):
            raise DTypeError(f"apply_updates: a {np.result_type(u)} update would turn a "
                             f"{np.result_type(p)} parameter into {new.dtype}")
        return readonly(new)

    return map_matching("apply_updates", add, params, updates)


def map_matching(where: str, f: Callable, first: Any, *rest: Any) -> Any:
    """``tree.map`` over trees whose structures and leaf shapes must agree; errors say
    which transform met them."""

    def same_shapes(leaf, *others):
        shape = getattr(leaf, "shape", ())  # this runs for every leaf of every update
        for other in others:
            if getattr(other, "shape", ()) != shape:
                raise ShapeError(f"{where}: leaf shapes differ, {shape} and {np.shape(other)} "
                                 f"(was the state made by init for these params?)")
        return f(leaf, *others)

    try:
        return tree.map(same_shapes, first, *rest)
    except TreeError as exc:
        raise TreeError(f"{where}: the trees do not match (was the state made by init "
                        f"for these params?): {exc}") from exc


def check_state(where: str, state: Any, record: type) -> None:
    """Raise ``TreeError`` unless ``state`` is a ``record`` (the state this transform's init makes)."""
    if not isinstance(state, record):
        raise TreeError(f"{where}: expected a {record.__name__} (made by this optimizer's "
                        f"init), got {type(state).__name__}")


def map_unzip(where: str, n: int, f: Callable, first: Any, *rest: Any) -> tuple:
    """``map_matching`` for an ``f`` that returns a tuple of ``n`` outputs per leaf.

    Returns ``n`` trees shaped like ``first``, the i-th holding every leaf's
    i-th output. ``f`` runs once per leaf, so an optimizer computes its new
    moments and its update in one pass; the extra trees only re-thread
    structure. The i-th tree is rebuilt by walking ``first`` again, which
    visits its leaves in the same order as the pass that called ``f``.
    """
    outputs = []

    def first_output(*leaves):
        outputs.append(f(*leaves))
        return outputs[-1][0]

    trees = [map_matching(where, first_output, first, *rest)]
    for i in range(1, n):
        per_leaf = iter(outputs)
        trees.append(tree.map(lambda _: next(per_leaf)[i], first))
    return tuple(trees)


def learning_rate(lr: float | Schedule, step: int) -> float:
    """``lr`` itself, or the schedule ``lr`` evaluated at ``step``, as a Python float.

    A Python float, because numpy promotes a float32 array times a float64
    *numpy* scalar to float64, but keeps it float32 times a Python float.
    """
    return float(lr(step) if callable(lr) else lr)


def check_learning_rate(where: str, lr: float | Schedule) -> None:
    """A learning rate is a schedule or a positive, finite number."""
    if not callable(lr):
        settings.number(where, "lr", lr, lambda x: 0.0 < x < math.inf,
                        "a positive number or a schedule")


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
