"""The records every part of fnn is built from, and the helpers that keep them frozen.

A ``Layer`` is three pure functions::

    init(key, in_shape, dtype=np.float32) -> (params, state, out_shape)
    forward(params, state, x, *, key=None, train=False) -> (y, new_state, cache)
    backward(params, cache, dy) -> (dx, grads)

and a ``Loss`` two::

    forward(y, t) -> (value, cache)
    backward(cache) -> dy
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import attrs
import numpy as np

from fnn import tree as tree_lib
from fnn.errors import ConfigError, DTypeError, ShapeError, TreeError

__all__ = ["Layer", "Loss", "readonly", "sealed", "freeze", "array_field", "param_grads", "check_float",
           "check_input", "check_params", "check_grads", "call_text"]

Shape = tuple[int, ...]


def readonly(x: Any) -> Any:
    """``x`` as an array that cannot be written through (a view when ``x`` is writable).

    ``None`` passes through, so optional record fields stay optional.
    """
    if x is None:
        return None
    arr = x if type(x) is np.ndarray else np.asarray(x)
    if arr.flags.writeable:
        arr = arr.view()
        arr.setflags(write=False)  # faster than assigning flags.writeable; runs ~30x a step
    return arr


def sealed(x: Any) -> Any:
    """``readonly(x)`` for an array the caller has just made and nobody else holds: its
    flag is cleared in place, without the view that protects someone else's array."""
    if type(x) is np.ndarray:
        x.setflags(write=False)
        return x
    return readonly(x)


def _is_frozen(leaf: Any) -> bool:
    return not isinstance(leaf, np.ndarray) or not leaf.flags.writeable


_FROZEN_BY_CONSTRUCTION: dict[type, bool] = {}


def _known_frozen(node: Any) -> bool:
    """Whether every field of records of ``node``'s class passes through ``readonly`` or ``freeze``."""
    cls = type(node)
    known = _FROZEN_BY_CONSTRUCTION.get(cls)
    if known is None:
        known = _FROZEN_BY_CONSTRUCTION[cls] = attrs.has(cls) and all(
            a.converter in (readonly, freeze) for a in attrs.fields(cls))
    return known


def freeze(tree: Any) -> Any:
    """``tree`` with every array leaf read-only; ``tree`` itself when they already are.

    Records whose fields all convert through ``readonly`` or ``freeze`` are frozen
    by construction and not searched again: this runs in every train step.
    """
    if tree_lib.all_leaves(_is_frozen, tree, skip=_known_frozen):
        return tree
    return tree_lib.map(lambda leaf: readonly(leaf) if isinstance(leaf, np.ndarray) else leaf, tree)


def array_field(**kwargs: Any) -> Any:
    """An attrs field holding a read-only array, compared by value."""
    return attrs.field(converter=readonly, eq=attrs.cmp_using(eq=np.array_equal), **kwargs)


def call_text(factory: str, *args: Any, **settings: Any) -> str:
    """How a call reads in code, e.g. ``conv2d(16, 3, padding=1)``: a layer's name.

    Pass only the settings that differ from their defaults; None ones are left out.
    """
    parts = [repr(a) for a in args] + [f"{k}={v!r}" for k, v in settings.items() if v is not None]
    return f"{factory}({', '.join(parts)})"


def _layer_tuple(layers: Iterable[Layer]) -> tuple[Layer, ...]:
    return tuple(layers)


@attrs.frozen(repr=False)
class Layer:
    """A layer: ``init`` infers shapes and makes parameters, ``forward`` and
    ``backward`` compute the outputs and the gradients.

    ``param_grads`` is optional: ``(params, cache, dy) -> grads``, the parameter
    gradients without the input gradient, for the first layer of a network
    where ``dx`` would be thrown away (it saves a matrix product in ``dense``
    and the col2im in ``conv2d``). When it is None, ``backward`` runs and its
    ``dx`` is dropped.

    ``uses_key`` says whether ``forward`` reads its ``key`` (dropout does).
    Combinators hand keys only to the children that do, so a network
    without randomness splits no keys. It defaults to True, so a hand-written
    layer always receives one.

    ``children`` are the layers a combinator is made of (empty for the others),
    so tools such as ``fnn.summary`` can walk a model. ``name`` reads like the
    code that made the layer, e.g. ``sequential(dense(100), relu(), dense(10))``,
    and is the layer's ``repr``.
    """

    name: str
    init: Callable
    forward: Callable
    backward: Callable
    param_grads: Callable | None = None
    uses_key: bool = True
    children: tuple[Layer, ...] = attrs.field(default=(), converter=_layer_tuple)

    def __repr__(self) -> str:
        return self.name


def _check_reduction(instance: Any, attribute: Any, value: Any) -> None:
    if value not in (None, "mean", "sum"):
        raise ConfigError(f"Loss: reduction must be 'mean', 'sum' or None, got {value!r}")


@attrs.frozen
class Loss:
    """A loss: ``forward(y, t) -> (value, cache)`` and ``backward(cache) -> dy``.

    ``reduction`` says how the value depends on the batch's n samples: ``"mean"``
    when it is (1/n)·Σᵢ lᵢ (cross-entropy, mse), ``"sum"`` when it is Σᵢ lᵢ (sse),
    None when unknown. A data-parallel step needs it to combine shards.
    """

    name: str
    forward: Callable
    backward: Callable
    reduction: str | None = attrs.field(default=None, validator=_check_reduction)


def param_grads(layer: Layer, params: Any, cache: Any, dy: np.ndarray) -> Any:
    """The gradients of ``layer``'s parameters only, skipping ``dx`` where the layer can."""
    if layer.param_grads is not None:
        return layer.param_grads(params, cache, dy)
    return layer.backward(params, cache, dy)[1]


def check_float(where: str, x: Any, dtype: np.dtype | None = None) -> None:
    """Raise ``DTypeError`` unless ``x`` is a floating array (of ``dtype``, when given)."""
    actual = getattr(x, "dtype", None)
    if actual is None or actual.kind != "f":
        raise DTypeError(f"{where}: expected a floating-point array, got "
                         f"{'dtype ' + str(actual) if actual is not None else type(x).__name__}")
    if dtype is not None and actual != dtype:
        raise DTypeError(f"{where}: expected dtype {np.dtype(dtype)} (the dtype given at init), "
                         f"got {actual}; convert the input with .astype(np.{np.dtype(dtype)})")


def check_input(where: str, x: Any, feature_shape: Shape, dtype: np.dtype | None = None) -> None:
    """Raise unless ``x`` is a float array of shape (batch, *feature_shape).

    ``ShapeError`` names ``where`` and both shapes, ``DTypeError`` both dtypes.
    """
    check_float(where, x, dtype)
    if x.shape[1:] != feature_shape or x.ndim != len(feature_shape) + 1:
        expected = ", ".join(["batch", *map(str, feature_shape)])
        raise ShapeError(f"{where}: expected input of shape ({expected}), got {x.shape}")


def check_params(where: str, params: Any, record: type[Any], w_shape: tuple[int | None, ...],
                 b_shape: Shape) -> None:
    """Raise unless ``params`` is a ``record`` whose ``w`` fits ``w_shape`` (None: any size)
    and whose ``b``, when present, has ``b_shape``: params made for another layer or model
    are refused by name instead of failing deep inside a matrix product."""
    if not isinstance(params, record):
        raise TreeError(f"{where}: expected {record.__name__} params, got "
                        f"{type(params).__name__} (params made for another model?)")
    w = params.w
    if w.ndim != len(w_shape) or any(e is not None and e != a for e, a in zip(w_shape, w.shape, strict=True)):
        expected = "(" + ", ".join("*" if e is None else str(e) for e in w_shape) + ")"
        raise ShapeError(f"{where}: expected params w of shape {expected}, got {w.shape} "
                         f"(params made for another model?)")
    if params.b is not None and params.b.shape != b_shape:
        raise ShapeError(f"{where}: expected params b of shape {b_shape}, got {params.b.shape}")


_FIELD_NAMES: dict[type, tuple[str, ...]] = {}


def _field_names(cls: type) -> tuple[str, ...]:
    names = _FIELD_NAMES.get(cls)
    if names is None:
        names = _FIELD_NAMES[cls] = tuple(a.name for a in attrs.fields(cls))
    return names


def _same_array_fields(params: Any, grads: Any) -> bool:
    """Whether both are records of one class whose fields hold arrays of the same shapes
    (or None on both sides): the common case, settled without flattening either."""
    if type(params) is not type(grads) or not attrs.has(type(params)):
        return False
    for name in _field_names(type(params)):
        p, g = getattr(params, name), getattr(grads, name)
        if p is None and g is None:
            continue
        if type(p) is not np.ndarray or type(g) is not np.ndarray or p.shape != g.shape:
            return False
    return True


def check_grads(where: str, params: Any, grads: Any) -> None:
    """Raise unless ``grads`` has the structure of ``params`` and each leaf its shape.

    Run on what a layer's ``backward`` returns, so a wrong gradient is blamed on
    the layer (``where``) and the parameter's path, not on the optimizer later.
    """
    if (params is None and grads is None) or _same_array_fields(params, grads):
        return
    p_leaves, p_structure = tree_lib.flatten(params)
    g_leaves, g_structure = tree_lib.flatten(grads)
    if p_structure != g_structure:
        try:
            tree_lib.map(lambda p, g: None, params, grads)
        except TreeError as exc:
            raise TreeError(f"{where}: backward returned grads not shaped like the params "
                            f"(params first): {exc}") from None
    if all(np.shape(g) == np.shape(p) for p, g in zip(p_leaves, g_leaves, strict=True)):
        return
    for (path, p), g in zip(tree_lib.leaves_with_paths(params), g_leaves, strict=True):
        if np.shape(g) != np.shape(p):
            raise ShapeError(f"{where}: backward returned a gradient of shape {np.shape(g)} "
                             f"for params{'' if path == '<root>' else path} of shape "
                             f"{np.shape(p)}")
