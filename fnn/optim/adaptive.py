"""Optimizers that adapt the step size of each parameter to its gradients' history."""

from __future__ import annotations

import math
from typing import Any

import attrs
import numpy as np

from fnn.core import freeze, readonly
from fnn.optim.sgd import zeros_like_tree
from fnn.optim.transform import (Schedule, Transform, check_learning_rate, fraction,
                                 learning_rate, map_unzip, non_negative)

__all__ = ["AdamState", "adam"]


@attrs.frozen
class AdamState:
    """State of ``adam``: the step count and the moment estimates, shaped like the params.

    ``mu`` is the first moment m (mean of the gradients), ``nu`` the second
    moment v (mean of their squares), both exponential moving averages
    started at zero and not yet bias-corrected.
    """

    step: int
    mu: Any = attrs.field(converter=freeze)
    nu: Any = attrs.field(converter=freeze)


def adam(lr: float | Schedule = 1e-3, b1: float = 0.9, b2: float = 0.999,
         eps: float = 1e-8) -> Transform:
    """Adam (Kingma & Ba), in the PyTorch/optax form, with t = step + 1::

        m ← b1·m + (1 − b1)·g          m̂ = m / (1 − b1^t)
        v ← b2·v + (1 − b2)·g²         v̂ = v / (1 − b2^t)
        updates = −lr · m̂ / (√v̂ + eps)

    The book folds the bias correction into the learning rate
    (lr_t = lr·√(1 − b2^t) / (1 − b1^t), then −lr_t·m / (√v + eps)), which
    puts eps against the uncorrected √v: the two differ slightly while v is small.
    """
    check_learning_rate("adam", lr)
    b1, b2 = fraction("adam", "b1", b1), fraction("adam", "b2", b2)
    eps = non_negative("adam", "eps", eps)

    def init(params):
        return AdamState(0, zeros_like_tree(params), zeros_like_tree(params))

    def update(grads, state, params=None):
        rate = learning_rate(lr, state.step)
        t = state.step + 1
        # Both corrections are scalars: m̂ = c1·m and √v̂ = c2·√v.
        c1, c2 = 1.0 / (1.0 - b1 ** t), 1.0 / math.sqrt(1.0 - b2 ** t)

        def leaf(g, m, v):
            u = np.multiply(g, 1.0 - b1)  # scratch first, the update at the end
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
            u *= -rate * c1
            return readonly(u), readonly(m), readonly(v)

        updates, mu, nu = map_unzip("adam", 3, leaf, grads, state.mu, state.nu)
        return updates, AdamState(t, mu, nu)

    return Transform(init, update)
