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
    if t.ndim == 2:
        if t.shape != y.shape:
            raise ShapeError(f"accuracy: one-hot targets must have the scores' shape {y.shape}, "
                             f"got {t.shape}")
        labels = t.argmax(axis=1)
    elif t.shape != y.shape[:1] or t.dtype.kind not in "iu":
        raise ShapeError(f"accuracy: expected integer labels of shape ({y.shape[0]},) or "
                         f"one-hot rows of shape {y.shape}, got {t.dtype} of shape {t.shape}")
    else:
        labels = t
    return float(np.mean(y.argmax(axis=1) == labels))
