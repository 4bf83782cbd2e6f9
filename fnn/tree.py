"""Functions over trees: nests of tuples, lists, dicts, ``None`` and attrs records.

Anything else is a leaf (numpy arrays, numpy and Python scalars). ``None`` is
an empty subtree: it has no leaves and maps to ``None``. Dicts are traversed
in sorted key order, attrs records in field order, so leaf order is fixed.
"""

from __future__ import annotations

import functools
from typing import Any, Callable

import attrs

from fnn.errors import TreeError

__all__ = ["map", "leaves", "leaves_with_paths"]

Tree = Any


@functools.lru_cache(maxsize=None)
def _record_fields(cls: type) -> tuple[tuple[str, str], ...]:
    """(attribute name, ``__init__`` argument name) of an attrs class's init fields."""
    return tuple((a.name, a.alias) for a in attrs.fields(cls) if a.init)


def _children(node: Tree) -> list[tuple[str, Tree]] | None:
    """A container's (path step, child) pairs, in traversal order; None for a leaf."""
    if isinstance(node, (tuple, list)):
        return [(f"[{i}]", child) for i, child in enumerate(node)]
    if isinstance(node, dict):
        return [(f"[{k!r}]", node[k]) for k in sorted(node)]
    if attrs.has(type(node)):
        return [(f".{name}", getattr(node, name)) for name, _ in _record_fields(type(node))]
    return None


def _rebuild(node: Tree, values: list) -> Tree:
    if isinstance(node, tuple):
        return type(node)(*values) if hasattr(node, "_fields") else tuple(values)
    if isinstance(node, list):
        return values
    if isinstance(node, dict):
        return dict(zip(sorted(node), values))
    return type(node)(**{alias: v for (_, alias), v in zip(_record_fields(type(node)), values)})


def _describe(node: Tree) -> str:
    if node is None:
        return "None"
    if isinstance(node, dict):
        return f"a dict with keys {sorted(node)}"
    if isinstance(node, (tuple, list)):
        return f"a {type(node).__name__} of length {len(node)}"
    if attrs.has(type(node)):
        return f"a {type(node).__name__} record"
    return f"a leaf of type {type(node).__name__}"


def map(f: Callable, tree: Tree, *rest: Tree) -> Tree:  # noqa: A001 - the contract's name
    """Apply ``f`` to the leaves of ``tree`` (and the matching leaves of ``rest``).

    Returns a tree of the same structure; records are rebuilt through their
    ``__init__``, so their converters run on the new leaves. Raises
    ``TreeError`` naming the path where the structures of the trees differ.
    """
    if not rest:
        return _map1(f, tree)
    return _map_n(f, tree, rest, "")


def _map1(f: Callable, node: Tree) -> Tree:
    if node is None:
        return None
    children = _children(node)
    if children is None:
        return f(node)
    return _rebuild(node, [_map1(f, child) for _, child in children])


def _same_kind(a: Tree, b: Tree) -> bool:
    if isinstance(a, dict):
        return isinstance(b, dict) and sorted(a) == sorted(b)
    if isinstance(a, (tuple, list)):
        return isinstance(b, type(a)) and len(a) == len(b)
    return type(a) is type(b)


def _map_n(f: Callable, node: Tree, others: tuple, path: str) -> Tree:
    children = None if node is None else _children(node)
    if children is None and node is not None:
        return f(node, *others)
    for other in others:
        if not (other is None if node is None else _same_kind(node, other)):
            raise TreeError(f"tree structures differ at {path or '<root>'}: "
                            f"expected {_describe(node)}, got {_describe(other)}")
    if node is None:
        return None
    other_children = [_children(other) for other in others]
    return _rebuild(node, [
        _map_n(f, child, tuple(oc[i][1] for oc in other_children), path + step)
        for i, (step, child) in enumerate(children)])


def leaves(tree: Tree) -> list:
    """The leaves of ``tree`` in traversal order (dict keys sorted); ``None`` has none."""
    return [leaf for _, leaf in _walk(tree, "")]


def leaves_with_paths(tree: Tree) -> list[tuple[str, Any]]:
    """``(path, leaf)`` pairs in the order of ``leaves``; a path reads like ``[0].w``."""
    return [(path or "<root>", leaf) for path, leaf in _walk(tree, "")]


def _walk(node: Tree, path: str):
    if node is None:
        return
    children = _children(node)
    if children is None:
        yield path, node
        return
    for step, child in children:
        yield from _walk(child, path + step)
