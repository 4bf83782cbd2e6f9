"""Blocks that regularise: weight decay and clipping by the global norm."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from fnn import tree
from fnn.core import readonly
from fnn.optim.masking import Mask, mask_flags
from fnn.optim.transform import EmptyState, LeafStep, Transform, check_state, leafwise, require_params
from fnn.validators import non_negative, positive

__all__ = ["add_decayed_weights", "clip_by_global_norm", "global_norm"]


def add_decayed_weights(rate: float, mask: Mask | None = None, *,
                        name: str = "add_decayed_weights") -> Transform:
    """updates = u + rate·p, on the leaves where ``mask`` is True (every leaf without one).

    The one place weight decay is written: before an optimizer
    (``add_weight_decay``) it trains on the loss + ½·rate·‖p‖²; between Adam's
    scaling and the learning rate (``adamw``) it is decoupled decay. ``mask``:
    see ``fnn.optim.masking``. ``update`` needs the params.
    """
    rate = non_negative(name, "rate", rate)

    def prepare(grads, state, params):
        check_state(name, state, EmptyState)
        if not rate:  # nothing to add: no pass, no params needed (adamw without decay is adam)
            return LeafStep(None, (), lambda: state)
        require_params(name, grads, params)
        if mask is None:
            return LeafStep(None, (), lambda: state, (params,), terms=((rate, 0, None),))
        return LeafStep(None, (), lambda: state, (params, mask_flags(name, mask, params)),
                        terms=((rate, 0, 1),))

    return leafwise(name, lambda params: EmptyState(), prepare)


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
    The direction is kept, only the length is capped. Not per-leaf (the norm
    reads every leaf first), so a chain runs it as a pass of its own.
    """
    max_norm = positive("clip_by_global_norm", "max_norm", max_norm)

    def update(grads, state, params=None):
        check_state("clip_by_global_norm", state, EmptyState)
        norm = global_norm(grads)
        if norm <= max_norm:
            return tree.map(readonly, grads), state
        scale = max_norm / norm
        return tree.map(lambda g: readonly(g * scale), grads), state

    return Transform(lambda params: EmptyState(), update)
