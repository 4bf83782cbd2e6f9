"""Losses: ``forward(y, t) -> (value, cache)`` and ``backward(cache) -> dy``.

``value`` is a Python float; ``dy`` has the shape and dtype of ``y``.
"""

from __future__ import annotations

import math

import numpy as np

from fnn.core import Loss, check_float
from fnn.errors import DataError, DTypeError, ShapeError
from fnn.numerics import logistic_from_tail, logistic_tail
from fnn.validators import check_labels, fraction, positive

__all__ = ["sse", "mse", "l1", "huber", "softmax_cross_entropy", "sigmoid_binary_cross_entropy"]


def _check_pair(name: str, y: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Check y is a non-empty float array and t a float array of its shape; t in y's dtype.

    Labels (batch,) against one output per sample (batch, 1) are refused with the fix."""
    check_float(f"{name} predictions", y)
    if y.ndim == 0:
        raise ShapeError(f"{name}: expected a batch of predictions, got a scalar")
    if y.shape[0] == 0:
        raise DataError(f"{name}: expected a non-empty batch, got predictions of shape {y.shape}")
    shape = getattr(t, "shape", None)
    if shape != y.shape:
        hint = (f"; for one target per sample use t[:, None].astype(np.{y.dtype})"
                if shape == y.shape[:1] and y.shape[1:] == (1,) else "")
        raise ShapeError(f"{name}: targets must have the predictions' shape {y.shape}, "
                         f"got {shape or type(t).__name__}{hint}")
    if t.dtype.kind in "iub":
        raise DTypeError(f"{name} targets: expected a floating-point array, got dtype "
                         f"{t.dtype}; use t.astype(np.{y.dtype})")
    check_float(f"{name} targets", t)
    return t.astype(y.dtype, copy=False)


def sse() -> Loss:
    """E = ½ Σ (y − t)² over every element (not averaged, as in the book); dE/dy = y − t."""

    def forward(y, t):
        t = _check_pair("sse", y, t)
        diff = y - t
        return 0.5 * float(np.vdot(diff, diff)), diff

    # A copy: the cache stays what forward computed even if a caller scales dy in place.
    return Loss("sse", forward, lambda diff: diff.copy(), reduction="sum")


def mse() -> Loss:
    """E = mean((y − t)²) over every element; dE/dy = 2 (y − t) / y.size."""

    def forward(y, t):
        t = _check_pair("mse", y, t)
        diff = y - t
        return float(np.vdot(diff, diff)) / diff.size, diff

    def backward(diff):
        return diff * (2.0 / diff.size)

    return Loss("mse", forward, backward, reduction="mean")


def l1() -> Loss:
    """E = mean(|y − t|) over every element, as PyTorch's ``L1Loss``;
    dE/dy = sign(y − t) / y.size (0 where y = t)."""

    def forward(y, t):
        t = _check_pair("l1", y, t)
        diff = y - t
        return float(np.abs(diff).mean()), diff

    def backward(diff):
        return np.sign(diff) / diff.size

    return Loss("l1", forward, backward, reduction="mean")


def huber(delta: float = 1.0) -> Loss:
    """E = mean over every element of ½d² where |d| ≤ delta, delta·(|d| − ½delta) beyond,
    with d = y − t, as PyTorch's ``HuberLoss``; dE/dy = clip(d, −delta, delta) / y.size."""
    delta = positive("huber", "delta", delta)

    def forward(y, t):
        t = _check_pair("huber", y, t)
        diff = y - t
        size = np.abs(diff)
        small = size <= delta
        elementwise = np.where(small, 0.5 * np.square(diff), delta * (size - 0.5 * delta))
        return float(elementwise.mean()), diff

    def backward(diff):
        return np.clip(diff, -delta, delta) / diff.size

    return Loss("huber", forward, backward, reduction="mean")


def _targets(name: str, logits: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Check targets: int labels (batch,) in range, or rows of the logits' shape (one-hot or
    soft, as floats or integers), returned in the logits' dtype."""
    check_float(f"{name} logits", logits)
    if logits.ndim != 2:
        raise ShapeError(f"{name}: expected logits of shape (batch, classes), got {logits.shape}")
    if logits.shape[0] == 0:
        raise DataError(f"{name}: expected a non-empty batch, got logits of shape {logits.shape}")
    t = np.asarray(t)
    if t.ndim == 1 and t.dtype.kind == "f":
        raise DTypeError(f"{name}: labels must be integers, got dtype {t.dtype} "
                         f"(use t.astype(np.int64))")
    if t.dtype.kind in "iu" and t.ndim == 1:
        if t.shape != logits.shape[:1]:
            raise ShapeError(f"{name}: integer labels must have shape ({logits.shape[0]},) to "
                             f"match logits {logits.shape}, got {t.shape}")
        check_labels(name, t, logits.shape[1])
    elif t.dtype.kind in "fiub":
        if t.shape != logits.shape:
            raise ShapeError(f"{name}: one-hot targets must have the logits' shape "
                             f"{logits.shape}, got {t.shape}")
        t = t.astype(logits.dtype, copy=False)
    else:
        raise DTypeError(f"{name}: targets must be integer labels or float one-hot rows, "
                         f"got dtype {t.dtype}")
    return t


def softmax_cross_entropy(*, label_smoothing: float = 0.0) -> Loss:
    """Mean over the batch of −Σ t·log softmax(y), on logits y of shape (batch, classes).

    Targets are integer labels (batch,) or one-hot (or soft) rows (batch, classes).
    Computed with log-sum-exp, so finite for finite logits of any size: where
    y − max(y) overflows float32 (logits near ±3e38) the value is taken in float64.
    dE/dy = (softmax(y)·Σt − t) / batch, which is (softmax(y) − t) / batch for one-hot rows.
    ``label_smoothing=ε`` trains against (1 − ε)·t + ε/K for K classes, as PyTorch's
    ``CrossEntropyLoss(label_smoothing=ε)`` (labels count as one-hot rows).
    """
    name = "softmax_cross_entropy"
    eps = fraction(name, "label_smoothing", label_smoothing)

    def forward(y, t):
        t = _targets(name, y, t)
        if eps and t.dtype.kind == "f":
            t = t * (1 - eps) + eps / y.shape[1]
        # Below float64, y − max(y) may overflow to −inf (e^z is then 0, as it should
        # be); the value is retaken in float64 below, so numpy's warning would only alarm.
        with np.errstate(over="warn" if y.dtype == np.float64 else "ignore"):
            z, e, s = _shifted_exp(y)
        value = _cross_entropy(z, s, t, eps)
        if not math.isfinite(value) and y.dtype != np.float64:
            value = _cross_entropy(*_shifted_exp(y.astype(np.float64))[::2], t, eps)
        e /= s
        return value, (e, t)

    def backward(cache):
        p, t = cache
        n, classes = p.shape
        if t.dtype.kind == "f":
            dy = p * t.sum(axis=1, keepdims=True)
            dy -= t
        else:
            dy = p - eps / classes if eps else p.copy()
            dy[np.arange(n), t] -= 1 - eps
        dy /= n
        return dy

    return Loss(name, forward, backward, reduction="mean")


def _shifted_exp(y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(z, e^z, Σ e^z over each row as a column) for z = y − the row's maximum."""
    z = y - y.max(axis=1, keepdims=True)
    e = np.exp(z)
    return z, e, e.sum(axis=1, keepdims=True)


def _cross_entropy(z: np.ndarray, s: np.ndarray, t: np.ndarray, eps: float) -> float:
    """Mean over the batch of −Σ t·(z − log s), for rows t, or for integer labels smoothed
    to t = (1 − ε)·one-hot + ε/K (each row summing to 1)."""
    (n, classes), log_s = z.shape, np.log(s)
    if t.dtype.kind == "f":
        # −Σ t·(z − log s) = Σ t·log s − Σ t·z
        return float(np.vdot(t.sum(axis=1), log_s[:, 0]) - np.vdot(t, z)) / n
    smoothing = eps / classes * z.sum() if eps else 0.0
    return float(log_s.sum() - (1 - eps) * z[np.arange(n), t].sum() - smoothing) / n


def sigmoid_binary_cross_entropy() -> Loss:
    """Mean over every element of −[t·log σ(y) + (1 − t)·log(1 − σ(y))], on logits y.

    Computed as max(y, 0) − y·t + log(1 + e^−|y|), and dE/dy = (σ(y) − t) / y.size as
    ((1 − t)·σ(y) − t·σ(−y)) / y.size, each σ from e^−|y|: value and gradient are
    within a few ulps for logits of any size (σ(y) − t would cancel where t = 1).
    """
    name = "sigmoid_binary_cross_entropy"

    def forward(y, t):
        t = _check_pair(name, y, t)
        e = logistic_tail(y)
        elementwise = np.maximum(y, 0)
        elementwise -= y * t
        elementwise += np.log1p(e)
        return float(elementwise.mean()), (y, t, e)

    def backward(cache):
        y, t, e = cache
        dy = 1 - t
        dy *= logistic_from_tail(y, e)
        dy -= t * logistic_from_tail(-y, e)
        dy /= y.size
        return dy

    return Loss(name, forward, backward, reduction="mean")
