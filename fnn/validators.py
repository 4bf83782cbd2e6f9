"""Checks for the settings of layers, optimizers, schedules and loops, and for labels.

Each returns the value as a plain Python int or float, so that a numpy scalar
setting (``np.float64(0.9)`` from a sweep) never promotes float32 arrays to
float64, and raises ``ConfigError`` naming the owner, the setting and the value.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable
from typing import Any

import numpy as np

from fnn.errors import ConfigError, DataError

__all__ = ["integer", "number", "fraction", "unit_interval", "non_negative", "positive", "check_labels"]


def integer(where: str, name: str, value: Any, minimum: int = 1) -> int:
    """``value`` as an int, checked to be an integer (not a bool) of at least ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ConfigError(f"{where}: {name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def number(where: str, name: str, value: Any, in_range: Callable[[float], bool],
           requirement: str) -> float:
    """``value`` as a float if it is a real number (not a bool) and ``in_range``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not in_range(float(value)):
        raise ConfigError(f"{where}: {name} must be {requirement}, got {value!r}")
    return float(value)


def fraction(where: str, name: str, value: Any) -> float:
    """A rate in [0, 1): a momentum, a decay, a dropout rate."""
    return number(where, name, value, lambda x: 0.0 <= x < 1.0, "a number in [0, 1)")


def unit_interval(where: str, name: str, value: Any) -> float:
    """A number in [0, 1]."""
    return number(where, name, value, lambda x: 0.0 <= x <= 1.0, "a number in [0, 1]")


def non_negative(where: str, name: str, value: Any) -> float:
    """A finite number ≥ 0."""
    return number(where, name, value, lambda x: 0.0 <= x < math.inf, "a finite number >= 0")


def positive(where: str, name: str, value: Any) -> float:
    """A finite number > 0."""
    return number(where, name, value, lambda x: 0.0 < x < math.inf, "a positive, finite number")


def check_labels(where: str, labels: np.ndarray, num_classes: int) -> None:
    """Raise ``DataError`` naming the first bound broken unless every label lies in
    [0, num_classes)."""
    if labels.size:
        low, high = labels.min(), labels.max()
        if low < 0 or high >= num_classes:
            raise DataError(f"{where}: labels must lie in [0, {num_classes}), "
                            f"got {low if low < 0 else high}")
