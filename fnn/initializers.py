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

__all__ = ["Initializer", "zeros", "normal", "glorot_uniform", "glorot_normal",
           "he_normal", "he_uniform", "fans", "initialize"]

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


def _scaled_uniform(limit_of: Callable[[int, int], float]) -> Initializer:
    def init(key: random.Key, shape: tuple[int, ...], dtype: DTypeLike = np.float32) -> np.ndarray:
        limit = limit_of(*fans(shape))
        return random.uniform(key, shape, -limit, limit, dtype)

    return init


def _scaled_normal(std_of: Callable[[int, int], float]) -> Initializer:
    return lambda key, shape, dtype=np.float32: normal(std_of(*fans(shape)))(key, shape, dtype)


def glorot_uniform() -> Initializer:
    """U(−a, a) with a = √(6 / (fan_in + fan_out)) (Glorot and Bengio, 2010)."""
    return _scaled_uniform(lambda fan_in, fan_out: math.sqrt(6.0 / (fan_in + fan_out)))


def glorot_normal() -> Initializer:
    """N(0, 2 / (fan_in + fan_out)), the "Xavier" normal initializer."""
    return _scaled_normal(lambda fan_in, fan_out: math.sqrt(2.0 / (fan_in + fan_out)))


def he_normal() -> Initializer:
    """N(0, 2 / fan_in), for ReLU networks (He et al., 2015)."""
    return _scaled_normal(lambda fan_in, fan_out: math.sqrt(2.0 / fan_in))


def he_uniform() -> Initializer:
    """U(−a, a) with a = √(6 / fan_in)."""
    return _scaled_uniform(lambda fan_in, fan_out: math.sqrt(6.0 / fan_in))


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
