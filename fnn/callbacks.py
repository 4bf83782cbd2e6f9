"""Callbacks for ``fit``: ``callback(ts, history) -> bool`` after each epoch, True stops.

``early_stopping`` reads only the history; ``restore_best`` keeps the best
epoch's state, and ``checkpoint_every`` writes the state to a file that
``resume`` reads back, so a killed run continues where it was saved.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from pathlib import Path

from fnn import checkpoint
from fnn.errors import ConfigError
from fnn.train import History, TrainState
from fnn.validators import integer, non_negative

__all__ = ["early_stopping", "restore_best", "RestoreBest", "checkpoint_every", "resume"]

# Each monitor's sign: monitored values times it fall as the run improves.
_MONITORS = {"train_loss": 1.0, "val_loss": 1.0, "val_accuracy": -1.0}


def _check_monitor(where: str, monitor: str) -> None:
    if monitor not in _MONITORS:
        raise ConfigError(f"{where}: monitor must be train_loss, val_loss or val_accuracy, "
                          f"got {monitor!r}")


def _best_epoch(where: str, monitor: str, min_delta: float, history: History) -> tuple[int, int]:
    """(index of the best epoch of ``history`` by ``monitor``, number of epochs): an epoch is
    the new best when it improves on the best before it by more than ``min_delta``."""
    values = getattr(history, monitor)
    if not values:
        raise ConfigError(f"{where}: the history has no {monitor} (pass validation data to fit "
                          f"to monitor a val_ field)")
    if any(math.isnan(v) for v in values):
        hint = (" (accuracy is NaN where the outputs are not class scores or 0/1 targets, as in a "
                "regression: monitor val_loss)" if monitor == "val_accuracy" else "")
        raise ConfigError(f"{where}: {monitor} is NaN, so it cannot tell a better epoch{hint}")
    sign = _MONITORS[monitor]
    best_epoch, best = 0, sign * values[0]
    for epoch, value in enumerate(values[1:], 1):
        if sign * value < best - min_delta:
            best_epoch, best = epoch, sign * value
    return best_epoch, len(values)


def early_stopping(patience: int, *, monitor: str = "val_loss", min_delta: float = 0.0) -> Callable:
    """A ``fit`` callback that stops when ``monitor`` has not improved for ``patience`` epochs.

    ``monitor`` names a History field: losses must fall, ``val_accuracy`` rise,
    by more than ``min_delta`` to count as an improvement. A NaN value (accuracy
    of a regression) raises ``ConfigError``. It reads only the history, so it
    holds no state of its own.
    """
    integer("early_stopping", "patience", patience, 1)
    _check_monitor("early_stopping", monitor)
    min_delta = non_negative("early_stopping", "min_delta", min_delta)

    def callback(ts: TrainState, history: History) -> bool:
        best_epoch, epochs = _best_epoch("early_stopping", monitor, min_delta, history)
        return epochs - 1 - best_epoch >= patience

    return callback


class RestoreBest:
    """A ``fit`` callback that keeps the state after the best epoch by ``monitor``.

    After ``fit``, ``ts`` is that state (None before the first epoch), ``epoch``
    the number of epochs done when it was taken (counting ``initial_epoch``) and
    ``value`` its ``monitor`` value. Unlike fnn's records it changes as the run
    goes: make a new one for each run. It never stops training.
    """

    def __init__(self, monitor: str, min_delta: float):
        self.monitor, self.min_delta = monitor, min_delta
        self.ts: TrainState | None = None
        self.epoch = 0
        self.value = math.nan

    def __call__(self, ts: TrainState, history: History) -> bool:
        best_epoch, epochs = _best_epoch("restore_best", self.monitor, self.min_delta, history)
        if best_epoch == epochs - 1:
            self.ts, self.epoch = ts, history.epochs_done
            self.value = getattr(history, self.monitor)[-1]
        return False


def restore_best(monitor: str = "val_loss", *, min_delta: float = 0.0) -> RestoreBest:
    """A ``RestoreBest`` callback: after ``fit(..., callbacks=[best])``, ``best.ts`` is the
    state of the best epoch by ``monitor`` (as ``early_stopping`` judges it)."""
    _check_monitor("restore_best", monitor)
    return RestoreBest(monitor, non_negative("restore_best", "min_delta", min_delta))


def checkpoint_every(path: str | os.PathLike, *, every: int = 1) -> Callable:
    """A ``fit`` callback that saves the state every ``every`` epochs to ``path``, atomically
    (``checkpoint.save``: a killed run leaves the previous file whole), with the number of
    epochs done; ``resume(path, like=ts)`` reads both back for ``fit(..., initial_epoch=)``."""
    every = integer("checkpoint_every", "every", every, 1)
    path = Path(path)

    def callback(ts: TrainState, history: History) -> bool:
        if history.epochs_done % every == 0:
            checkpoint.save(path, {"epochs_done": history.epochs_done, "ts": ts})
        return False

    return callback


def resume(path: str | os.PathLike, like: TrainState) -> tuple[TrainState, int]:
    """``(ts, epochs_done)`` from a file ``checkpoint_every`` wrote, checked against ``like``
    (a fresh state of the same model and optimizer); ``(like, 0)`` when there is no file yet.

    Continue with ``fit(step, ts, ..., key=<the same key>, initial_epoch=epochs_done)``: the
    run then equals one that was never interrupted.
    """
    if not Path(path).exists():
        return like, 0
    saved = checkpoint.load(path, like={"epochs_done": 0, "ts": like})
    return saved["ts"], saved["epochs_done"]
