"""Weight initializers: ``init(key, shape, dtype=np.float32) -> array``.

Shapes follow the (..., fan_in, fan_out) convention: the last axis is the
output, the one before it the input, and any leading axes a receptive field
(``conv2d`` asks for (kh, kw, in_channels, filters)). A 1-D shape has
fan_in = fan_out = its length.

``zeros`` is an initializer itself; the others are factories, as in JAX:
``dense(10, w_init=he_normal())``.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from numpy.typing import DTypeLike

from fnn import random
from fnn.errors import ConfigError
from fnn.validators import positive

__all__ = ["Initializer", "zeros", "normal", "glorot_uniform", "glorot_normal",
           "he_normal", "he_uniform", "variance_scaling", "fans", "initialize"]

Initializer = Callable[..., np.ndarray]


def fans(shape: tuple[int, ...]) -> tuple[int, int]:
    """(fan_in, fan_out) of a weight of ``shape``."""
    if len(shape) == 0:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    receptive = math.prod(shape[:-2])
    return shape[-2] * receptive, shape[-1] * receptive


def zeros(key: random.Key, shape: tuple[int, ...], dtype: DTypeLike = np.float32) -> np.ndarray:
    """All zeros (the key is unused)."""
    return np.zeros(shape, dtype=dtype)


def normal(std: float = 0.01) -> Initializer:
    """N(0, std²); ``normal(0.01)`` is the book's 0.01·N(0, 1)."""

    def init(key: random.Key, shape: tuple[int, ...], dtype: DTypeLike = np.float32) -> np.ndarray:
        w = random.normal(key, shape, dtype)
        w *= np.asarray(std, dtype=dtype)
        return w

    return init


_FAN_MODES = ("fan_in", "fan_out", "fan_avg")
_DISTRIBUTIONS = ("normal", "uniform")


def variance_scaling(scale: float, mode: str = "fan_in",
                     distribution: str = "normal") -> Initializer:
    """Weights of variance scale / n, n the fan in, the fan out or their mean (``mode``).

    ``"normal"``: N(0, scale / n); ``"uniform"``: U(−a, a) with a = √(3·scale / n), the
    same variance. ``glorot_*`` and ``he_*`` are its cases (JAX's normal ones draw from a
    truncated normal; these do not). PyTorch's default for ``Linear`` and ``Conv2d``
    weights, U(−1/√fan_in, 1/√fan_in), is ``variance_scaling(1 / 3, "fan_in", "uniform")``.
    """
    scale = positive("variance_scaling", "scale", scale)
    if mode not in _FAN_MODES:
        raise ConfigError(f"variance_scaling: expected mode in {_FAN_MODES}, got {mode!r}")
    if distribution not in _DISTRIBUTIONS:
        raise ConfigError(f"variance_scaling: expected distribution in {_DISTRIBUTIONS}, "
                          f"got {distribution!r}")

    def init(key: random.Key, shape: tuple[int, ...], dtype: DTypeLike = np.float32) -> np.ndarray:
        fan_in, fan_out = fans(shape)
        n = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2}[mode]
        if distribution == "normal":
            return normal(math.sqrt(scale / n))(key, shape, dtype)
        limit = math.sqrt(3.0 * scale / n)
        return random.uniform(key, shape, -limit, limit, dtype)

    return init


def glorot_uniform() -> Initializer:
    """U(−a, a) with a = √(6 / (fan_in + fan_out)) (Glorot and Bengio, 2010)."""
    return variance_scaling(1.0, "fan_avg", "uniform")


def glorot_normal() -> Initializer:
    """N(0, 2 / (fan_in + fan_out)), the "Xavier" normal initializer."""
    return variance_scaling(1.0, "fan_avg", "normal")


def he_normal() -> Initializer:
    """N(0, 2 / fan_in), for ReLU networks (He et al., 2015)."""
    return variance_scaling(2.0, "fan_in", "normal")


def he_uniform() -> Initializer:
    """U(−a, a) with a = √(6 / fan_in)."""
    return variance_scaling(2.0, "fan_in", "uniform")


def initialize(where: str, init: Initializer, key: random.Key, shape: tuple[int, ...],
               dtype: np.dtype) -> np.ndarray:
    """Call ``init`` and check that it returned an array of ``shape`` and ``dtype``."""
    hint = "an initializer is called as init(key, shape, dtype): pass e.g. glorot_uniform(), " \
           "not glorot_uniform"
    try:
        w = init(key, shape, dtype)
    except TypeError as exc:
        raise ConfigError(f"{where}: calling the initializer failed ({exc}); {hint}") from exc
    if not isinstance(w, np.ndarray) or w.shape != shape or w.dtype != dtype:
        got = f"{w.dtype} array of shape {w.shape}" if isinstance(w, np.ndarray) else repr(w)
        raise ConfigError(f"{where}: expected the initializer to return a {np.dtype(dtype)} array "
                        f"of shape {shape}, got {got}; {hint}")
    return w
