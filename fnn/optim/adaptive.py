"""Blocks that scale each parameter's step by its gradients' history: AdaGrad, RMSprop, Adam.

Each returns the direction without the learning rate; ``fnn.optim.alias``
chains it with ``scale_by_learning_rate``. Written with ``out=`` on one
scratch array per leaf, which ends as the update (an array even for a scalar
leaf, where a ufunc would return a scalar that the steps after could not
write into).
"""

from __future__ import annotations

import math
from typing import Any

import attrs
import numpy as np

from fnn.core import freeze
from fnn.optim.transform import LeafStep, Transform, check_state, leafwise
from fnn.optim.velocity import zeros_like_tree
from fnn.validators import fraction, positive

__all__ = ["ScaleByRssState", "ScaleByRmsState", "ScaleByAdamState", "scale_by_rss",
           "scale_by_rms", "scale_by_adam"]


@attrs.frozen
class ScaleByRssState:
    """State of ``scale_by_rss``: h, the running sum of squared gradients."""

    sum_of_squares: Any = attrs.field(converter=freeze)


@attrs.frozen
class ScaleByRmsState:
    """State of ``scale_by_rms``: h, the moving average of squared gradients."""

    nu: Any = attrs.field(converter=freeze)


@attrs.frozen
class ScaleByAdamState:
    """State of ``scale_by_adam``: the updates made so far and the moment estimates.

    ``mu`` is the first moment m (mean of the gradients), ``nu`` the second
    moment v (mean of their squares), both exponential moving averages
    started at zero and not yet bias-corrected.
    """

    count: int
    mu: Any = attrs.field(converter=freeze)
    nu: Any = attrs.field(converter=freeze)


def _over_root(g: np.ndarray, h: np.ndarray, eps: float, out: np.ndarray) -> np.ndarray:
    """g / (√h + eps), written into ``out``."""
    np.sqrt(h, out=out)
    out += eps
    return np.divide(g, out, out=out)


def scale_by_rss(eps: float = 1e-7, *, name: str = "scale_by_rss") -> Transform:
    """AdaGrad's scaling, as in the book: h ← h + g²; updates = g / (√h + eps).

    h starts at zero (optax starts it at 0.1), eps is the book's 1e-7, outside the root.
    """
    eps = positive(name, "eps", eps)

    def leaf(g, h):
        u = np.square(g, out=np.empty_like(g))  # g², then the update
        h = h + u
        return _over_root(g, h, eps, u), h

    def prepare(grads, state, params):
        check_state(name, state, ScaleByRssState)
        return LeafStep(leaf, (state.sum_of_squares,), ScaleByRssState, fresh=True)

    return leafwise(name, lambda params: ScaleByRssState(zeros_like_tree(params)), prepare)


def scale_by_rms(decay: float = 0.99, eps: float = 1e-8, *, name: str = "scale_by_rms"
                 ) -> Transform:
    """RMSprop's scaling (Hinton), eps outside the root as in the book and PyTorch::

        h ← decay·h + (1 − decay)·g²
        updates = g / (√h + eps)

    h starts at zero.
    """
    decay = fraction(name, "decay", decay)
    eps = positive(name, "eps", eps)

    def leaf(g, h):
        u = np.square(g, out=np.empty_like(g))  # (1 − decay)·g², then the update
        u *= 1.0 - decay
        h = h * decay
        h += u
        return _over_root(g, h, eps, u), h

    def prepare(grads, state, params):
        check_state(name, state, ScaleByRmsState)
        return LeafStep(leaf, (state.nu,), ScaleByRmsState, fresh=True)

    return leafwise(name, lambda params: ScaleByRmsState(zeros_like_tree(params)), prepare)


def scale_by_adam(b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8, *,
                  name: str = "scale_by_adam") -> Transform:
    """Adam's scaling (Kingma & Ba), in the PyTorch/optax form, with t = count + 1::

        m ← b1·m + (1 − b1)·g          m̂ = m / (1 − b1^t)
        v ← b2·v + (1 − b2)·g²         v̂ = v / (1 − b2^t)
        updates = m̂ / (√v̂ + eps)

    The book folds the bias correction into the learning rate
    (lr_t = lr·√(1 − b2^t) / (1 − b1^t), then −lr_t·m / (√v + eps)), which
    puts eps against the uncorrected √v: the two differ slightly while v is small.
    The factor 1 / (1 − b1^t) is left to the fused chain (``LeafStep.scale``),
    so that with the learning rate it costs one multiplication.
    """
    b1, b2 = fraction(name, "b1", b1), fraction(name, "b2", b2)
    eps = positive(name, "eps", eps)

    def prepare(grads, state, params):
        check_state(name, state, ScaleByAdamState)
        t = state.count + 1
        # Both corrections are scalars: m̂ = c1·m and √v̂ = c2·√v.
        c1, c2 = 1.0 / (1.0 - b1 ** t), 1.0 / math.sqrt(1.0 - b2 ** t)

        def leaf(g, m, v):
            u = np.multiply(g, 1.0 - b1, out=np.empty_like(g))  # scratch, then the update
            m = m * b1
            m += u
            np.square(g, out=u)
            u *= 1.0 - b2
            v = v * b2
            v += u
            np.sqrt(v, out=u)
            u *= c2
            u += eps
            np.divide(m, u, out=u)
            return u, m, v

        return LeafStep(leaf, (state.mu, state.nu), lambda mu, nu: ScaleByAdamState(t, mu, nu),
                        scale=c1, fresh=True)

    return leafwise(name, lambda params: ScaleByAdamState(0, zeros_like_tree(params),
                                                          zeros_like_tree(params)), prepare)
