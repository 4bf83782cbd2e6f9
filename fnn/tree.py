"""Functions over trees: nests of tuples, lists, dicts, ``None`` and attrs records.

Anything else is a leaf (numpy arrays, numpy and Python scalars). ``None`` is
an empty subtree: it has no leaves and maps to ``None``. Dicts are traversed
in sorted key order, attrs records in field order, so leaf order is fixed.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import attrs
import numpy as np

from fnn.errors import TreeError

__all__ = ["map", "leaves", "flatten", "unflatten", "leaves_with_paths", "all_leaves",
           "children", "size", "nbytes"]

Tree = Any

# Node kinds, cached per type: these functions run several times in every train step.
_LEAF, _SEQUENCE, _DICT, _RECORD = range(4)
_KINDS: dict[type, int] = {np.ndarray: _LEAF, float: _LEAF, int: _LEAF, bool: _LEAF,
                           tuple: _SEQUENCE, list: _SEQUENCE, dict: _DICT}
_FIELDS: dict[type, tuple[tuple[str, str], ...]] = {}
# Per record class: a getter of its init fields' values, and whether __init__ takes them
# positionally in field order (so a rebuild needs no keyword dict).
_GETTERS: dict[type, Callable[[Any], tuple]] = {}
_POSITIONAL: dict[type, bool] = {}


def _kind(node: Tree) -> int:
    cls = type(node)
    kind = _KINDS.get(cls)
    if kind is None:
        if attrs.has(cls):
            kind = _RECORD
            # (attribute name, __init__ argument name) of the fields set through __init__
            fields = [a for a in attrs.fields(cls) if a.init]
            _FIELDS[cls] = tuple((a.name, a.alias) for a in fields)
            _GETTERS[cls] = _getter(tuple(a.name for a in fields))
            _POSITIONAL[cls] = not any(a.kw_only for a in fields)
        elif isinstance(node, (tuple, list)):
            kind = _SEQUENCE
        elif isinstance(node, dict):
            kind = _DICT
        else:
            kind = _LEAF
        _KINDS[cls] = kind
    return kind


def _getter(names: tuple[str, ...]) -> Callable[[Any], tuple]:
    """A function returning the tuple of a record's ``names`` attributes."""
    if len(names) > 1:
        return operator.attrgetter(*names)
    if names:
        single = operator.attrgetter(names[0])
        return lambda node: (single(node),)
    return lambda node: ()


def _keys(node: dict) -> list:
    """A dict's keys in traversal order: sorted, by type name first so mixed keys sort too."""
    return sorted(node, key=lambda k: (type(k).__name__, k))


def _values(node: Tree, kind: int) -> Sequence[Any]:
    if kind == _SEQUENCE:
        return list(node)
    if kind == _DICT:
        return [node[k] for k in _keys(node)]
    return _GETTERS[type(node)](node)


def _steps(node: Tree, kind: int) -> list[str]:
    """The path step to each child, in the order of ``_values``."""
    if kind == _SEQUENCE:
        return [f"[{i}]" for i in range(len(node))]
    if kind == _DICT:
        return [f"[{k!r}]" for k in _keys(node)]
    return [f".{name}" for name, _ in _FIELDS[type(node)]]


def children(node: Tree) -> list[tuple[str, Any]] | None:
    """A container's ``(path step, child)`` pairs in traversal order, or None for a leaf.

    Steps read ``[0]`` (sequences), ``['key']`` (dicts) and ``.field`` (records);
    ``None`` is a container without children.
    """
    if node is None:
        return []
    kind = _kind(node)
    if kind == _LEAF:
        return None
    return list(zip(_steps(node, kind), _values(node, kind), strict=True))


def _rebuild(node: Tree, kind: int, values: list) -> Tree:
    return _make(type(node), kind, _keys(node) if kind == _DICT else None, values)


def _make(cls: type, kind: int, keys: list | None, values: list) -> Tree:
    """A node of type ``cls`` holding ``values`` (a dict's under ``keys``)."""
    if kind == _SEQUENCE:
        if cls is tuple:
            return tuple(values)
        if cls is list:
            return values
        return cls(*values) if hasattr(cls, "_fields") else cls(values)
    if kind == _DICT:
        assert keys is not None  # every dict node carries its keys
        return dict(zip(keys, values, strict=True))
    if _POSITIONAL[cls]:
        return cls(*values)
    return cls(**{alias: v for (_, alias), v in zip(_FIELDS[cls], values, strict=True)})


def _describe(node: Tree) -> str:
    if node is None:
        return "None"
    kind = _kind(node)
    if kind == _DICT:
        return f"a dict with keys {_keys(node)}"
    if kind == _SEQUENCE:
        return f"a {type(node).__name__} of length {len(node)}"
    if kind == _RECORD:
        return f"a {type(node).__name__} record"
    return f"a leaf of type {type(node).__name__}"


def map(f: Callable, tree: Tree, *rest: Tree) -> Tree:
    """Apply ``f`` to the leaves of ``tree`` (and the matching leaves of ``rest``).

    Returns a tree of the same structure; records are rebuilt through their
    ``__init__``, so their converters run on the new leaves. Raises
    ``TreeError`` naming the path where the structures of the trees differ.
    """
    if not rest:
        return _map1(f, tree)
    try:
        return _map_n(f, tree, rest)
    except _Mismatch as mismatch:
        raise TreeError(f"tree structures differ at {''.join(reversed(mismatch.steps)) or '<root>'}"
                        f": expected {mismatch.expected}, got {mismatch.actual}") from None


def _map1(f: Callable, node: Tree) -> Tree:
    if node is None:
        return None
    kind = _kind(node)
    if kind == _LEAF:
        return f(node)
    return _rebuild(node, kind, [_map1(f, child) for child in _values(node, kind)])


class _Mismatch(Exception):
    """Raised where two trees differ; each level on the way up adds its path step."""

    def __init__(self, expected: str, actual: str):
        super().__init__()
        self.expected, self.actual = expected, actual
        self.steps: list[str] = []


def _same_kind(node: Tree, kind: int, other: Tree) -> bool:
    if kind == _DICT:
        return isinstance(other, dict) and _keys(node) == _keys(other)
    if kind == _SEQUENCE:
        return type(other) is type(node) and len(other) == len(node)
    return type(other) is type(node)


def _map_n(f: Callable, node: Tree, others: Sequence[Tree]) -> Tree:
    if node is None:
        if any(other is not None for other in others):
            raise _Mismatch("None", _describe(next(o for o in others if o is not None)))
        return None
    kind = _kind(node)
    if kind == _LEAF:
        for other in others:
            if other is None or _kind(other) != _LEAF:
                raise _Mismatch(_describe(node), _describe(other))
        return f(node, *others)
    for other in others:
        if not _same_kind(node, kind, other):
            raise _Mismatch(_describe(node), _describe(other))
    values = []
    for i, (child, *other_children) in enumerate(
            zip(_values(node, kind), *(_values(other, kind) for other in others), strict=True)):
        try:
            values.append(_map_n(f, child, other_children))
        except _Mismatch as mismatch:
            mismatch.steps.append(_steps(node, kind)[i])
            raise
    return _rebuild(node, kind, values)


def leaves(tree: Tree) -> list:
    """The leaves of ``tree`` in traversal order (dict keys sorted); ``None`` has none."""
    out: list = []
    _collect(tree, out)
    return out


def _collect(node: Tree, out: list) -> None:
    if node is None:
        return
    kind = _kind(node)
    if kind == _LEAF:
        out.append(node)
        return
    for child in _values(node, kind):
        if type(child) is np.ndarray:  # the common leaf, without a call
            out.append(child)
        else:
            _collect(child, out)


def all_leaves(predicate: Callable[[Any], bool], tree: Tree,
               skip: Callable[[Any], bool] | None = None) -> bool:
    """Whether ``predicate`` holds for every leaf, stopping at the first that fails.

    Subtrees for which ``skip(node)`` is True are taken to hold without a visit.
    """
    pending = [tree]
    while pending:
        node = pending.pop()
        if node is None or (skip is not None and skip(node)):
            continue
        kind = _kind(node)
        if kind != _LEAF:
            pending.extend(_values(node, kind))
        elif not predicate(node):
            return False
    return True


_A_LEAF = object()  # where a structure holds a leaf


def flatten(tree: Tree) -> tuple[list, Any]:
    """``(leaves(tree), structure)``: ``structure`` is a hashable value from which
    ``unflatten`` rebuilds the tree. Two structures are equal exactly when the trees
    hold the same containers (types, lengths, dict keys, record classes) with leaves
    in the same places; then ``map`` can zip them (it also zips a dict with a dict
    subclass of the same keys, whose structures differ).

    Comparing structures is one tuple comparison, so code that zips several
    trees many times (an optimizer, every step) checks them cheaply.
    """
    out: list = []
    nested = _structure(tree, out)
    return out, (len(out), nested)


def _structure(node: Tree, out: list) -> Any:
    if node is None:
        return None
    kind = _kind(node)
    if kind == _LEAF:
        out.append(node)
        return _A_LEAF
    shape = []
    for child in _values(node, kind):
        if type(child) is np.ndarray:  # the common leaf, without a call
            out.append(child)
            shape.append(_A_LEAF)
        else:
            shape.append(_structure(child, out))
    return (type(node), kind, tuple(_keys(node)) if kind == _DICT else None, tuple(shape))


def unflatten(structure: Any, leaves: list) -> Tree:
    """The tree of ``structure`` (from ``flatten``) holding ``leaves`` in traversal order."""
    count, nested = structure
    if len(leaves) != count:
        raise TreeError(f"unflatten: the structure holds {count} leaves, got {len(leaves)}")
    return _build(nested, iter(leaves))


def _build(nested: Any, remaining: Iterator) -> Tree:
    if nested is None:
        return None
    if nested is _A_LEAF:
        return next(remaining)
    cls, kind, keys, children = nested
    return _make(cls, kind, keys, [next(remaining) if child is _A_LEAF else _build(child, remaining)
                                   for child in children])


def leaves_with_paths(tree: Tree) -> list[tuple[str, Any]]:
    """``(path, leaf)`` pairs in the order of ``leaves``; a path reads like ``[0].w``."""
    return [(path or "<root>", leaf) for path, leaf in _walk(tree, "")]


def _walk(node: Tree, path: str) -> Iterator[tuple[str, Any]]:
    if node is None:
        return
    kind = _kind(node)
    if kind == _LEAF:
        yield path, node
        return
    for step, child in zip(_steps(node, kind), _values(node, kind), strict=True):
        yield from _walk(child, path + step)


def size(tree: Tree) -> int:
    """How many numbers ``tree`` holds: the element counts of its leaves, summed
    (a scalar leaf counts one); a model's parameter count is ``size(params)``."""
    return sum(int(np.size(leaf)) for leaf in leaves(tree))


def nbytes(tree: Tree) -> int:
    """How many bytes the leaves of ``tree`` hold as arrays (a Python float counts 8)."""
    return sum(np.asarray(leaf).nbytes for leaf in leaves(tree))
