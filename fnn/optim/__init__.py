"""Optimizers as pure gradient transformations (``Transform``), composable with ``chain``.

Every ``lr`` is a float or a schedule ``step -> float`` from ``fnn.optim.schedules``.
"""

from fnn.optim import schedules
from fnn.optim.adaptive import AdagradState, AdamState, RmspropState, adagrad, adam, adamw, rmsprop
from fnn.optim.regularize import CountState, add_weight_decay, clip_by_global_norm, global_norm, weights_only
from fnn.optim.sgd import MomentumState, SgdState, momentum, nesterov, sgd
from fnn.optim.transform import Transform, apply_updates, chain, update_and_apply

__all__ = [
    "Transform", "apply_updates", "update_and_apply", "chain", "schedules",
    "sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam", "adamw",
    "add_weight_decay", "clip_by_global_norm", "global_norm", "weights_only",
    "SgdState", "MomentumState", "AdagradState", "RmspropState", "AdamState", "CountState",
]
