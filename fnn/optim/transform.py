"""Gradient transformations, in the shape of optax's, and how per-leaf ones fuse.

A ``Transform`` is a pair of pure functions::

    init(params) -> opt_state
    update(grads, opt_state, params=None) -> (updates, new_opt_state)

``apply_updates(params, updates)`` adds the updates; ``chain`` composes.

Most transforms work leaf by leaf. Their ``update`` is a ``Leafwise`` record:
callable as above, and holding ``prepare``, the per-leaf form of the step.
``chain`` joins neighbouring per-leaf transforms into one ``Leafwise`` whose
leaf function runs theirs in turn on each leaf, so a chain of blocks makes
one pass over the parameters, not one per block; ``update_and_apply`` runs
that pass with the addition to the params in it. Because the fused path
lives on the ``update`` object itself, replacing a transform's ``update``
(``attrs.evolve``) replaces it too.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, NamedTuple

import attrs
import numpy as np

from fnn import tree, validators
from fnn.core import readonly, sealed
from fnn.errors import ConfigError, DTypeError, ShapeError, TreeError

__all__ = ["Transform", "Leafwise", "LeafStep", "PerLeaf", "EmptyState", "apply_updates",
           "update_and_apply", "chain", "WithApply", "leafwise", "compose", "learning_rate",
           "check_learning_rate", "map_matching", "settle", "check_state", "require_params",
           "leaves_like"]

Schedule = Callable[[int], float]


@attrs.frozen
class Transform:
    """``init(params) -> state`` and ``update(grads, state, params=None) -> (updates, state)``."""

    init: Callable
    update: Callable


@attrs.frozen
class EmptyState:
    """The state of a transform that keeps nothing between updates."""


class LeafStep(NamedTuple):
    """One update of a per-leaf transform, as its ``prepare`` returns it.

    The transform's update of a leaf is ``leaf(u)·scale + Σ coef·extra`` over
    ``terms``, where:

    - ``leaf(u, *state_leaves, *extra_leaves) -> (u, *new_state_leaves)`` runs
      once per leaf on the incoming update ``u`` (``None``: ``u`` itself);
    - ``states`` are the state's trees, matched leaf by leaf with the updates (a
      ``None`` where the updates hold a leaf, as in ``masked`` states, reaches
      ``leaf`` as ``None``); ``make_state`` builds the new state from the new trees;
    - ``extras`` are other trees read leaf by leaf (the params, mask flags);
    - ``scale`` is a factor that ``leaf`` leaves out and ``terms`` are
      ``(coef, i, j)``: add coef·``extras[i]`` where ``extras[j]`` is True (``j``
      None: everywhere). Both wait in a fused chain until a leaf function needs
      the update, so that a bias correction and a learning rate cost one
      multiplication, and a decay added between them one more (adamw).
    - ``fresh``: ``True`` when ``leaf``'s update is a new array nobody else holds,
      so that later steps may write into it; ``False`` when it may be held (a
      state leaf, an input); ``None`` when it is either, as its input;
    - ``before``: a factor of ``u`` before ``leaf`` (what ``compose`` makes of a
      scale followed by a leaf function, as momentum's learning rate).

    An extra is a tree shaped like the updates, or a ``PerLeaf`` list.
    """

    leaf: Callable | None
    states: tuple
    make_state: Callable
    extras: tuple = ()
    scale: float = 1.0
    terms: tuple = ()
    fresh: bool | None = None
    before: float = 1.0


class PerLeaf(list):
    """One value per leaf of the updates, in leaf order (mask flags): an extra of a
    ``LeafStep`` that is zipped with the leaves as it is, without a tree."""


@attrs.frozen
class Leafwise:
    """The ``update`` of a per-leaf transform (see the module docstring).

    ``prepare(grads, state, params) -> LeafStep`` checks the state and reads the
    step's scalars; it reads the structure of ``grads``, never its values (in a
    fused chain they are the chain's input, not this transform's).
    """

    where: str
    prepare: Callable

    def __call__(self, grads: Any, state: Any, params: Any = None) -> tuple[Any, Any]:
        step = self.prepare(grads, state, params)
        run = _runner(step)

        def frozen(*leaves):
            u, owned, new = run(*leaves)
            return (sealed(u) if owned else readonly(u), *new)

        updates, *states = _map_unzip(self.where, 1 + len(step.states), frozen,
                                      grads, *step.states, *step.extras)
        return updates, step.make_state(*states)

    def apply(self, grads: Any, state: Any, params: Any) -> tuple[Any, Any]:
        """``(apply_updates(params, updates), new_state)`` in the same pass, with the same bytes."""
        step = self.prepare(grads, state, params)
        run = _runner(step)

        def applied(*leaves):
            u, owned, new = run(*leaves[:-1])
            return (add_update(leaves[-1], u, owned), *new)

        new_params, *states = _map_unzip(self.where, 1 + len(step.states), applied,
                                         grads, *step.states, *step.extras, params)
        return new_params, step.make_state(*states)


def _runner(step: LeafStep) -> Callable:
    """``run(g, *states, *extras) -> (u, owned, new_states)``: ``step`` on one leaf, settled
    (see ``settle``), the new state leaves read-only; ``owned`` when ``u`` is a new array
    nobody else holds. Specialised, as it runs once per leaf and step."""
    leaf, n, before, scale, terms = step.leaf, len(step.states), step.before, step.scale, step.terms
    fresh = step.fresh if step.fresh is not None else before != 1.0
    if leaf is not None and not terms:
        def run(g, *columns):
            u, *new = leaf(g if before == 1.0 else np.multiply(g, before), *columns)
            if scale != 1.0:  # adam's correction and learning rate
                return (np.multiply(u, scale, out=u) if fresh and type(u) is np.ndarray
                        else np.multiply(u, scale)), True, [readonly(s) for s in new]
            return u, fresh, [readonly(s) for s in new]
    elif leaf is None and not terms:  # a scale alone (sgd)
        factor = before * scale
        def run(g, *columns):
            return np.multiply(g, factor) if factor != 1.0 else g, factor != 1.0, ()
    else:
        def run(g, *columns):
            u = g if before == 1.0 else np.multiply(g, before)
            u, *new = (u,) if leaf is None else leaf(u, *columns)
            u, owned = settle(u, fresh, scale, terms, columns[n:])
            return u, owned, [readonly(s) for s in new]

    return run


def settle(u: Any, owned: bool, scale: float, terms: tuple, extras: tuple) -> tuple[Any, bool]:
    """``(u·scale + Σ coef·extras[i] where extras[j], owned)`` for ``terms`` ``(coef, i, j)``
    (see ``LeafStep``), written into ``u`` where it is an array nobody else holds."""
    if scale != 1.0:
        u = np.multiply(u, scale, out=u) if owned and type(u) is np.ndarray else np.multiply(u, scale)
        owned = True
    for coef, i, j in terms:
        if j is None or extras[j]:
            term = extras[i] * coef
            if owned and type(u) is np.ndarray:
                u += term
            else:
                term += u
                u, owned = term, True
    return u, owned


def _settled(fresh: bool | None, scale: float, terms: Any) -> bool | None:
    """Whether ``settle`` surely returns a new array: it does when it scales, or adds
    a term on every leaf; otherwise the update is as owned as before."""
    return True if scale != 1.0 or (terms and all(j is None for _, _, j in terms)) else fresh


def leafwise(where: str, init: Callable, prepare: Callable) -> Transform:
    """A ``Transform`` whose ``update`` is ``Leafwise(where, prepare)``."""
    return Transform(init, Leafwise(where, prepare))


def compose(steps: list[LeafStep]) -> LeafStep:
    """The ``LeafStep`` that runs ``steps`` one after another on each leaf.

    Scales and terms wait (see ``LeafStep``) until a leaf function needs the
    update; a scale after waiting terms multiplies their coefficients too.
    Terms with no scale before them are added at once, in their place.
    ``make_state`` of the result returns the tuple of the steps' new states.
    """
    n_states = sum(len(step.states) for step in steps)
    # (scale, terms, whether u is ours to write into, leaf or None, its columns)
    stages: list[tuple[float, tuple, bool, Callable | None, tuple]] = []
    terms: list[tuple[float, int, int | None]] = []
    scale, fresh, state_at, extra_at = 1.0, None, 0, 0
    for step in steps:
        if step.before != 1.0:  # a scale of its own before the leaf function
            scale *= step.before
            terms = [(c * step.before, i, j) for c, i, j in terms]
        columns = (*range(state_at, state_at + len(step.states)),
                   *range(n_states + extra_at, n_states + extra_at + len(step.extras)))
        own_terms = [(c, extra_at + i, None if j is None else extra_at + j)
                     for c, i, j in step.terms]
        state_at, extra_at = state_at + len(step.states), extra_at + len(step.extras)
        if step.leaf is not None:
            stages.append((scale, tuple(terms), fresh is True, step.leaf, columns))
            fresh = step.fresh if step.fresh is not None else _settled(fresh, scale, terms)
            scale, terms = 1.0, []
        elif own_terms and scale == 1.0 and not terms:  # nothing waits: add them here
            stages.append((1.0, tuple(own_terms), fresh is True, None, ()))
            fresh, own_terms = _settled(fresh, 1.0, own_terms), []
        terms += own_terms
        if step.scale != 1.0:
            scale *= step.scale
            terms = [(c * step.scale, i, j) for c, i, j in terms]

    before, waiting, _, f, at = stages[0] if stages else (1.0, (), False, None, ())
    if len(stages) == 1 and not waiting and f is not None and at == tuple(range(len(at))) \
            and len(at) == n_states + extra_at:
        # one leaf function reading every column in order: itself, after its scale
        leaf, single = f, before
    else:
        single = 1.0

        def leaf(u, *columns):
            extras, new = columns[n_states:], []
            for before, waiting, owned, f, at in stages:
                u, _ = settle(u, owned, before, waiting, extras)
                if f is not None:
                    u, *states = f(u, *[columns[i] for i in at])
                    new += states
            return (u, *new)

    def make_state(*trees):
        out, at = [], 0
        for step in steps:
            out.append(step.make_state(*trees[at:at + len(step.states)]))
            at += len(step.states)
        return tuple(out)

    return LeafStep(leaf if stages else None, tuple(t for step in steps for t in step.states),
                    make_state, tuple(t for step in steps for t in step.extras), scale,
                    tuple(terms), fresh, single)


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
    transform.update(grads, state, params)``; in one pass, with the same bytes, where
    the ``update`` offers ``apply`` (per-leaf transforms and chains of them do)."""
    apply = getattr(transform.update, "apply", None)
    if apply is not None:
        return apply(grads, state, params)
    updates, state = transform.update(grads, state, params)
    return apply_updates(params, updates), state


def map_matching(where: str, f: Callable, first: Any, *rest: Any) -> Any:
    """``tree.map`` over trees whose structures and leaf shapes must agree; errors say
    which transform met them."""
    structure, columns = _zip_leaves(where, first, rest)
    return tree.unflatten(structure, [f(*leaves) for leaves in columns])


def _map_unzip(where: str, n: int, f: Callable, first: Any, *rest: Any) -> tuple:
    """``map_matching`` for an ``f`` that returns a tuple of ``n`` outputs per leaf:
    ``n`` trees shaped like ``first``, the i-th holding every leaf's i-th output."""
    structure, columns = _zip_leaves(where, first, rest)
    outputs = [f(*leaves) for leaves in columns]
    return tuple(tree.unflatten(structure, [out[i] for out in outputs]) for i in range(n))


def _zip_leaves(where: str, first: Any, rest: tuple) -> tuple[Any, list[tuple]]:
    """``first``'s structure and, per leaf, the tuple of that leaf in every tree;
    ``TreeError`` or ``ShapeError`` unless the trees and their leaf shapes agree.
    A tree may hold ``None`` where ``first`` holds a leaf (see ``leaves_like``)."""
    leaves, structure = tree.flatten(first)
    columns, checked = [leaves], []
    for other in rest:
        if type(other) is PerLeaf:
            if len(other) != len(leaves):
                raise TreeError(f"{where}: {len(other)} values for {len(leaves)} leaves (was the "
                                f"state made by init for these params?)")
            columns.append(other)
            continue
        other_leaves, other_structure = tree.flatten(other)
        columns.append(other_leaves if other_structure == structure else
                       leaves_like(where, first, other))
        checked.append(columns[-1])
    shapes = [getattr(leaf, "shape", ()) for leaf in leaves]  # Python scalars: ()
    for other_leaves in checked:
        if [getattr(leaf, "shape", ()) for leaf in other_leaves] == shapes:
            continue
        for shape, leaf in zip(shapes, other_leaves, strict=True):
            if leaf is not None and getattr(leaf, "shape", ()) != shape:  # None: masked
                raise ShapeError(f"{where}: leaf shapes differ, {shape} and "
                                 f"{getattr(leaf, 'shape', ())} (was the state made by init "
                                 f"for these params?)")
    return structure, list(zip(*columns, strict=True))


def _flag_or_none(leaf: Any) -> bool:
    """A leaf that need not have its update's shape: a mask flag (a bool, which records with
    converters keep as a 0-d array) or a masked state's ``None``."""
    return leaf is None or (np.result_type(leaf) == np.bool_ and np.ndim(leaf) == 0)


def leaves_like(where: str, reference: Any, other: Any) -> list:
    """The leaves of ``other`` at the places of ``reference``'s, ``None`` where ``other``
    has ``None`` in place of a leaf (a ``masked`` state); ``TreeError`` naming the path
    where the two differ otherwise."""
    out: list = []

    def mismatch(path, expected, node):
        return TreeError(f"{where}: the trees do not match (was the state made by init for these "
                         f"params?): they differ at {path or '<root>'}: expected {expected}, got "
                         f"{type(node).__name__}")

    def walk(ref, node, path):
        ref_children = tree.children(ref)
        if ref_children is None:  # a leaf of the reference
            if node is not None and tree.children(node) is not None:
                raise mismatch(path, "a leaf", node)
            out.append(node)
            return
        node_children = tree.children(node)
        if (node_children is None or type(node) is not type(ref)
                or [s for s, _ in node_children] != [s for s, _ in ref_children]):
            raise mismatch(path, f"{type(ref).__name__} {[s for s, _ in ref_children]}", node)
        for (step, r), (_, n) in zip(ref_children, node_children, strict=True):
            walk(r, n, path + step)

    walk(reference, other, "")
    return out


def check_state(where: str, state: Any, record: type) -> None:
    """Raise ``TreeError`` unless ``state`` is a ``record`` (the state this transform's init makes)."""
    if not isinstance(state, record):
        raise TreeError(f"{where}: expected a {record.__name__} (made by this optimizer's "
                        f"init), got {type(state).__name__}")


def require_params(where: str, grads: Any, params: Any) -> None:
    """A transform that reads the params must be given them (unless there are none)."""
    if params is None and grads is not None:
        raise ConfigError(f"{where}: update(grads, state, params) needs the params, "
                          f"got params=None")


def learning_rate(lr: float | Schedule, count: int) -> float:
    """``lr`` itself, or the schedule ``lr`` evaluated at ``count``, as a Python float.

    A Python float, because numpy promotes a float32 array times a float64
    *numpy* scalar to float64, but keeps it float32 times a Python float.
    """
    return float(lr(count) if callable(lr) else lr)


def check_learning_rate(where: str, lr: float | Schedule) -> None:
    """A learning rate is a schedule or a positive, finite number."""
    if not callable(lr):
        validators.number(where, "lr", lr, lambda x: 0.0 < x < math.inf,
                          "a positive number or a schedule")


def chain(*transforms: Transform, name: str = "chain") -> Transform:
    """Apply ``transforms`` in order, each to the updates of the one before.

    The state is the tuple of the transforms' states. Neighbouring per-leaf
    transforms run fused, in one pass over the leaves; the chain is per-leaf
    itself when all of them are. ``name`` is what error messages call it (the
    optimizers of ``fnn.optim.alias`` give theirs).
    """
    count = len(transforms)

    def init(params):
        return tuple(t.init(params) for t in transforms)

    def check(state):
        if not isinstance(state, tuple) or len(state) != count:
            raise TreeError(f"{name}: expected a state tuple of {count} (one per transform, "
                            f"made by this optimizer's init), got {type(state).__name__}")

    if transforms and all(isinstance(t.update, Leafwise) for t in transforms):
        def prepare(grads, state, params):
            check(state)
            return compose([t.update.prepare(grads, s, params)
                            for t, s in zip(transforms, state, strict=True)])

        return leafwise(name, init, prepare)

    # Runs of per-leaf transforms fused into one, between the others:
    # (first index, end index, the transform or the fused run).
    segments = []
    start = 0
    while start < count:
        end = start + 1
        while (isinstance(transforms[start].update, Leafwise) and end < count
               and isinstance(transforms[end].update, Leafwise)):
            end += 1
        segments.append((start, end, transforms[start] if end == start + 1
                         else chain(*transforms[start:end], name=name)))
        start = end

    def run(segs, grads, state, params):
        new_states: list = []
        for start, end, t in segs:
            grads, s = t.update(grads, _own(state, start, end), params)
            new_states += [s] if end == start + 1 else s
        return grads, tuple(new_states)

    def update(grads, state, params=None):
        check(state)
        return run(segments, grads, state, params)

    def apply(grads, state, params):
        check(state)
        *first, (start, end, t) = segments
        grads, states = run(first, grads, state, params)
        params, s = update_and_apply(t, grads, _own(state, start, end), params)
        return params, (*states, *([s] if end == start + 1 else s))

    return Transform(init, WithApply(update, apply) if transforms else update)




def _own(state: tuple, start: int, end: int) -> Any:
    """A chain segment's state: its transform's, or the tuple of a fused run's."""
    return state[start] if end == start + 1 else state[start:end]


@attrs.frozen
class WithApply:
    """An ``update`` (``run``) that also offers ``apply``, its fused counterpart for
    ``update_and_apply``: a chain with transforms that are not per-leaf, a wrapper."""

    run: Callable
    apply: Callable

    def __call__(self, grads: Any, state: Any, params: Any = None) -> tuple[Any, Any]:
        return self.run(grads, state, params)
