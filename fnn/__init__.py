"""fnn: a functional-style, pure neural-network library on numpy and attrs.

Layers are pairs of pure functions, states are frozen records, and a train
step takes a state and returns a new one::

    import fnn
    from fnn import layers, losses, optim, random

    model = fnn.sequential(layers.dense(100), layers.relu(), layers.dense(10))
    opt = optim.adam(1e-3)
    ts = fnn.init_train_state(model, opt, random.key(0), (784,))   # float32 by default
    step = fnn.make_train_step(model, losses.softmax_cross_entropy(), opt)
    ts, history = fnn.fit(step, ts, x, labels, epochs=5, batch_size=64, key=random.key(1))

Modules: ``layers``, ``losses``, ``optim`` (with ``optim.schedules``), ``metrics``,
``callbacks``, ``data``, ``checkpoint``, ``random``, ``tree``, ``gradcheck``, ``testing``
(a pytest plugin), ``initializers``, ``plot``; ``help(fnn.<module>)`` describes each. The
README of the source distribution has the full tour.
"""

from fnn import (
    allocator,
    callbacks,
    checkpoint,
    data,
    detection,
    distributed,
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
from fnn.callbacks import checkpoint_every, early_stopping, restore_best, resume
from fnn.combinators import add, concatenate, residual, sequential
from fnn.core import Layer, Loss
from fnn.errors import (
    ConfigError,
    DataError,
    DTypeError,
    FnnError,
    MissingKeyError,
    NonFiniteError,
    RankError,
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
    "TrainStep", "EvalMetrics", "History", "restore_best", "checkpoint_every", "resume",
    "tree", "random", "layers", "losses", "optim", "data", "metrics", "callbacks", "gradcheck",
    "initializers", "detection", "plot", "allocator", "keep_freed_memory", "checkpoint",
    "distributed",
    "FnnError", "ShapeError", "DTypeError", "TreeError", "DataError", "NonFiniteError",
    "MissingKeyError", "ConfigError", "RankError",
]
