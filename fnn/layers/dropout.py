"""Inverted dropout."""

from __future__ import annotations

import numpy as np

from fnn import random
from fnn.core import Layer, check_float
from fnn.errors import MissingKeyError
from fnn.validators import fraction

__all__ = ["dropout"]


def dropout(rate: float) -> Layer:
    """Inverted dropout: zeroes each input with probability ``rate`` in training.

    Training: y = x · m / (1 − rate) with m ~ Bernoulli(1 − rate) drawn from the
    ``key`` given to ``forward`` (the same key gives the same mask), so E[y] = x;
    dx = dy · m / (1 − rate). Evaluation (``train=False``): y = x, no key needed.
    Unlike the book, which scales by (1 − rate) at test time instead.
    """
    rate = fraction("dropout", "rate", rate)
    name = f"dropout({rate})"

    def init(key, in_shape, dtype=np.float32):
        return None, None, tuple(in_shape)

    def forward(params, state, x, *, key=None, train=False):
        check_float(name, x)
        if not train:
            return x, state, None
        if key is None:
            raise MissingKeyError(f"{name}: training needs a random key for the dropout mask; "
                                  f"call forward(..., key=fnn.random.key(seed), train=True) "
                                  f"(make_train_step passes one)")
        # The mask is cached already scaled, so backward is one multiplication.
        mask = random.bernoulli(key, 1 - rate, x.shape).astype(x.dtype)
        mask *= 1 / (1 - rate)
        return x * mask, state, mask

    def backward(params, mask, dy):
        return (dy if mask is None else dy * mask), None

    return Layer(name, init, forward, backward, uses_key=True)
