"""Evaluation metrics: ``metric(y, t) -> float``, outputs first and targets second."""

from __future__ import annotations

import numpy as np

from fnn.errors import ConfigError, DataError, ShapeError
from fnn.validators import integer

__all__ = ["accuracy", "binary_accuracy", "top_k_accuracy", "mean_absolute_error", "r2_score"]


def _class_labels(where: str, y: np.ndarray, t: np.ndarray) -> np.ndarray:
    """The integer labels of targets ``t`` for scores ``y`` (batch, classes >= 2): ``t`` is
    labels (batch,) or one-hot rows of ``y``'s shape."""
    if y.ndim != 2 or y.shape[0] == 0:
        raise ShapeError(f"{where}: expected scores of shape (batch, classes) with batch > 0, "
                         f"got {y.shape}")
    if y.shape[1] == 1:
        raise ShapeError(f"{where}: scores of shape {y.shape} have a single column, whose argmax "
                         f"is always 0; for one logit per sample (sigmoid_binary_cross_entropy) "
                         f"use fnn.metrics.binary_accuracy(y, t)")
    if t.ndim == 2:
        if t.shape != y.shape:
            raise ShapeError(f"{where}: one-hot targets must have the scores' shape {y.shape}, "
                             f"got {t.shape}")
        return t.argmax(axis=1)
    if t.shape != y.shape[:1] or t.dtype.kind not in "iu":
        raise ShapeError(f"{where}: expected integer labels of shape ({y.shape[0]},) or "
                         f"one-hot rows of shape {y.shape}, got {t.dtype} of shape {t.shape}")
    return t


def accuracy(y: np.ndarray, t: np.ndarray) -> float:
    """The fraction of rows of scores ``y`` (batch, classes) whose argmax is the target.

    ``t`` holds integer labels (batch,) or one-hot rows (batch, classes). A single
    column of scores is refused: that is ``binary_accuracy``'s case.
    """
    y = np.asarray(y)
    labels = _class_labels("accuracy", y, np.asarray(t))
    return float(np.mean(y.argmax(axis=1) == labels))


def top_k_accuracy(y: np.ndarray, t: np.ndarray, k: int = 5) -> float:
    """The fraction of rows of ``y`` (batch, classes) where the target is among the ``k``
    highest scores; ``t`` as for ``accuracy``. A target tied with the k-th score counts
    as a hit (sklearn's ``top_k_accuracy_score`` breaks such ties by position)."""
    y = np.asarray(y)
    labels = _class_labels("top_k_accuracy", y, np.asarray(t))
    k = integer("top_k_accuracy", "k", k, 1)
    if k > y.shape[1]:
        raise ConfigError(f"top_k_accuracy: k must be at most the number of classes "
                          f"({y.shape[1]}), got {k}")
    target_scores = np.take_along_axis(y, labels[:, None], axis=1)
    return float(np.mean((y > target_scores).sum(axis=1) < k))


def binary_accuracy(y: np.ndarray, t: np.ndarray, threshold: float = 0.0) -> float:
    """The fraction of elements where ``y > threshold`` agrees with the 0/1 target.

    ``y`` holds logits (threshold 0.0, i.e. probability 0.5, as for
    ``sigmoid_binary_cross_entropy``) or probabilities (pass ``threshold=0.5``), of
    shape (batch, outputs); ``t`` has ``y``'s shape, or (batch,) when there is one output.
    """
    y, t = np.asarray(y), np.asarray(t)
    if y.ndim == 0 or y.shape[0] == 0:
        raise ShapeError(f"binary_accuracy: expected outputs of shape (batch, outputs) with "
                         f"batch > 0, got {y.shape}")
    if t.shape != y.shape and not (y.shape[1:] == (1,) and t.shape == y.shape[:1]):
        raise ShapeError(f"binary_accuracy: targets must have the outputs' shape {y.shape}"
                         f"{' or (batch,)' if y.shape[1:] == (1,) else ''}, got {t.shape}")
    truth = t.reshape(y.shape)
    if not np.isin(truth, (0, 1)).all():
        raise DataError(f"binary_accuracy: targets must be 0 or 1, got values from "
                        f"{truth.min()} to {truth.max()}")
    return float(np.mean((y > threshold) == (truth == 1)))


def _regression_pair(where: str, y: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    y, t = np.asarray(y), np.asarray(t)
    if t.shape != y.shape or y.ndim == 0 or y.shape[0] == 0:
        raise ShapeError(f"{where}: expected outputs and targets of one shape (batch, ...) with "
                         f"batch > 0, got {y.shape} and {t.shape}")
    return y, t


def mean_absolute_error(y: np.ndarray, t: np.ndarray) -> float:
    """mean(|y − t|) over every element (as the ``l1`` loss)."""
    y, t = _regression_pair("mean_absolute_error", y, t)
    return float(np.mean(np.abs(y - t), dtype=np.float64))


def r2_score(y: np.ndarray, t: np.ndarray) -> float:
    """The coefficient of determination 1 − Σ(t − y)² / Σ(t − mean t)², per output column
    (axis 0 is the batch) and averaged over the columns, as sklearn's ``r2_score``; a column
    of constant targets scores 1.0 when predicted exactly and 0.0 otherwise, as sklearn."""
    y, t = _regression_pair("r2_score", y, t)
    y64, t64 = y.reshape(len(y), -1).astype(np.float64), t.reshape(len(t), -1).astype(np.float64)
    residual = np.square(t64 - y64).sum(axis=0)
    total = np.square(t64 - t64.mean(axis=0)).sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        scores = np.where(total > 0, 1.0 - residual / total, np.where(residual == 0, 1.0, 0.0))
    return float(scores.mean())
