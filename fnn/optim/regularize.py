"""Transforms that regularise the gradients before an optimizer sees them, and weight-decay masks.

A weight-decay ``mask`` says which parameters are decayed. It is one of:

- ``None``: every parameter;
- a predicate ``mask(path, leaf) -> bool`` on the paths of
  ``fnn.tree.leaves_with_paths(params)`` (like ``"[0].w"`` or ``"[2].b"``);
  ``weights_only`` is the usual one;
- a tree of bools shaped like the params, one bool per leaf, with ``None``
  where the params have ``None``.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator
from typing import Any

import attrs
import numpy as np

from fnn import tree
from fnn.core import readonly
from fnn.errors import ConfigError, TreeError
from fnn.optim.transform import Transform, check_state, map_matching
from fnn.validators import non_negative, positive

__all__ = ["CountState", "add_weight_decay", "clip_by_global_norm", "global_norm",
           "weights_only", "decay_flags", "require_params"]

Mask = Any  # None, a predicate (path, leaf) -> bool, or a tree of bools (see above)


@attrs.frozen
class CountState:
    """State of a transform that carries nothing but its number of updates."""

    step: int = 0


def weights_only(path: str, leaf: Any) -> bool:
    """The usual weight-decay mask: decay the leaves named ``w`` (dense and conv weights).

    Biases, normalisation scales and shifts, and any other leaf are left alone.
    """
    return path.endswith(".w")


def decay_flags(where: str, mask: Mask, params: Any) -> Iterator[bool]:
    """Whether each leaf of ``params`` is decayed, in leaf order (see the module docstring)."""
    if mask is None:
        return itertools.repeat(True)
    if callable(mask):
        return iter([bool(mask(path, leaf)) for path, leaf in tree.leaves_with_paths(params)])
    flags = []

    def collect(p, m):
        flags.append(bool(m))
        return p

    try:
        tree.map(collect, params, mask)
    except TreeError as exc:
        raise TreeError(f"{where}: mask must be a predicate (path, leaf) -> bool or a tree of "
                        f"bools shaped like the params: {exc}") from exc
    return iter(flags)


def require_params(where: str, grads: Any, params: Any) -> None:
    """Weight decay reads the params: ``update`` must be given them (unless there are none)."""
    if params is None and grads is not None:
        raise ConfigError(f"{where}: update(grads, state, params) needs the params "
                         f"for weight decay, got params=None")


def add_weight_decay(rate: float, mask: Mask = None) -> Transform:
    """L2 weight decay as a gradient transform: g ← g + rate·p on the masked leaves.

    Put it before an optimizer, ``chain(add_weight_decay(1e-4), momentum())``,
    to train on the loss + ½·rate·‖p‖² (with Adam this is *coupled* decay,
    scaled by the adaptive step; ``adamw`` decouples it).
    """
    rate = non_negative("add_weight_decay", "rate", rate)

    def init(params):
        return CountState(0)

    def update(grads, state, params=None):
        check_state("add_weight_decay", state, CountState)
        require_params("add_weight_decay", grads, params)
        flags = decay_flags("add_weight_decay", mask, params)

        def leaf(g, p):
            if not next(flags):
                return readonly(g)
            u = p * rate
            u += g
            return readonly(u)

        return map_matching("add_weight_decay", leaf, grads, params), CountState(state.step + 1)

    return Transform(init, update)


def global_norm(grads: Any) -> float:
    """√(Σ g²) over every element of every leaf, as a Python float."""
    leaves = tree.leaves(grads)
    total = sum(float(np.vdot(g, g)) for g in leaves)
    if not math.isfinite(total):
        # Squares of large float32 gradients overflow where float64 ones do not: exploding
        # gradients are what clipping is for, so they must not turn into a zero scale.
        total = sum(float(np.vdot(g, g)) for g in (np.asarray(g, np.float64) for g in leaves))
    return math.sqrt(total)


def clip_by_global_norm(max_norm: float) -> Transform:
    """Scale all gradients by max_norm / ‖g‖ when their global norm ‖g‖ exceeds ``max_norm``.

    Below the limit the gradients pass through untouched (read-only views of them).
    The direction is kept, only the length is capped.
    """
    max_norm = positive("clip_by_global_norm", "max_norm", max_norm)

    def init(params):
        return CountState(0)

    def update(grads, state, params=None):
        check_state("clip_by_global_norm", state, CountState)
        norm = global_norm(grads)
        if norm <= max_norm:
            return tree.map(readonly, grads), CountState(state.step + 1)
        scale = max_norm / norm
        return tree.map(lambda g: readonly(g * scale), grads), CountState(state.step + 1)

    return Transform(init, update)
