"""Masks: which leaves a transform touches. ``masked``, ``set_to_zero`` and ``freeze``.

A ``mask`` is one of:

- a predicate ``mask(path, leaf) -> bool`` on the paths of
  ``fnn.tree.leaves_with_paths(params)`` (like ``"[0].w"`` or ``"[2].b"``);
  ``weights_only`` is the usual one for weight decay;
- a tree of bools shaped like the params, one bool per leaf, with ``None``
  where the params have ``None``.
"""

from __future__ import annotations

from typing import Any

import attrs
import numpy as np

from fnn import tree
from fnn.errors import TreeError
from fnn.optim.transform import (
    EmptyState,
    LeafStep,
    Leafwise,
    PerLeaf,
    Transform,
    check_state,
    leafwise,
    leaves_like,
    settle,
)

__all__ = ["MaskedState", "weights_only", "mask_flags", "masked", "set_to_zero", "freeze"]

Mask = Any  # a predicate (path, leaf) -> bool, or a tree of bools (see above)


def weights_only(path: str, leaf: Any) -> bool:
    """The usual weight-decay mask: the leaves named ``w`` (dense and conv weights).

    Biases, normalisation scales and shifts, and any other leaf are left out.
    """
    return path.endswith(".w")


def mask_flags(where: str, mask: Mask, like: Any) -> PerLeaf:
    """``mask`` (see the module docstring) on the leaves of ``like``: one bool per leaf."""
    if callable(mask):
        return PerLeaf(bool(mask(path, leaf)) for path, leaf in tree.leaves_with_paths(like))
    flags, structure = tree.flatten(mask)
    if structure != tree.flatten(like)[1]:
        try:  # tree.map names the first path where they differ
            tree.map(lambda leaf, flag: None, like, mask)
        except TreeError as exc:
            raise TreeError(f"{where}: mask must be a predicate (path, leaf) -> bool or a tree "
                            f"of bools shaped like the params: {exc}") from exc
    return PerLeaf(bool(flag) for flag in flags)


@attrs.frozen
class MaskedState:
    """State of ``masked``: the inner transform's, made for the masked leaves only
    (``None`` in place of the others)."""

    inner_state: Any


def _only(where: str, flags: PerLeaf, like: Any) -> Any:
    """``like`` with ``None`` in place of the leaves whose flag is False."""
    leaves, structure = tree.flatten(like)
    if len(leaves) != len(flags):
        raise TreeError(f"{where}: the trees do not match (was the state made by init for these "
                        f"params?): {len(leaves)} leaves for a mask of {len(flags)}")
    return tree.unflatten(structure, [leaf if flag else None
                                      for leaf, flag in zip(leaves, flags, strict=True)])


def masked(inner: Transform, mask: Mask, *, name: str = "masked") -> Transform:
    """``inner`` on the leaves where ``mask`` is True; the other updates pass through unchanged.

    The mask is evaluated on the params (on the gradients where ``update`` is
    given no params). ``inner`` sees only the masked leaves, with ``None`` in
    place of the others, and keeps state for those alone. Per-leaf when
    ``inner`` is (the unmasked leaves then cost a branch each).
    """

    def flags_for(grads, params):
        return mask_flags(name, mask, grads if params is None else params)

    def init(params):
        return MaskedState(inner.init(_only(name, mask_flags(name, mask, params), params)))

    if isinstance(inner.update, Leafwise):
        def prepare(grads, state, params):
            check_state(name, state, MaskedState)
            flags = flags_for(grads, params)
            step = inner.update.prepare(_only(name, flags, grads), state.inner_state,
                                        _only(name, flags, params))
            def make_state(*trees):
                return MaskedState(step.make_state(*trees))

            if (step.leaf is None and not step.states and step.scale == step.before == 1.0
                    and all(j is None for _, _, j in step.terms)):
                # inner only adds terms: they take the mask as their flag, and still wait
                flag = len(step.extras)
                return LeafStep(None, (), make_state, (*step.extras, flags),
                                terms=tuple((c, i, flag) for c, i, _ in step.terms))
            f, n, before = step.leaf, len(step.states), step.before
            owned = step.fresh if step.fresh is not None else before != 1.0

            def leaf(u, *columns):
                if not columns[-1]:
                    return (u, *columns[:n])
                if before != 1.0:
                    u = np.multiply(u, before)
                u, *new = f(u, *columns[:-1]) if f is not None else (u,)
                return (settle(u, owned, step.scale, step.terms, columns[n:-1])[0], *new)

            return LeafStep(leaf, step.states, make_state, (*step.extras, flags),
                            fresh=False if step.fresh is False else None)

        return leafwise(name, init, prepare)

    def inner_updates(grads, state, params):
        check_state(name, state, MaskedState)
        flags = flags_for(grads, params)
        return flags, inner.update(_only(name, flags, grads), state.inner_state, _only(name, flags, params))

    def merge(grads, flags, inner_updates):
        leaves, structure = tree.flatten(grads)
        return tree.unflatten(structure, [
            u if flag else g for g, u, flag in
            zip(leaves, leaves_like(name, grads, inner_updates), flags, strict=True)])

    def update(grads, state, params=None):
        flags, (updates, inner_state) = inner_updates(grads, state, params)
        return merge(grads, flags, updates), MaskedState(inner_state)

    return Transform(init, update)


def set_to_zero(*, name: str = "set_to_zero") -> Transform:
    """updates = −0.0 everywhere (optax's ``set_to_zero``).

    Negative zero, because p + (−0.0) is p in every bit, −0.0 included (p + 0.0
    would turn a −0.0 parameter into +0.0).
    """

    def leaf(u):
        return (np.full_like(u, -0.0),)

    def prepare(grads, state, params):
        check_state(name, state, EmptyState)
        return LeafStep(leaf, (), lambda: state, fresh=True)

    return leafwise(name, lambda params: EmptyState(), prepare)


def freeze(mask: Mask) -> Transform:
    """Zero updates for the leaves where ``mask`` is True, so those params stay
    byte-identical: ``masked(set_to_zero(), mask)``. Put it last in a chain,
    after the optimizer, e.g. ``chain(adam(1e-3), freeze(mask))``.
    """
    return masked(set_to_zero(name="freeze"), mask, name="freeze")
