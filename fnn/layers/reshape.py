"""Layers that only change the shape of their input: views, no copies."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from fnn.core import Layer, call_text, check_float
from fnn.errors import ConfigError, ShapeError
from fnn.validators import integer

__all__ = ["flatten", "reshape"]

Shape = tuple[int, ...]


def _reshaping(name: str, out_shape: Callable[[Shape], Shape]) -> Layer:
    """(batch, *in_shape) → (batch, *out_shape(in_shape)); backward reshapes dy back.

    The batch size is written out in every reshape, never -1, so a batch of 0 works.
    """

    def init(key, in_shape, dtype=np.float32):
        return None, None, out_shape(tuple(in_shape))

    def forward(params, state, x, *, key=None, train=False):
        check_float(name, x)
        return x.reshape(len(x), *out_shape(x.shape[1:])), state, x.shape

    def backward(params, in_shape, dy):
        return dy.reshape(in_shape), None

    return Layer(name, init, forward, backward, uses_key=False)


def flatten() -> Layer:
    """(batch, *shape) → (batch, prod(shape))."""
    return _reshaping("flatten()", lambda in_shape: (math.prod(in_shape),))


def reshape(shape: tuple[int, ...]) -> Layer:
    """(batch, *in_shape) → (batch, *shape), as Keras's ``Reshape``: ``shape`` excludes the
    batch axis and may hold one -1, inferred from the input size at ``init``."""
    if not isinstance(shape, (tuple, list)):
        raise ConfigError(f"reshape: shape must be a tuple such as (7, 7, 4), got {shape!r}")
    target = tuple(-1 if s == -1 else integer("reshape", "each size in shape", s) for s in shape)
    if target.count(-1) > 1:
        raise ConfigError(f"reshape: shape may hold one -1 at most, got {shape!r}")
    name = call_text("reshape", target)
    known = math.prod(s for s in target if s != -1)

    def out_shape(in_shape: Shape) -> Shape:
        size = math.prod(in_shape)
        if size % known or (-1 not in target and size != known):
            raise ShapeError(f"{name}: an input of shape {in_shape} ({size} values per sample) "
                             f"cannot be reshaped to {target}")
        return tuple(size // known if s == -1 else s for s in target)

    return _reshaping(name, out_shape)
