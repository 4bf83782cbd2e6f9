"""Explicit, splittable random keys.

A ``Key`` is a frozen record of two 64-bit words used as the key of a Philox
counter-based generator: sampling from a key reads that generator's stream.
``split`` derives child i as the BLAKE2b hash of the parent's words and i, so
children depend only on their parent and index, and never repeat its stream.
No function here reads or advances numpy's global generator.
"""

from __future__ import annotations

import hashlib
import numbers
from typing import Any

import attrs
import numpy as np
from numpy.typing import DTypeLike

from fnn.core import array_field
from fnn.errors import ConfigError, DTypeError
from fnn.validators import integer

__all__ = ["Key", "key", "check_key", "split", "child", "normal", "uniform", "bernoulli", "permutation"]


def _check_words(instance: object, attribute: object, value: np.ndarray) -> None:
    if value.shape != (2,) or value.dtype != np.uint64:
        raise ConfigError(f"Key data must be a uint64 array of shape (2,), "
                         f"got {value.dtype} of shape {value.shape}")


@attrs.frozen
class Key:
    """A random key: two uint64 words. Make one with ``key(seed)``."""

    data: np.ndarray = array_field(validator=_check_words)

    def __repr__(self) -> str:
        return f"Key({int(self.data[0]):#018x}, {int(self.data[1]):#018x})"


def key(seed: int) -> Key:
    """The key for an integer seed (any non-negative int, however large)."""
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise ConfigError(f"seed must be a non-negative integer, got {seed!r}")
    return Key(np.random.SeedSequence(int(seed)).generate_state(2, np.uint64))


def check_key(k: object) -> None:
    """Raise ``ConfigError`` unless ``k`` is a ``Key``."""
    if not isinstance(k, Key):
        raise ConfigError(f"expected an fnn.random.Key (make one with fnn.random.key(seed)), "
                        f"got {type(k).__name__}")


def _generator(k: Key) -> np.random.Generator:
    check_key(k)
    return np.random.Generator(np.random.Philox(key=k.data))


def split(k: Key, num: int = 2) -> tuple[Key, ...]:
    """``num`` new keys derived from ``k``; none of them equals ``k``.

    Not to be confused with ``fnn.data.split``, which splits a data set into train
    and validation parts.

    Child i depends on ``k`` and i alone, so ``split(k, n)[:m] == split(k, m)``
    for m ≤ n: the keys of the first epochs do not depend on how many follow.
    """
    check_key(k)
    num = integer("split", "num", num)
    parent = _parent_bytes(k)
    return tuple(_child(parent, i) for i in range(num))


def child(k: Key, index: int) -> Key:
    """``split(k, n)[index]`` for any n > ``index``, without deriving the others."""
    check_key(k)
    index = integer("child", "index", index, 0)
    if index >= 2**64:
        raise ConfigError(f"child: index must be below 2**64, got {index}")
    return _child(_parent_bytes(k), index)


def _parent_bytes(k: Key) -> bytes:
    return k.data.astype("<u8").tobytes()  # the same children on any byte order


def _child(parent: bytes, index: int) -> Key:
    # Built without Key's converter and validator (its words are read-only uint64 (2,) by
    # construction): a train step splits keys every step.
    digest = hashlib.blake2b(parent + index.to_bytes(8, "little"), digest_size=16)
    words = np.frombuffer(digest.digest(), "<u8").astype(np.uint64, copy=False)
    words.flags.writeable = False  # a copy on big-endian machines; always our own array
    child = object.__new__(Key)
    object.__setattr__(child, "data", words)
    return child


def _float_dtype(where: str, dtype: DTypeLike) -> np.dtype[Any]:
    """``dtype`` as a numpy dtype, if numpy's generators make it (float32 or float64)."""
    d = np.dtype(dtype)
    if d not in (np.float32, np.float64):
        raise DTypeError(f"random.{where}: dtype must be float32 or float64, got {d}")
    return d


def normal(k: Key, shape: tuple[int, ...] | int, dtype: DTypeLike = np.float32) -> np.ndarray:
    """Standard normal samples of ``shape`` (float32 or float64)."""
    return _generator(k).standard_normal(shape, dtype=_float_dtype("normal", dtype))


def uniform(k: Key, shape: tuple[int, ...] | int, low: float = 0.0, high: float = 1.0,
            dtype: DTypeLike = np.float32) -> np.ndarray:
    """Samples uniform on ``[low, high)`` of ``shape`` (float32 or float64)."""
    u = _generator(k).random(shape, dtype=_float_dtype("uniform", dtype))
    if low != 0.0 or high != 1.0:
        u *= np.asarray(high - low, dtype=dtype)
        u += np.asarray(low, dtype=dtype)
    return u


def bernoulli(k: Key, p: float, shape: tuple[int, ...] | int) -> np.ndarray:
    """Booleans of ``shape``, each True with probability ``p``."""
    if not 0.0 <= p <= 1.0:
        raise ConfigError(f"bernoulli: p must lie in [0, 1], got {p}")
    return _generator(k).random(shape) < p


def permutation(k: Key, n: int) -> np.ndarray:
    """A random permutation of ``range(n)`` as an int64 array."""
    return _generator(k).permutation(integer("permutation", "n", n, 0))
