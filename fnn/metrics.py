"""Evaluation metrics."""

from __future__ import annotations

import numpy as np

from fnn.errors import ShapeError

__all__ = ["accuracy"]


def accuracy(y: np.ndarray, t: np.ndarray) -> float:
    """The fraction of rows of scores ``y`` (batch, classes) whose argmax is the target.

    ``t`` holds integer labels (batch,) or one-hot rows (batch, classes).
    """
    y, t = np.asarray(y), np.asarray(t)
    if y.ndim != 2 or y.shape[0] == 0:
        raise ShapeError(f"accuracy: expected scores of shape (batch, classes) with batch > 0, "
                         f"got {y.shape}")
    labels = t.argmax(axis=1) if t.ndim == 2 else t
    if labels.shape != y.shape[:1]:
        raise ShapeError(f"accuracy: targets of shape {t.shape} do not match scores {y.shape}")
    return float(np.mean(y.argmax(axis=1) == labels))
