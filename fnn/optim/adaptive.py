"""Optimizers that adapt the step size of each parameter to its gradients' history."""

from __future__ import annotations

import math
from typing import Any

import attrs
import numpy as np

from fnn.core import freeze
from fnn.optim.regularize import Mask, decay_flags, require_params
from fnn.optim.sgd import zeros_like_tree
from fnn.optim.transform import (
    LeafUpdate,
    Schedule,
    Transform,
    check_learning_rate,
    check_state,
    leafwise,
    learning_rate,
)
from fnn.validators import fraction, non_negative, positive

__all__ = ["AdagradState", "RmspropState", "AdamState", "adagrad", "rmsprop", "adam", "adamw"]


@attrs.frozen
class AdagradState:
    """State of ``adagrad``: the step count and h, the running sum of squared gradients."""

    step: int
    sum_of_squares: Any = attrs.field(converter=freeze)


@attrs.frozen
class RmspropState:
    """State of ``rmsprop``: the step count and h, the moving average of squared gradients."""

    step: int
    nu: Any = attrs.field(converter=freeze)


def adagrad(lr: float | Schedule = 0.01, eps: float = 1e-7) -> Transform:
    """AdaGrad, as in the book::

        h ← h + g²
        updates = −lr · g / (√h + eps)

    h starts at zero (optax starts it at 0.1), eps is the book's 1e-7.
    """
    check_learning_rate("adagrad", lr)
    eps = positive("adagrad", "eps", eps)

    def init(params):
        return AdagradState(0, zeros_like_tree(params))

    def prepare(grads, state, params):
        check_state("adagrad", state, AdagradState)
        rate = learning_rate(lr, state.step)

        def leaf(g, h):
            # out=: an array even for a scalar leaf, where a ufunc returns a scalar
            # that the steps below could not write into.
            u = np.square(g, out=np.empty_like(g))  # g², then the update
            h = h + u
            np.sqrt(h, out=u)
            u += eps
            np.divide(g, u, out=u)
            u *= -rate
            return u, h

        return LeafUpdate(leaf, (state.sum_of_squares,),
                          lambda h: AdagradState(state.step + 1, h), fresh_update=True)

    return leafwise("adagrad", init, prepare)


def rmsprop(lr: float | Schedule = 0.01, decay: float = 0.99, eps: float = 1e-8) -> Transform:
    """RMSprop (Hinton), as in the book and PyTorch (eps outside the root)::

        h ← decay·h + (1 − decay)·g²
        updates = −lr · g / (√h + eps)

    h starts at zero.
    """
    check_learning_rate("rmsprop", lr)
    decay = fraction("rmsprop", "decay", decay)
    eps = positive("rmsprop", "eps", eps)

    def init(params):
        return RmspropState(0, zeros_like_tree(params))

    def prepare(grads, state, params):
        check_state("rmsprop", state, RmspropState)
        rate = learning_rate(lr, state.step)

        def leaf(g, h):
            # (1 − decay)·g², then the update; out= as in adagrad
            u = np.square(g, out=np.empty_like(g))
            u *= 1.0 - decay
            h = h * decay
            h += u
            np.sqrt(h, out=u)
            u += eps
            np.divide(g, u, out=u)
            u *= -rate
            return u, h

        return LeafUpdate(leaf, (state.nu,), lambda nu: RmspropState(state.step + 1, nu),
                          fresh_update=True)

    return leafwise("rmsprop", init, prepare)


@attrs.frozen
class AdamState:
    """State of ``adam`` and ``adamw``: the step count and the moment estimates, shaped like the params.

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
    return _adam("adam", lr, b1, b2, eps, 0.0, None)


def adamw(lr: float | Schedule = 1e-3, b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8,
          weight_decay: float = 1e-2, mask: Mask = None) -> Transform:
    """Adam with decoupled weight decay (Loshchilov & Hutter), as in PyTorch and optax::

        updates = −lr · (m̂ / (√v̂ + eps) + weight_decay·p)

    with m̂ and v̂ as in ``adam``. The decay skips the adaptive scaling, unlike
    ``chain(add_weight_decay(rate), adam())``. ``mask`` picks the decayed
    parameters (``None``: all; ``weights_only``: the ``w`` leaves; or any
    predicate ``(path, leaf) -> bool`` or tree of bools, see ``fnn.optim.regularize``).
    ``update`` needs the params.
    """
    return _adam("adamw", lr, b1, b2, eps, weight_decay, mask)


def _adam(where: str, lr: float | Schedule, b1: float, b2: float, eps: float,
          weight_decay: float, mask: Mask) -> Transform:
    check_learning_rate(where, lr)
    b1, b2 = fraction(where, "b1", b1), fraction(where, "b2", b2)
    eps = positive(where, "eps", eps)
    weight_decay = non_negative(where, "weight_decay", weight_decay)

    def init(params):
        return AdamState(0, zeros_like_tree(params), zeros_like_tree(params))

    def prepare(grads, state, params):
        check_state(where, state, AdamState)
        rate = learning_rate(lr, state.step)
        t = state.step + 1
        # Both corrections are scalars: m̂ = c1·m and √v̂ = c2·√v.
        c1, c2 = 1.0 / (1.0 - b1 ** t), 1.0 / math.sqrt(1.0 - b2 ** t)
        if weight_decay:
            require_params(where, grads, params)
            flags = decay_flags(where, mask, params)

        def leaf(g, m, v, p=None):
            # scratch first, the update at the end; out= as in adagrad
            u = np.multiply(g, 1.0 - b1, out=np.empty_like(g))
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
            if p is not None and next(flags):
                u -= p * (rate * weight_decay)
            return u, m, v

        return LeafUpdate(leaf, (state.mu, state.nu), lambda mu, nu: AdamState(t, mu, nu),
                          with_params=bool(weight_decay), fresh_update=True)

    return leafwise(where, init, prepare)
