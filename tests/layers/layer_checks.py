"""Checks every layer of tests/layers must pass: purity, read-only records, dtypes kept."""

import numpy as np
import pytest

from fnn import random, tree
from fnn.errors import ShapeError


def arrays(value):
    return [leaf for leaf in tree.leaves(value) if isinstance(leaf, np.ndarray)]


def assert_pure_and_dtype_preserving(layer, x, *, train=True, key=None, seed=0):
    """One forward and backward in ``x``'s dtype change no input, params, state or ``dy``,
    return outputs and gradients in that dtype and records holding read-only arrays."""
    params, state, out_shape = layer.init(random.key(seed), x.shape[1:], x.dtype)
    dy = random.normal(random.key(seed + 1), (len(x), *out_shape), x.dtype)
    inputs = [x, dy, *arrays(params), *arrays(state)]
    before = [a.copy() for a in inputs]
    x.flags.writeable = dy.flags.writeable = False  # an in-place write raises
    try:
        y, new_state, cache = layer.forward(params, state, x, key=key, train=train)
        dx, grads = layer.backward(params, cache, dy)
    finally:
        x.flags.writeable = True
    assert y.shape == (len(x), *out_shape) and y.dtype == x.dtype
    assert dx.shape == x.shape and dx.dtype == x.dtype
    for a in arrays(params) + arrays(state) + arrays(new_state) + arrays(grads):
        assert a.dtype == x.dtype and not a.flags.writeable
    for a, b in zip(inputs, before, strict=True):
        np.testing.assert_array_equal(a, b)
    return y, new_state, dx, grads


def assert_init_agrees_with_forward(layer, x, *, refuses):
    """``init`` infers the shape ``forward`` gives on ``x`` and backward returns x's shape,
    or, where ``refuses``, ``init`` refuses the input shape for leaving no output pixels.
    Returns forward's output (None on refusal)."""
    if refuses:
        with pytest.raises(ShapeError, match="leaves no output pixels"):
            layer.init(random.key(0), x.shape[1:])
        return None
    params, state, out_shape = layer.init(random.key(0), x.shape[1:], x.dtype)
    y, _, cache = layer.forward(params, state, x)
    assert y.shape == (len(x), *out_shape)
    assert layer.backward(params, cache, y)[0].shape == x.shape
    return y
