"""fnn: a functional-style, pure neural-network library on numpy and attrs.

Layers are pairs of pure functions, states are frozen records, and a train
step takes a state and returns a new one. See ``README.md`` for a tour.
"""

from fnn import (
    allocator,
    checkpoint,
    data,
    gradcheck,
    initializers,
    layers,
    losses,
    metrics,
    optim,
    plot,
    random,
    tree,
)
from fnn.allocator import keep_freed_memory
from fnn.combinators import add, concatenate, residual, sequential
from fnn.core import Layer, Loss
from fnn.errors import (
    ConfigError,
    DataError,
    DTypeError,
    FnnError,
    MissingKeyError,
    NonFiniteError,
    ShapeError,
    TreeError,
)
from fnn.summary import summary
from fnn.train import (
    EvalMetrics,
    History,
    StepMetrics,
    TrainState,
    TrainStep,
    early_stopping,
    evaluate,
    fit,
    init_train_state,
    make_train_step,
    predict,
    value_and_grad,
)

__version__ = "0.1.0"

__all__ = [
    "Layer", "Loss", "TrainState", "StepMetrics", "sequential", "residual", "concatenate", "add",
    "summary", "init_train_state",
    "value_and_grad", "make_train_step", "predict", "fit", "evaluate", "early_stopping",
    "TrainStep", "EvalMetrics", "History",
    "tree", "random", "layers", "losses", "optim", "data", "metrics", "gradcheck", "initializers",
    "plot", "allocator", "keep_freed_memory", "checkpoint",
    "FnnError", "ShapeError", "DTypeError", "TreeError", "DataError", "NonFiniteError",
    "MissingKeyError", "ConfigError",
]
