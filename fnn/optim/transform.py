"""Gradient transformations, in the shape of optax's.

A ``Transform`` is a pair of pure functions::

    init(params) -> opt_state
    update(grads, opt_state, params=None) -> (updates, new_opt_state)

``apply_updates(params, updates)`` adds the updates; ``chain`` composes.
``update_and_apply`` does both at once, in one pass over the parameter tree
for the optimizers that offer it (every one built with ``leafwise``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, NamedTuple

import attrs
import numpy as np

from fnn import tree, validators
from fnn.core import readonly, sealed
from fnn.errors import DTypeError, ShapeError, TreeError

__all__ = ["Transform", "apply_updates", "update_and_apply", "chain", "LeafUpdate", "leafwise",
           "learning_rate", "check_learning_rate", "map_matching", "map_unzip", "check_state"]

Schedule = Callable[[int], float]


@attrs.frozen
class Transform:
    """``init(params) -> state`` and ``update(grads, state, params=None) -> (updates, state)``.

    ``apply`` is optional: ``apply(grads, state, params) -> (new_params, new_state)``,
    byte for byte ``update`` followed by ``apply_updates``, in one pass over the
    tree and without keeping the updates. Call it through ``update_and_apply``,
    which uses it only with the ``update`` it was made for (``apply.update is
    update``, as ``leafwise`` and ``chain`` make them): a transform whose ``update``
    was replaced, with ``attrs.evolve`` say, runs that ``update`` and ``apply_updates``.
    """

    init: Callable
    update: Callable
    apply: Callable | None = None


def apply_updates(params: Any, updates: Any) -> Any:
    """params + updates, leaf by leaf, as new read-only arrays of the params' dtypes."""
    return map_matching("apply_updates", add_update, params, updates)


def add_update(p: Any, u: Any, scratch: bool = False) -> np.ndarray:
    """p + u as a read-only array of p's dtype, written into ``u`` when it is ``scratch``
    (a fresh array nobody else holds)."""
    if scratch and type(u) is np.ndarray and type(p) is np.ndarray and u.dtype == p.dtype:
        return sealed(np.add(p, u, out=u))
    new = np.add(p, u)  # a numpy scalar, never a Python one, for scalar leaves
    if new.dtype != np.result_type(p):
        raise DTypeError(f"apply_updates: a {np.result_type(u)} update would turn a "
                         f"{np.result_type(p)} parameter into {new.dtype}")
    return sealed(new)


def update_and_apply(transform: Transform, grads: Any, state: Any, params: Any) -> tuple[Any, Any]:
    """``(apply_updates(params, updates), new_state)`` for ``updates, new_state =
    transform.update(grads, state, params)``; in one pass where the transform offers
    ``apply`` (see ``Transform``), with the same bytes."""
    apply = getattr(transform, "apply", None)  # optax-style (init, update) pairs have none
    if apply is not None and getattr(apply, "update", None) is transform.update:
        return apply(grads, state, params)
    updates, state = transform.update(grads, state, params)
    return apply_updates(params, updates), state


class LeafUpdate(NamedTuple):
    """One step of a per-leaf transform, as ``prepare`` in ``leafwise`` returns it.

    ``leaf(g, *state_leaves[, p]) -> (update, *new_state_leaves)``; ``states`` are
    the state's trees, matched leaf by leaf with the gradients; ``make_state``
    builds the new state from the new trees; ``with_params`` passes each param
    leaf last. ``fresh_update`` promises that every update is a new array that
    nothing else holds (not a state leaf, not an input), so that ``apply`` may
    write the new params into it instead of allocating.
    """

    leaf: Callable
    states: tuple
    make_state: Callable
    with_params: bool = False
    fresh_update: bool = False


def leafwise(where: str, init: Callable, prepare: Callable) -> Transform:
    """A ``Transform`` that works leaf by leaf, with ``update`` and the fused ``apply``.

    ``prepare(grads, state, params) -> LeafUpdate`` checks the state and reads
    the step's scalars (learning rate, corrections); the leaf function then
    runs once per leaf, in one pass over the trees.
    """

    def update(grads, state, params=None):
        step = prepare(grads, state, params)

        def frozen(*leaves):
            u, *new = step.leaf(*leaves)
            u_frozen = readonly(u)
            return (u_frozen, *[u_frozen if s is u else readonly(s) for s in new])

        trees = (grads, *step.states) + ((params,) if step.with_params else ())
        updates, *states = map_unzip(where, 1 + len(step.states), frozen, *trees)
        return updates, step.make_state(*states)

    def apply(grads, state, params):
        step = prepare(grads, state, params)

        leaf, with_params, fresh = step.leaf, step.with_params, step.fresh_update

        def applied(g, *rest):
            u, *new = leaf(g, *rest) if with_params else leaf(g, *rest[:-1])
            return (add_update(rest[-1], u, fresh), *[readonly(s) for s in new])

        new_params, *states = map_unzip(where, 1 + len(step.states), applied,
                                        grads, *step.states, params)
        return new_params, step.make_state(*states)

    apply.update = update  # type: ignore[attr-defined]  # functions take attributes; Callable does not say so
    return Transform(init, update, apply)


def map_matching(where: str, f: Callable, first: Any, *rest: Any) -> Any:
    """``tree.map`` over trees whose structures and leaf shapes must agree; errors say
    which transform met them."""
    structure, columns = _zip_leaves(where, first, rest)
    return tree.unflatten(structure, [f(*leaves) for leaves in columns])


def _zip_leaves(where: str, first: Any, rest: tuple) -> tuple[Any, list[tuple]]:
    """``first``'s structure and, per leaf, the tuple of that leaf in every tree;
    ``TreeError`` or ``ShapeError`` unless the trees and their leaf shapes agree."""
    leaves, structure = tree.flatten(first)
    others = [tree.flatten(t) for t in rest]
    if any(other_structure != structure for _, other_structure in others):
        try:  # tree.map names the first path where they differ
            tree.map(lambda *_: None, first, *rest)
        except TreeError as exc:
            raise TreeError(f"{where}: the trees do not match (was the state made by init "
                            f"for these params?): {exc}") from exc
    shapes = [getattr(leaf, "shape", ()) for leaf in leaves]  # Python scalars: ()
    for other_leaves, _ in others:
        other_shapes = [getattr(leaf, "shape", ()) for leaf in other_leaves]
        if other_shapes != shapes:
            shape, other = next(pair for pair in zip(shapes, other_shapes, strict=True) if pair[0] != pair[1])
            raise ShapeError(f"{where}: leaf shapes differ, {shape} and {other} "
                             f"(was the state made by init for these params?)")
    return structure, list(zip(leaves, *(other_leaves for other_leaves, _ in others), strict=True))


def check_state(where: str, state: Any, record: type) -> None:
    """Raise ``TreeError`` unless ``state`` is a ``record`` (the state this transform's init makes)."""
    if not isinstance(state, record):
        raise TreeError(f"{where}: expected a {record.__name__} (made by this optimizer's "
                        f"init), got {type(state).__name__}")


def map_unzip(where: str, n: int, f: Callable, first: Any, *rest: Any) -> tuple:
    """``map_matching`` for an ``f`` that returns a tuple of ``n`` outputs per leaf.

    Returns ``n`` trees shaped like ``first``, the i-th holding every leaf's
    i-th output. ``f`` runs once per leaf, so an optimizer computes its new
    moments and its update in one pass.
    """
    structure, columns = _zip_leaves(where, first, rest)
    outputs = [f(*leaves) for leaves in columns]
    return tuple(tree.unflatten(structure, [out[i] for out in outputs]) for i in range(n))


def learning_rate(lr: float | Schedule, step: int) -> float:
    """``lr`` itself, or the schedule ``lr`` evaluated at ``step``, as a Python float.

    A Python float, because numpy promotes a float32 array times a float64
    *numpy* scalar to float64, but keeps it float32 times a Python float.
    """
    return float(lr(step) if callable(lr) else lr)


def check_learning_rate(where: str, lr: float | Schedule) -> None:
    """A learning rate is a schedule or a positive, finite number."""
    if not callable(lr):
        validators.number(where, "lr", lr, lambda x: 0.0 < x < math.inf,
                        "a positive number or a schedule")


def chain(*transforms: Transform) -> Transform:
    """Apply ``transforms`` in order, each to the updates of the one before.

    The state is the tuple of the transforms' states. ``apply`` runs the last
    transform's own ``apply`` (or its ``update`` and ``apply_updates``).
    """

    def init(params):
        return tuple(t.init(params) for t in transforms)

    def through(grads, state, params, count):
        """The first ``count`` transforms' updates and new states."""
        if not isinstance(state, tuple) or len(state) != len(transforms):
            raise TreeError(f"chain: expected a state tuple of {len(transforms)} (one per "
                            f"transform), got {type(state).__name__}")
        new_states = []
        for t, s in zip(transforms[:count], state, strict=False):
            grads, s = t.update(grads, s, params)
            new_states.append(s)
        return grads, new_states

    def update(grads, state, params=None):
        grads, new_states = through(grads, state, params, len(transforms))
        return grads, tuple(new_states)

    def apply(grads, state, params):
        grads, new_states = through(grads, state, params, len(transforms) - 1)
        params, last = update_and_apply(transforms[-1], grads, state[-1], params)
        return params, (*new_states, last)

    apply.update = update  # type: ignore[attr-defined]  # functions take attributes; Callable does not say so
    return Transform(init, update, apply if transforms else None)
