"""Combinators: layers made of layers.

Each combinator below is only its own idea: how its children are wired. The
plumbing they share is ``_Children``: one key per child (``split(key, n)[i]``,
handed only to the children that read keys), the "layer 2 of sequential, ..."
prefix on a child's errors, the checks of the params and state tuples (one
entry per child), of the upstream gradient's shape and of the gradients a
child returns, and the record of every child's ``init`` that ``fnn.summary``
reads. A combinator's params and state are tuples of its children's.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Sequence
from typing import Any

import attrs
import numpy as np

from fnn import random
from fnn.core import Layer, check_grads, param_grads
from fnn.errors import ConfigError, FnnError, ShapeError, TreeError

__all__ = ["sequential", "residual", "concatenate", "add", "InitRecord", "traced_init"]

Shape = tuple[int, ...]

# The list that the inits running now append their children's records to, while
# ``traced_init`` runs (None otherwise: then ``init`` records nothing).
_TRACE: contextvars.ContextVar[list | None] = contextvars.ContextVar("fnn_init_trace",
                                                                     default=None)


@attrs.frozen
class InitRecord:
    """What one ``init`` gave: the layer, its input and output shapes (no batch axis),
    params, state, and the records of its children's inits (empty for a leaf)."""

    layer: Layer
    in_shape: Shape
    out_shape: Shape
    params: Any
    state: Any
    children: tuple[InitRecord, ...]


def traced_init(layer: Layer, key: random.Key, in_shape: Sequence[int],
                dtype: Any = np.float32) -> InitRecord:
    """``layer.init(key, in_shape, dtype)``, with the inits of the children of every
    combinator inside it recorded too (the same params and state as a plain init)."""
    children: list[InitRecord] = []
    token = _TRACE.set(children)
    try:
        params, state, out_shape = layer.init(key, tuple(in_shape), dtype)
    finally:
        _TRACE.reset(token)
    return InitRecord(layer, tuple(in_shape), tuple(out_shape), params, state, tuple(children))


def _prefixed(exc: FnnError, where: str) -> FnnError:
    """The same error, its message prefixed with where in a combinator it arose."""
    return type(exc)(f"{where}, {exc}")


class _Children:
    """The children of one combinator and the checked calls into them.

    ``where[i]`` names child i in errors: "layer 2 of sequential", "branch 0 of
    add", or, for a combinator of one child, "the block of residual".
    """

    def __init__(self, kind: str, role: str, layers: Sequence[Layer], numbered: bool = True):
        if not layers:
            raise ConfigError(f"{kind} needs at least one layer")
        for i, layer in enumerate(layers):
            if not isinstance(layer, Layer):
                raise ConfigError(f"{kind}: argument {i} is a {type(layer).__name__}, not a Layer "
                                  f"(did you pass a factory, e.g. relu instead of relu()?)")
        self.kind, self.role, self.layers, self.n = kind, role, tuple(layers), len(layers)
        self.name = f"{kind}(" + ", ".join(layer.name for layer in layers) + ")"
        self.where = [f"{role} {i} of {kind}" if numbered else f"the {role} of {kind}"
                      for i in range(self.n)]

    def init(self, i: int, key: random.Key, shape: Shape, dtype: Any) -> tuple[Any, Any, Shape]:
        trace = _TRACE.get()
        try:
            if trace is None:
                return self.layers[i].init(key, shape, dtype)
            record = traced_init(self.layers[i], key, shape, dtype)
        except FnnError as exc:
            raise _prefixed(exc, self.where[i]) from exc
        trace.append(record)
        return record.params, record.state, record.out_shape

    def forward(self, i: int, params: tuple, state: tuple, x: np.ndarray, keys: list,
                train: bool) -> tuple[np.ndarray, Any, Any]:
        try:
            return self.layers[i].forward(params[i], state[i], x, key=keys[i], train=train)
        except FnnError as exc:
            raise _prefixed(exc, self.where[i]) from exc

    def backward(self, i: int, params: tuple, caches: tuple, dy: np.ndarray) -> tuple[Any, Any]:
        layer = self.layers[i]
        try:
            dx, grads = layer.backward(params[i], caches[i], dy)
            if not layer.children:  # a combinator checks its own children
                check_grads(layer.name, params[i], grads)
        except FnnError as exc:
            raise _prefixed(exc, self.where[i]) from exc
        return dx, grads

    def param_grads(self, i: int, params: tuple, caches: tuple, dy: np.ndarray) -> Any:
        """Child i's parameter gradients, without its input gradient where it can skip it."""
        layer = self.layers[i]
        try:
            grads = param_grads(layer, params[i], caches[i], dy)
            if not layer.children:
                check_grads(layer.name, params[i], grads)
        except FnnError as exc:
            raise _prefixed(exc, self.where[i]) from exc
        return grads

    def layer(self, init: Callable, forward: Callable, backward: Callable,
              grads_only: Callable) -> Layer:
        """The combinator as a ``Layer``, from its own parts:

        - ``init(key, in_shape, dtype) -> (params, state, out_shape)``;
        - ``forward(params, state, x, keys, train) -> (y, new_state, cache)`` with one
          key (or None) per child;
        - ``backward(params, cache, dy) -> (dx, grads)`` and ``grads_only(params, cache,
          dy) -> grads``.

        params and state arrive checked to be tuples of one entry per child, and
        dy to have the output's shape.
        """
        n, name, layers = self.n, self.name, self.layers
        reads_key = [layer.uses_key for layer in layers]

        def check_tuple(what, value):
            if not isinstance(value, tuple) or len(value) != n:
                raise TreeError(f"{name}: expected {what} as a tuple of {n} (one per {self.role}), "
                                f"got {type(value).__name__}"
                                f"{' of length ' + str(len(value)) if isinstance(value, tuple) else ''}")

        def checked_forward(params, state, x, *, key=None, train=False):
            check_tuple("params", params)
            check_tuple("state", state)
            if key is not None:
                random.check_key(key)  # also where no child reads it
            keys = [random.child(key, i) if key is not None and reads else None
                    for i, reads in enumerate(reads_key)]
            y, new_state, cache = forward(params, state, x, keys, train)
            # The output's shape rides along, so backward can refuse a dy that would broadcast.
            return y, new_state, (cache, y.shape)

        def checked_cache(params, cache, dy):
            check_tuple("params", params)
            inner, out_shape = cache
            if np.shape(dy) != out_shape:
                raise ShapeError(f"{name}: expected dy of the output's shape {out_shape}, "
                                 f"got {np.shape(dy)}")
            return inner

        def checked_backward(params, cache, dy):
            return backward(params, checked_cache(params, cache, dy), dy)

        def checked_grads_only(params, cache, dy):
            return grads_only(params, checked_cache(params, cache, dy), dy)

        return Layer(name, init, checked_forward, checked_backward, checked_grads_only,
                     uses_key=any(reads_key), children=layers)


def sequential(*layers: Layer) -> Layer:
    """Layers applied in order: y = layers[n−1](… layers[0](x)).

    ``init`` threads the shape through the children, ``forward`` runs them in
    order and ``backward`` in reverse. The parameter gradients skip every child
    before the first with parameters, and that one's input gradient.
    Errors raised by a child name its position: "layer 2 of sequential, dense(10): ...".
    """
    kids = _Children("sequential", "layer", layers)
    n = kids.n

    def init(key, in_shape, dtype=np.float32):
        params, states, shape = [], [], tuple(in_shape)
        for i, k in enumerate(random.split(key, n)):
            p, s, shape = kids.init(i, k, shape, dtype)
            params.append(p)
            states.append(s)
        return tuple(params), tuple(states), shape

    def forward(params, state, x, keys, train):
        new_states, caches = [], []
        for i in range(n):
            x, s, c = kids.forward(i, params, state, x, keys, train)
            new_states.append(s)
            caches.append(c)
        return x, tuple(new_states), tuple(caches)

    def backward(params, caches, dy):
        grads = [None] * n
        for i in range(n - 1, -1, -1):
            dy, grads[i] = kids.backward(i, params, caches, dy)
        return dy, tuple(grads)

    def grads_only(params, caches, dy):
        first = next((i for i in range(n) if params[i] is not None), n)
        grads = [None] * n
        for i in range(n - 1, first, -1):
            dy, grads[i] = kids.backward(i, params, caches, dy)
        if first < n:
            grads[first] = kids.param_grads(first, params, caches, dy)
        return tuple(grads)

    return kids.layer(init, forward, backward, grads_only)


def residual(block: Layer) -> Layer:
    """y = x + block(x), the skip connection of ResNet; dx = dy + block's dx.

    ``init`` refuses a block whose output shape differs from its input shape.
    Params and state are 1-tuples of the block's.
    """
    kids = _Children("residual", "block", (block,), numbered=False)

    def init(key, in_shape, dtype=np.float32):
        in_shape = tuple(in_shape)
        p, s, out_shape = kids.init(0, random.child(key, 0), in_shape, dtype)
        if tuple(out_shape) != in_shape:
            raise ShapeError(f"{kids.name}: y = x + block(x) needs a block that keeps the "
                             f"shape {in_shape}, but it gives {tuple(out_shape)}")
        return (p,), (s,), in_shape

    def forward(params, state, x, keys, train):
        y, s, c = kids.forward(0, params, state, x, keys, train)
        return x + y, (s,), (c,)

    def backward(params, caches, dy):
        dx, g = kids.backward(0, params, caches, dy)
        return dy + dx, (g,)

    def grads_only(params, caches, dy):
        return (kids.param_grads(0, params, caches, dy),)

    return kids.layer(init, forward, backward, grads_only)


def _parallel(kind: str, branches: Sequence[Layer], out_shape: Callable[[str, list], Shape],
              join: Callable[[list], tuple[np.ndarray, Any]],
              split: Callable[[np.ndarray, Any, int], list]) -> Layer:
    """Branches that all take the combinator's input, their outputs joined by
    ``join(ys) -> (y, how)``; backward hands branch i ``split(dy, how, n)[i]`` and
    sums the branches' input gradients. ``out_shape(name, shapes)`` checks and
    joins the branches' output shapes at init."""
    kids = _Children(kind, "branch", branches)
    n = kids.n

    def init(key, in_shape, dtype=np.float32):
        params, states, shapes = zip(*(kids.init(i, k, tuple(in_shape), dtype)
                                       for i, k in enumerate(random.split(key, n))), strict=True)
        return params, states, out_shape(kids.name, [tuple(s) for s in shapes])

    def forward(params, state, x, keys, train):
        ys, states, caches = zip(*(kids.forward(i, params, state, x, keys, train)
                                   for i in range(n)), strict=True)
        y, how = join(list(ys))
        return y, states, (caches, how)

    def backward(params, cache, dy):
        caches, how = cache
        dxs, grads = zip(*(kids.backward(i, params, caches, dy_i)
                           for i, dy_i in enumerate(split(dy, how, n))), strict=True)
        # The first sum makes a fresh array, so += never writes into a branch's dx (an
        # identity branch hands back dy itself); one branch's dx passes through untouched.
        dx = dxs[0] + dxs[1] if n > 1 else dxs[0]
        for more in dxs[2:]:
            dx += more
        return dx, grads

    def grads_only(params, cache, dy):
        caches, how = cache
        return tuple(kids.param_grads(i, params, caches, dy_i)
                     for i, dy_i in enumerate(split(dy, how, n)))

    return kids.layer(init, forward, backward, grads_only)


def _concatenated_shape(name: str, shapes: list[Shape]) -> Shape:
    first = shapes[0]
    if any(len(s) < 1 or len(s) != len(first) or s[1:] != first[1:] for s in shapes):
        raise ShapeError(f"{name}: branch outputs {', '.join(map(str, shapes))} (without the "
                         f"batch axis) must agree on every axis but the first to be joined on it")
    return (sum(s[0] for s in shapes), *first[1:])


def _concatenate(ys: list) -> tuple[np.ndarray, list[int]]:
    return np.concatenate(ys, axis=1), np.cumsum([y.shape[1] for y in ys[:-1]]).tolist()


def concatenate(*branches: Layer) -> Layer:
    """Every branch on the same input, outputs joined on array axis 1: the features
    of (N, F) outputs, the channels of NCHW ones (Keras's Concatenate(axis=1), the
    Inception block). Backward hands each branch its slice of dy and sums their
    input gradients."""
    return _parallel("concatenate", branches, _concatenated_shape, _concatenate,
                     lambda dy, cuts, n: np.split(dy, cuts, axis=1))


def _same_shape(name: str, shapes: list[Shape]) -> Shape:
    if any(s != shapes[0] for s in shapes):
        raise ShapeError(f"{name}: branch outputs {', '.join(map(str, shapes))} (without the "
                         f"batch axis) must all have the same shape to be added")
    return shapes[0]


def _add(ys: list) -> tuple[np.ndarray, None]:
    y = ys[0] + ys[1] if len(ys) > 1 else ys[0]
    for more in ys[2:]:
        y += more
    return y, None


def add(*branches: Layer) -> Layer:
    """Every branch on the same input, their outputs summed (stax's FanOut then
    FanInSum); every branch's output must have the same shape. Backward hands each
    branch all of dy and sums their input gradients."""
    return _parallel("add", branches, _same_shape, _add, lambda dy, how, n: [dy] * n)
