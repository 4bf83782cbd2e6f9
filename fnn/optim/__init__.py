"""Optimizers as pure gradient transformations (``Transform``), built from small blocks.

The blocks (``scale_by_adam``, ``scale_by_rms``, ``scale_by_rss``, ``trace``,
``add_decayed_weights``, ``scale_by_learning_rate``, ``masked``, ``set_to_zero``)
compose with ``chain``; the optimizers of ``fnn.optim.alias`` are short chains of
them. Every ``lr`` is a float or a schedule ``count -> float`` from ``fnn.optim.schedules``.
"""

from fnn.optim import schedules
from fnn.optim.adaptive import (
                                ScaleByAdamState,
                                ScaleByRmsState,
                                ScaleByRssState,
                                scale_by_adam,
                                scale_by_rms,
                                scale_by_rss,
)
from fnn.optim.alias import adagrad, adam, adamw, add_weight_decay, momentum, nesterov, rmsprop, sgd
from fnn.optim.masking import MaskedState, freeze, masked, set_to_zero, weights_only
from fnn.optim.regularize import add_decayed_weights, clip_by_global_norm, global_norm
from fnn.optim.scale import ScaleByScheduleState, scale_by_learning_rate
from fnn.optim.transform import EmptyState, Transform, apply_updates, chain, update_and_apply
from fnn.optim.velocity import TraceState, trace
from fnn.optim.wrappers import (
                                InjectHyperparamsState,
                                MultiStepsState,
                                hyperparams,
                                inject_hyperparams,
                                multi_steps,
)

__all__ = [
    "Transform", "apply_updates", "update_and_apply", "chain", "schedules",
    "sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam", "adamw",
    "add_weight_decay", "clip_by_global_norm", "global_norm", "weights_only",
    "scale_by_adam", "scale_by_rms", "scale_by_rss", "trace", "add_decayed_weights",
    "scale_by_learning_rate", "masked", "set_to_zero", "freeze",
    "inject_hyperparams", "hyperparams", "multi_steps",
    "EmptyState", "ScaleByScheduleState", "TraceState", "ScaleByRssState", "ScaleByRmsState",
    "ScaleByAdamState", "MaskedState", "InjectHyperparamsState", "MultiStepsState",
]
