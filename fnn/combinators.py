"""Combinators: layers made of layers."""

from __future__ import annotations

import numpy as np

from fnn import random
from fnn.core import Layer, param_grads
from fnn.errors import ConfigError, FnnError, ShapeError, TreeError

__all__ = ["sequential"]


def _in_child(exc: FnnError, index: int) -> FnnError:
    """The same error, its message prefixed with where in the sequence it arose."""
    return type(exc)(f"layer {index} of sequential, {exc}")


def sequential(*layers: Layer) -> Layer:
    """Layers applied in order. Params and state are tuples of the children's.

    ``init`` threads the shape through the children; ``forward`` splits the key
    (when given) into one per child, ``split(key, n)[i]`` for child i, and hands
    it to the children whose ``uses_key`` is set; ``backward`` runs the children
    in reverse.
    Errors raised by a child name its position: "layer 2 of sequential, dense(10): ...".
    """
    if not layers:
        raise ConfigError("sequential needs at least one layer")
    for i, layer in enumerate(layers):
        if not isinstance(layer, Layer):
            raise ConfigError(f"sequential: argument {i} is a {type(layer).__name__}, not a Layer "
                            f"(did you pass a factory, e.g. relu instead of relu()?)")
    name = "sequential(" + ", ".join(layer.name for layer in layers) + ")"
    n = len(layers)

    def init(key, in_shape, dtype=np.float32):
        params, states = [], []
        shape = tuple(in_shape)
        for i, (layer, k) in enumerate(zip(layers, random.split(key, n), strict=True)):
            try:
                p, s, shape = layer.init(k, shape, dtype)
            except FnnError as exc:
                raise _in_child(exc, i) from exc
            params.append(p)
            states.append(s)
        return tuple(params), tuple(states), shape

    def check_tree(what, value):
        if not isinstance(value, tuple) or len(value) != n:
            raise TreeError(f"{name}: expected {what} as a tuple of {n} (one per layer), got "
                            f"{type(value).__name__}"
                            f"{' of length ' + str(len(value)) if isinstance(value, tuple) else ''}")

    def forward(params, state, x, *, key=None, train=False):
        check_tree("params", params)
        check_tree("state", state)
        if key is not None:
            random.check_key(key)  # also where no child reads it
        # Child i gets split(key, n)[i] when it reads a key, None otherwise.
        keys = [random.child(key, i) if key is not None and layer.uses_key else None
                for i, layer in enumerate(layers)]
        new_states, caches = [], []
        for i, layer in enumerate(layers):
            try:
                x, s, c = layer.forward(params[i], state[i], x, key=keys[i], train=train)
            except FnnError as exc:
                raise _in_child(exc, i) from exc
            new_states.append(s)
            caches.append(c)
        # The output's shape rides along, so backward can refuse a dy that would broadcast.
        return x, tuple(new_states), (tuple(caches), x.shape)

    def check_backward(params, cache, dy):
        check_tree("params", params)
        caches, out_shape = cache
        if np.shape(dy) != out_shape:
            raise ShapeError(f"{name}: expected dy of the output's shape {out_shape}, "
                             f"got {np.shape(dy)}")
        return caches

    def backward(params, cache, dy):
        caches = check_backward(params, cache, dy)
        grads = [None] * n
        for i in range(n - 1, -1, -1):
            dy, grads[i] = layers[i].backward(params[i], caches[i], dy)
        return dy, tuple(grads)

    def grads_only(params, cache, dy):
        caches = check_backward(params, cache, dy)
        # Children before the first one with parameters need no backward at all,
        # and that first one needs no input gradient.
        first = next((i for i in range(n) if params[i] is not None), n)
        grads = [None] * n
        for i in range(n - 1, first, -1):
            dy, grads[i] = layers[i].backward(params[i], caches[i], dy)
        if first < n:
            grads[first] = param_grads(layers[first], params[first], caches[first], dy)
        return tuple(grads)

    return Layer(name, init, forward, backward, grads_only,
                 uses_key=any(layer.uses_key for layer in layers))
