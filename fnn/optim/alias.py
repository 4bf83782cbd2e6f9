"""The optimizers, as short chains of the blocks (optax's ``alias.py``).

Each keeps fnn's conventions: updates are added to the params, eps is outside
the square root, and the learning rate of momentum and Nesterov scales the
gradient before the velocity (the book's v ← μ·v − lr·g).
"""

from __future__ import annotations

from fnn.optim.adaptive import scale_by_adam, scale_by_rms, scale_by_rss
from fnn.optim.masking import Mask
from fnn.optim.regularize import add_decayed_weights
from fnn.optim.scale import scale_by_learning_rate
from fnn.optim.transform import Schedule, Transform, chain
from fnn.optim.velocity import trace
from fnn.validators import fraction

__all__ = ["sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam", "adamw",
           "add_weight_decay"]


def sgd(lr: float | Schedule = 0.01) -> Transform:
    """Gradient descent: updates = −lr·g (W ← W − lr·dE/dW)."""
    return chain(scale_by_learning_rate(lr, name="sgd"), name="sgd")


def momentum(lr: float | Schedule = 0.01, momentum: float = 0.9) -> Transform:
    """Momentum as in the book: v ← momentum·v − lr·g; updates = v (so p ← p + v).

    The velocity starts at zero.
    """
    fraction("momentum", "momentum", momentum)
    return chain(scale_by_learning_rate(lr, name="momentum"), trace(momentum, name="momentum"),
                 name="momentum")


def nesterov(lr: float | Schedule = 0.01, momentum: float = 0.9) -> Transform:
    """Nesterov momentum (Sutskever et al.), written with the book's velocity::

        v ← momentum·v − lr·g
        updates = momentum·v − lr·g          (with the new v)

    that is p ← p + momentum²·v_old − (1 + momentum)·lr·g: PyTorch's and optax's
    ``nesterov=True`` (equal to them for a constant lr; they scale by lr after
    the velocity, so a schedule acts slightly differently). The book's code
    adds momentum²·v with the velocity *already updated*, which weighs the
    history by momentum³ and the gradient by (1 + momentum + momentum²)·lr:
    a different update, not this one. The velocity starts at zero.
    """
    fraction("nesterov", "momentum", momentum)
    return chain(scale_by_learning_rate(lr, name="nesterov"),
                 trace(momentum, nesterov=True, name="nesterov"), name="nesterov")


def adagrad(lr: float | Schedule = 0.01, eps: float = 1e-7) -> Transform:
    """AdaGrad, as in the book: h ← h + g²; updates = −lr · g / (√h + eps) (``scale_by_rss``)."""
    return chain(scale_by_rss(eps, name="adagrad"), scale_by_learning_rate(lr, name="adagrad"),
                 name="adagrad")


def rmsprop(lr: float | Schedule = 0.01, decay: float = 0.99, eps: float = 1e-8) -> Transform:
    """RMSprop: h ← decay·h + (1 − decay)·g²; updates = −lr · g / (√h + eps) (``scale_by_rms``)."""
    return chain(scale_by_rms(decay, eps, name="rmsprop"),
                 scale_by_learning_rate(lr, name="rmsprop"), name="rmsprop")


def adam(lr: float | Schedule = 1e-3, b1: float = 0.9, b2: float = 0.999,
         eps: float = 1e-8) -> Transform:
    """Adam: updates = −lr · m̂ / (√v̂ + eps), with the moments of ``scale_by_adam``."""
    return chain(scale_by_adam(b1, b2, eps, name="adam"), scale_by_learning_rate(lr, name="adam"),
                 name="adam")


def adamw(lr: float | Schedule = 1e-3, b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8,
          weight_decay: float = 1e-2, mask: Mask | None = None) -> Transform:
    """Adam with decoupled weight decay (Loshchilov & Hutter), as in PyTorch and optax::

        updates = −lr · (m̂ / (√v̂ + eps) + weight_decay·p)

    The decay skips the adaptive scaling, unlike ``chain(add_weight_decay(rate),
    adam())``. ``mask`` picks the decayed parameters (``None``: all;
    ``weights_only``: the ``w`` leaves; see ``fnn.optim.masking``). ``update``
    needs the params.
    """
    return chain(scale_by_adam(b1, b2, eps, name="adamw"),
                 add_decayed_weights(weight_decay, mask, name="adamw"),
                 scale_by_learning_rate(lr, name="adamw"), name="adamw")


def add_weight_decay(rate: float, mask: Mask | None = None) -> Transform:
    """L2 weight decay as a gradient transform: g ← g + rate·p on the masked leaves.

    Put it before an optimizer, ``chain(add_weight_decay(1e-4), momentum())``,
    to train on the loss + ½·rate·‖p‖² (with Adam this is *coupled* decay,
    scaled by the adaptive step; ``adamw`` decouples it).
    """
    return chain(add_decayed_weights(rate, mask, name="add_weight_decay"),
                 name="add_weight_decay")
