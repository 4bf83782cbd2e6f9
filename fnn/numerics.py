"""Numerics shared by layers and losses."""

from __future__ import annotations

import numpy as np

__all__ = ["logistic"]


def logistic(x: np.ndarray) -> np.ndarray:
    """σ(x) = 1 / (1 + e^−x) as a new array, computed as (1 + tanh(x/2)) / 2 so it never overflows."""
    y = x * 0.5
    np.tanh(y, out=y)
    y *= 0.5
    y += 0.5
    return y
