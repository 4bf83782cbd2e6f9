"""Optimizers as pure gradient transformations (``Transform``), composable with ``chain``."""

from fnn.optim.adaptive import AdamState, adam
from fnn.optim.sgd import MomentumState, SgdState, momentum, sgd
from fnn.optim.transform import Transform, apply_updates, chain

__all__ = ["Transform", "apply_updates", "chain", "sgd", "momentum", "adam",
           "SgdState", "MomentumState", "AdamState"]
