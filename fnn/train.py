"""The train state and the pure functions that advance it."""

from __future__ import annotations

import math
import time
import types
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import attrs
import numpy as np
from numpy.typing import DTypeLike

from fnn import random, tree
from fnn.allocator import keep_freed_memory as _keep_freed_memory
from fnn.core import Layer, Loss, check_grads, freeze, param_grads
from fnn.data import batches, check_pairs
from fnn.errors import ConfigError, DataError, DTypeError, NonFiniteError
from fnn.metrics import accuracy, binary_accuracy
from fnn.optim.transform import Transform, update_and_apply
from fnn.progress import progress_bar
from fnn.validators import integer

__all__ = ["TrainState", "StepMetrics", "TrainStep", "EvalMetrics", "History",
           "init_train_state", "value_and_grad", "make_train_step", "predict", "evaluate", "fit"]


def _read_only_mapping(mapping: Mapping) -> Mapping:
    """A read-only view of a copy of ``mapping``, for frozen records."""
    return types.MappingProxyType(dict(mapping))


@attrs.frozen
class TrainState:
    """Everything a training run carries from one step to the next.

    ``params`` and ``state`` are the model's, ``opt_state`` the optimizer's;
    ``key`` seeds the next step's randomness and ``step`` counts the steps taken.
    """

    params: Any = attrs.field(converter=freeze)
    state: Any = attrs.field(converter=freeze)
    opt_state: Any = attrs.field(converter=freeze)
    key: random.Key
    step: int = 0


@attrs.frozen
class StepMetrics:
    """What a train step reports: the loss of the batch, before the update, and the global
    norm √(Σ g²) of its gradients (NaN when the step was made with ``check_finite=False``,
    as that check is what measures it)."""

    loss: float
    grad_norm: float = math.nan


def init_train_state(model: Layer, optimizer: Transform, key: random.Key,
                     in_shape: tuple[int, ...], dtype: DTypeLike = np.float32) -> TrainState:
    """Initialise the model for inputs of ``in_shape`` (no batch axis) and the optimizer.

    ``key`` is split: one part makes the parameters, the other is the state's key.
    """
    if np.dtype(dtype) not in (np.float32, np.float64):
        raise DTypeError(f"init_train_state: dtype must be float32 or float64, got "
                         f"{np.dtype(dtype)}")
    if not isinstance(in_shape, (tuple, list)):
        raise ConfigError(f"init_train_state: in_shape must be a tuple such as (784,) or "
                          f"(1, 28, 28), got {in_shape!r}")
    in_shape = tuple(integer("init_train_state", "each size in in_shape", n) for n in in_shape)
    init_key, train_key = random.split(key)
    params, state, _ = model.init(init_key, in_shape, dtype)
    return TrainState(params, state, optimizer.init(params), train_key, 0)


def value_and_grad(model: Layer, loss: Loss) -> Callable:
    """``f(params, state, x, t, *, key=None, train=True) -> (loss_value, grads, new_state)``.

    One forward pass, the loss, and one backward pass; ``grads`` is shaped like ``params``
    (a layer whose backward returns another shape is named, with the parameter's path).
    """

    def f(params, state, x, t, *, key=None, train=True):
        y, new_state, cache = model.forward(params, state, x, key=key, train=train)
        value, loss_cache = loss.forward(y, t)
        grads = param_grads(model, params, cache, loss.backward(loss_cache))
        if not model.children:  # combinators check their children's
            check_grads(model.name, params, grads)
        return value, grads, new_state

    return f


def check_batch(x: Any, t: Any) -> None:
    """x and t are arrays with the same, non-zero number of samples."""
    if check_pairs("train step", x, t) == 0:
        raise DataError(f"expected a non-empty batch, got x of shape {np.shape(x)}")


def check_finite_grads(step: int, grads: Any) -> float:
    """The global norm of ``grads``; ``NonFiniteError`` naming the first gradient leaf
    holding a NaN or an infinity."""
    # g·g is one BLAS pass and is NaN or inf whenever g holds either, and so is the
    # sum; only when it is do we pay for the exact test (the squares and their sum can
    # also overflow for huge finite g).
    leaves = tree.leaves(grads)
    squares = float(sum([np.vdot(g, g) for g in leaves]))
    if math.isfinite(squares):
        return math.sqrt(squares)
    path = _first_non_finite(grads)
    if path is not None:
        raise NonFiniteError(f"train step {step}: the gradient at {path} holds NaN or inf; "
                             f"the state before this step is unchanged (try a smaller "
                             f"learning rate or clip_by_global_norm)")
    # Finite but so large that the squares overflow: scale by the largest magnitude first.
    scale = max(float(np.max(np.abs(g), initial=0.0)) for g in leaves)
    return scale * math.sqrt(sum(float(np.vdot(g / scale, g / scale)) for g in leaves))


def check_finite_state(step: int, params: Any, state: Any, opt_state: Any) -> None:
    """``NonFiniteError`` naming the first leaf of a step's new params, layer state or
    optimizer state that holds a NaN or an infinity (an update or a moment that
    overflowed, batch statistics of huge inputs), so none is ever returned."""
    # One BLAS dot a·b per pair of float array leaves of one shape (a new weight and its
    # moment), a·a for a leaf left alone: a·b is NaN or inf whenever a or b holds either
    # (inf·0 is NaN), and so is the sum. Pairs halve the calls, whose overhead costs as
    # much as the reading. Only when the sum is not finite (a leaf holds NaN or inf, or
    # finite products overflowed) do we pay for the exact test.
    dots: list = []
    alone: dict = {}  # shape -> a leaf waiting for its pair
    for leaf in tree.leaves((params, state, opt_state)):
        if type(leaf) is np.ndarray:
            if leaf.dtype.kind in "fc":
                if leaf.shape in alone:
                    dots.append(np.vdot(leaf, alone.pop(leaf.shape)))
                else:
                    alone[leaf.shape] = leaf
        elif _is_float(leaf):  # a scalar
            dots.append(np.vdot(leaf, leaf))
    dots += map(np.vdot, alone.values(), alone.values())
    if np.isfinite(sum(dots)):
        return
    for name, part in (("params", params), ("state", state), ("opt_state", opt_state)):
        path = _first_non_finite(part)
        if path is not None:
            where = name if path == "<root>" else name + path
            raise NonFiniteError(f"train step {step}: the new {where} would hold NaN or inf; "
                                 f"the state before this step is unchanged (try a smaller "
                                 f"learning rate, or inputs of a smaller scale)")


def _first_non_finite(part: Any) -> str | None:
    """The path of the first float leaf of ``part`` holding a NaN or an infinity: the
    exact scan behind both checks, paid only once their cheap sum was not finite."""
    for path, leaf in tree.leaves_with_paths(part):
        if _is_float(leaf) and not np.isfinite(leaf).all():
            return path
    return None


def _is_float(leaf: Any) -> bool:
    dtype = getattr(leaf, "dtype", None)
    return dtype.kind in "fc" if dtype is not None else isinstance(leaf, (float, complex))


@attrs.frozen
class TrainStep:
    """``step(ts, x, t) -> (new_ts, metrics)``: one pure gradient step on a batch.

    Made by ``make_train_step``; it keeps the model and loss so that ``fit``
    can evaluate validation data with them.
    """

    model: Layer
    loss: Loss
    optimizer: Transform
    check_finite: bool = True
    keep_freed_memory: bool = True
    grad_fn: Callable = attrs.field(init=False, repr=False, eq=False)

    def __attrs_post_init__(self) -> None:
        object.__setattr__(self, "grad_fn", value_and_grad(self.model, self.loss))
        if self.keep_freed_memory:
            _keep_freed_memory()

    def __call__(self, ts: TrainState, x: np.ndarray, t: np.ndarray) -> tuple[TrainState, StepMetrics]:
        check_batch(x, t)
        # split(ts.key) gives (next key, this step's key); a model that reads no key
        # (no dropout) skips deriving the second, with the same bytes.
        next_key = random.child(ts.key, 0)
        step_key = random.child(ts.key, 1) if self.model.uses_key else None
        value, grads, new_state = self.grad_fn(ts.params, ts.state, x, t, key=step_key, train=True)
        return self.commit(ts, value, grads, new_state, next_key)

    def commit(self, ts: TrainState, value: float, grads: Any, new_state: Any,
               next_key: random.Key) -> tuple[TrainState, StepMetrics]:
        """The state after this step: the batch's loss and gradients checked, then applied."""
        if not np.isfinite(value):
            raise NonFiniteError(f"train step {ts.step}: the loss is {value}; the state before "
                                 f"this step is unchanged (try a smaller learning rate)")
        grad_norm = check_finite_grads(ts.step, grads) if self.check_finite else math.nan
        params, opt_state = update_and_apply(self.optimizer, grads, ts.opt_state, ts.params)
        if self.check_finite:
            check_finite_state(ts.step, params, new_state, opt_state)
        return (TrainState(params, new_state, opt_state, next_key, ts.step + 1),
                StepMetrics(value, grad_norm))


def make_train_step(model: Layer, loss: Loss, optimizer: Transform, *,
                    check_finite: bool = True, keep_freed_memory: bool = True,
                    comm: Any = None) -> TrainStep:
    """``step(ts, x, t) -> (new_ts, metrics)``: one pure gradient step on a batch.

    The step splits ``ts.key`` into the next state's key and a key for this
    step's randomness (dropout), so a run depends on its seed alone.
    A loss that is NaN or infinite raises ``NonFiniteError`` naming the step;
    so does a NaN or infinite gradient, new parameter, layer state (batch norm's
    running statistics) or optimizer state leaf (naming its path), unless
    ``check_finite=False``: those checks read every gradient and every new state
    leaf once (see ``benchmarks/`` for their cost). ``ts`` is never half-updated,
    and no non-finite state is ever returned.
    Unless ``keep_freed_memory=False``, making the step calls
    ``fnn.keep_freed_memory()``: each step's fresh arrays then reuse the memory the
    last step freed instead of new pages (a quarter of a CNN step in page faults);
    the process keeps its peak footprint.

    With ``comm`` (``fnn.distributed.communicator()``), the step is data-parallel:
    each process passes its shard of the global batch and all end with the state
    of one step on the whole batch (see ``fnn.distributed.DataParallelStep``).
    """
    if comm is not None:
        from fnn.distributed.step import DataParallelStep
        return DataParallelStep(model, loss, optimizer, check_finite, keep_freed_memory,
                                comm=comm)
    return TrainStep(model, loss, optimizer, check_finite, keep_freed_memory)


def predict(model: Layer, ts: TrainState, x: np.ndarray, *,
            batch_size: int | None = None) -> np.ndarray:
    """The model's outputs on ``x`` in evaluation mode (``train=False``).

    With ``batch_size``, ``x`` is run in slices of that many samples to bound memory.
    """
    if batch_size is None:
        return model.forward(ts.params, ts.state, x, train=False)[0]
    batch_size = integer("predict", "batch_size", batch_size)
    return np.concatenate([model.forward(ts.params, ts.state, x[i:i + batch_size], train=False)[0]
                           for i in range(0, max(len(x), 1), batch_size)])


@attrs.frozen
class EvalMetrics:
    """Loss, accuracy and any extra metrics on a data set, in evaluation mode.

    ``accuracy`` is ``binary_accuracy`` (logits against 0/1 targets) for a model
    trained with ``sigmoid_binary_cross_entropy``, ``accuracy`` for class scores
    (batch, classes ≥ 2) with integer labels or one-hot rows, and NaN otherwise
    (regression). ``metrics`` maps the name of each extra metric to its value.
    """

    loss: float
    accuracy: float
    metrics: Mapping[str, float] = attrs.field(factory=dict, converter=_read_only_mapping)


def evaluate(model: Layer, loss: Loss, ts: TrainState, x: np.ndarray, t: np.ndarray, *,
             batch_size: int | None = None,
             metrics: Mapping[str, Callable] | None = None) -> EvalMetrics:
    """The loss of the whole of ``(x, t)``, the accuracy and ``metrics``, with ``train=False``.

    The forward pass runs in slices of ``batch_size`` samples; the loss is then
    taken once over all outputs, so it does not depend on the slicing.
    ``metrics`` maps names to functions ``metric(y, t) -> float`` of the outputs
    and targets, such as ``{"mae": fnn.metrics.mean_absolute_error}``.
    """
    metrics = _check_metrics("evaluate", metrics)
    check_batch(x, t)
    y = predict(model, ts, x, batch_size=batch_size)
    value, _ = loss.forward(y, t)
    return EvalMetrics(value, _accuracy(loss, y, np.asarray(t)),
                       {name: float(metric(y, t)) for name, metric in metrics.items()})


def _check_metrics(where: str, metrics: Mapping[str, Callable] | None) -> Mapping[str, Callable]:
    if metrics is None:
        return {}
    if not isinstance(metrics, Mapping) or not all(
            isinstance(name, str) and callable(metric) for name, metric in metrics.items()):
        raise ConfigError(f"{where}: metrics must map names to functions metric(y, t) -> float, "
                          f"such as {{'mae': fnn.metrics.mean_absolute_error}}, got {metrics!r}")
    return metrics


def _accuracy(loss: Loss, y: np.ndarray, t: np.ndarray) -> float:
    """The accuracy that fits the loss and targets, or NaN where none does (see ``EvalMetrics``)."""
    if loss.name == "sigmoid_binary_cross_entropy":
        binary = y.shape == t.shape and np.isin(t, (0, 1)).all()  # soft targets have none
        return binary_accuracy(y, t) if binary else math.nan
    return accuracy(y, t) if _class_targets(y, t) else math.nan


def _class_targets(y: np.ndarray, t: np.ndarray) -> bool:
    """Whether t holds class labels for scores y: integer labels, or rows of y's shape
    that are probabilities (one-hot or soft). Regression targets are neither."""
    if y.ndim != 2 or y.shape[1] < 2:
        return False
    if t.ndim == 1:
        return t.dtype.kind in "iu"
    return t.shape == y.shape and bool(
        (t >= 0).all() and np.allclose(t.sum(axis=1), 1.0, atol=1e-3))


@attrs.frozen
class History:
    """What ``fit`` saw: per-epoch tuples, the loss of every step, and whether it was cut short.

    ``train_loss[e]`` is the batch-size-weighted mean of epoch e's step losses
    (each taken before that step's update); ``val_loss``, ``val_accuracy`` and
    ``val_metrics[name]`` (one tuple per extra metric) are measured after the
    epoch (empty without validation data); ``seconds`` is each epoch's wall time.
    ``initial_epoch`` is where the run started (``fit``'s argument), so epoch
    ``initial_epoch + len(train_loss)`` is the next one. ``interrupted`` is True
    when Ctrl-C ended the run.
    """

    train_loss: tuple[float, ...] = ()
    val_loss: tuple[float, ...] = ()
    val_accuracy: tuple[float, ...] = ()
    seconds: tuple[float, ...] = ()
    step_loss: tuple[float, ...] = attrs.field(default=(), repr=False)
    interrupted: bool = False
    val_metrics: Mapping[str, tuple[float, ...]] = attrs.field(factory=dict,
                                                               converter=_read_only_mapping)
    initial_epoch: int = 0

    @property
    def epochs_done(self) -> int:
        """The number of epochs completed, counting those before ``initial_epoch``."""
        return self.initial_epoch + len(self.train_loss)


def fit(step: Callable, ts: TrainState, x: np.ndarray, t: np.ndarray, *, epochs: int,
        batch_size: int, key: random.Key, validation: tuple[np.ndarray, np.ndarray] | None = None,
        evaluate_fn: Callable | None = None, metrics: Mapping[str, Callable] | None = None,
        initial_epoch: int = 0, drop_last: bool = False, callbacks: Sequence[Callable] = (),
        step_callbacks: Sequence[Callable] = (), progress: bool = True,
        comm: Any = None) -> tuple[TrainState, History]:
    """Run ``step`` over ``epochs`` passes of shuffled batches; return the state and a History.

    Epoch e shuffles with ``random.split(key, epochs)[e]``, so a run depends on
    its keys alone, and ``initial_epoch=k`` resumes a run saved after k epochs.
    With ``validation=(x_val, t_val)``, each epoch ends with
    ``evaluate_fn(ts, x_val, t_val) -> EvalMetrics`` (by default ``evaluate``
    with the model and loss of a step made by ``make_train_step`` and ``metrics``,
    a mapping of names to ``metric(y, t) -> float``, recorded in ``history.val_metrics``).
    After every step, each ``step_callback(ts, step_metrics)`` runs (for logging: the
    loss, ``grad_norm``, the learning rate at ``ts.step``); after each epoch, every
    ``callback(ts, history)`` runs, and one returning True stops training.
    Ctrl-C stops it too, returning the state after the last completed step with
    ``history.interrupted`` set. Any other exception propagates with the progress
    made so far on it: ``exc.ts`` is the state after the last completed step and
    ``exc.history`` the history until then. ``progress=False`` is silent.

    Data-parallel (``comm``, or a step made with ``comm``): every rank passes the
    same data and settings (checked at the start, with the state), steps on its
    shard of each batch and ends with the same state and history; rank 0 alone
    shows progress and runs the callbacks (so a checkpoint is written once, and a
    stateful callback such as ``restore_best`` holds its state there), and every
    rank follows their decision to stop.
    """
    integer("fit", "epochs", epochs, 1)
    integer("fit", "initial_epoch", initial_epoch, 0)
    integer("fit", "batch_size", batch_size, 1)
    metrics = _check_metrics("fit", metrics)
    check_batch(x, t)
    if initial_epoch >= epochs:
        raise ConfigError(f"fit: initial_epoch must be below epochs ({epochs}), "
                          f"got {initial_epoch}")
    if drop_last and len(x) < batch_size:
        raise ConfigError(f"fit: drop_last with batch_size {batch_size} leaves no batch of "
                          f"the {len(x)} samples")
    evaluate_val = None
    if validation is not None:
        if not isinstance(validation, (tuple, list)) or len(validation) != 2:
            raise ConfigError(f"fit: validation must be a pair (x_val, t_val), got "
                              f"{type(validation).__name__}")
        check_batch(*validation)
        evaluate_val = _validation_fn(step, evaluate_fn, metrics, batch_size)
    elif metrics:
        raise ConfigError("fit: metrics are measured on the validation data; pass validation")
    comm = _fit_communicator(step, comm, ts, x, t, dict(
        epochs=epochs, batch_size=batch_size, key=key, initial_epoch=initial_epoch,
        drop_last=drop_last, validation=validation is not None))
    progress = progress and (comm is None or comm.rank == 0)
    n_batches = len(x) // batch_size if drop_last else -(-len(x) // batch_size)
    history = History(initial_epoch=initial_epoch)
    step_losses: list[float] = []
    try:
        for epoch, epoch_key in enumerate(random.split(key, epochs)[initial_epoch:], initial_epoch):
            start = time.perf_counter()
            bar = progress_bar(n_batches, f"epoch {epoch + 1}/{epochs}", progress)
            losses, sizes = [], []
            try:
                shard = None if comm is None else comm.shard
                for i, (xb, tb) in enumerate(batches(x, t, batch_size, key=epoch_key,
                                                     drop_last=drop_last, shard=shard)):
                    ts, step_metrics = step(ts, xb, tb)
                    losses.append(step_metrics.loss)
                    sizes.append(min(batch_size, len(x) - i * batch_size))  # the whole batch's
                    step_losses.append(step_metrics.loss)
                    bar.update(1, f"loss {step_metrics.loss:.4f}")
                    if step_callbacks:
                        _run_callbacks(step_callbacks, (ts, step_metrics), comm)
                val = evaluate_val(ts, *validation) if evaluate_val and validation else None
            finally:
                bar.close()
            history = _record_epoch(history, float(np.dot(losses, sizes) / np.sum(sizes)), val,
                                    time.perf_counter() - start, step_losses)
            bar.write(_summary(epoch + 1, epochs, history))
            # Every callback sees every epoch (a logger after an early stop still logs).
            if _run_callbacks(callbacks, (ts, history), comm, check=ts):
                break
    except KeyboardInterrupt:
        history = attrs.evolve(history, step_loss=tuple(step_losses), interrupted=True)
        if progress:
            print(f"interrupted: returning the state after step {ts.step}", flush=True)
    except Exception as exc:
        _attach_progress(exc, ts, attrs.evolve(history, step_loss=tuple(step_losses)))
        raise
    return ts, history


def _validation_fn(step: Callable, evaluate_fn: Callable | None, metrics: Mapping[str, Callable],
                   batch_size: int) -> Callable:
    """``f(ts, x_val, t_val) -> EvalMetrics`` for ``fit``: ``evaluate_fn``, or ``evaluate``
    with the step's model and loss."""
    if evaluate_fn is not None:
        if metrics:
            raise ConfigError("fit: metrics are passed to the default evaluate; with "
                              "evaluate_fn, measure them there")
        return evaluate_fn
    if not isinstance(step, TrainStep):
        raise ConfigError("fit: validation needs evaluate_fn(ts, x, t) -> EvalMetrics "
                          "when the step was not made by make_train_step")

    def evaluate_step(ts, x_val, t_val):
        return evaluate(step.model, step.loss, ts, x_val, t_val, batch_size=batch_size,
                        metrics=metrics)

    return evaluate_step


def _record_epoch(history: History, train_loss: float, val: EvalMetrics | None, seconds: float,
                  step_losses: list[float]) -> History:
    """``history`` with one more epoch."""
    if val is None:
        return attrs.evolve(history, train_loss=(*history.train_loss, train_loss),
                            seconds=(*history.seconds, seconds), step_loss=tuple(step_losses))
    return attrs.evolve(
        history, train_loss=(*history.train_loss, train_loss),
        val_loss=(*history.val_loss, val.loss), val_accuracy=(*history.val_accuracy, val.accuracy),
        val_metrics={name: (*history.val_metrics.get(name, ()), value)
                     for name, value in val.metrics.items()},
        seconds=(*history.seconds, seconds), step_loss=tuple(step_losses))


def _attach_progress(exc: BaseException, ts: TrainState, history: History) -> None:
    """Put fit's progress on the exception leaving it, as ``exc.ts`` and ``exc.history``."""
    try:
        exc.ts, exc.history = ts, history  # type: ignore[attr-defined]
    except AttributeError:  # an exception type without instance attributes (rare)
        return
    if hasattr(exc, "add_note"):  # Python >= 3.11: the traceback tells where to look
        exc.add_note(f"fit: the state after step {ts.step} and the history until then are "
                     f"on this exception as .ts and .history")


def _fit_communicator(step: Callable, comm: Any, ts: TrainState, x: Any, t: Any,
                      settings: dict[str, Any]) -> Any:
    """The run's communicator (the step's unless given; None for one process), once
    every rank has been found to start alike."""
    comm = getattr(step, "comm", None) if comm is None else comm
    if comm is None:
        return None
    from fnn.distributed.training import start_run
    return start_run(step, comm, ts, x, t, settings)


def _run_callbacks(callbacks: Sequence[Callable], args: tuple, comm: Any,
                   check: TrainState | None = None) -> bool:
    """Whether any ``callback(*args)`` returned True (each runs). In a data-parallel run
    they run on rank 0 alone and every rank follows, after checking that every rank
    holds the train state ``check`` (when given)."""
    def decide() -> bool:
        return any([bool(callback(*args)) for callback in callbacks])

    if comm is None:
        return decide()
    from fnn.distributed.training import on_root
    return on_root(comm, decide, check)


def _summary(epoch: int, epochs: int, history: History) -> str:
    line = f"epoch {epoch}/{epochs}  loss {history.train_loss[-1]:.4f}"
    if history.val_loss:
        line += f"  val_loss {history.val_loss[-1]:.4f}"
        if not np.isnan(history.val_accuracy[-1]):
            line += f"  val_accuracy {history.val_accuracy[-1]:.2%}"
        line += "".join(f"  val_{name} {values[-1]:.4g}"
                        for name, values in history.val_metrics.items())
    return line + f"  ({history.seconds[-1]:.1f} s)"
