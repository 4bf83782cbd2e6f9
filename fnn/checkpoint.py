"""Checkpoints: save a tree to a ``.npz`` file, load it back, and digest it.

A checkpoint is a zip archive that ``np.load`` opens, holding

- ``tree.json``: ``{"format": "fnn.checkpoint", "version": 1, "nodes": [...]}``, one
  node per tree node in traversal order (the order of ``fnn.tree.leaves``).
  Containers are ``{"path", "type"}`` with type ``tuple``, ``list``, ``dict``,
  ``None`` or a record's class name; leaves are ``{"path", "leaf", "dtype",
  "shape"}``, where ``leaf`` says what ``load`` gives back: ``array``,
  ``numpy`` (a numpy scalar) or a Python ``bool``, ``int``, ``float``, ``complex``;
- ``leaf_<i>.npy``: the i-th leaf as an array (Python scalars as 0-d
  bool/int64/float64/complex128 arrays).

Nothing is ever pickled: leaves other than bool, integer, float and complex
arrays and scalars are refused by ``save``, and files are read with
``allow_pickle=False``.
"""

from __future__ import annotations

import hashlib
import json
import os
import struct
import uuid
import zipfile
import zlib
from typing import Any

import attrs
import numpy as np

from fnn import tree as tree_lib
from fnn.errors import DataError, DTypeError, ShapeError, TreeError

__all__ = ["save", "load", "digest", "read", "describe", "mismatches", "Mismatch"]

_FORMAT, _VERSION = "fnn.checkpoint", 1
_HEADER = "tree.json"
_STORABLE_KINDS = "biufc"  # what .npy files hold without pickling: bool, ints, floats, complex
# Python scalars get fixed dtypes, so a file does not depend on the platform's C long.
_PYTHON_SCALARS = {bool: np.bool_, int: np.int64, float: np.float64, complex: np.complex128}
# Zip entries carry a timestamp; a fixed one makes the same tree give the same bytes,
# so a re-saved snapshot that did not change does not show in a diff.
_TIMESTAMP = (1980, 1, 1, 0, 0, 0)

Node = dict[str, Any]
# What zipfile, zlib and numpy's .npy reader raise on damaged bytes: a damaged header can
# claim another zip version (NotImplementedError), encryption (RuntimeError), a seek before
# the start (OSError), a compressed entry (zlib.error) or a malformed .npy header (ValueError).
_DAMAGED = (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError, OSError,
            NotImplementedError, RuntimeError, zlib.error, struct.error)


def describe(tree: Any) -> list[Node]:
    """The nodes ``save`` would write for ``tree`` (see the module docstring).

    Raises ``DTypeError`` (or ``DataError`` for an int beyond int64) naming the
    path of the first leaf that cannot be stored.
    """
    return _flatten(tree)[0]


def _flatten(tree: Any) -> tuple[list[Node], list[np.ndarray]]:
    nodes: list[Node] = []
    arrays: list[np.ndarray] = []

    def visit(node: Any, path: str) -> None:
        children = tree_lib.children(node)
        if children is not None:
            nodes.append({"path": path, "type": "None" if node is None else type(node).__qualname__})
            for step, child in children:
                visit(child, path + step)
            return
        kind, array = _as_array(path, node)
        nodes.append({"path": path, "leaf": kind, "dtype": array.dtype.str,
                      "shape": list(array.shape)})
        arrays.append(array)

    visit(tree, "")
    return nodes, arrays


def _as_array(path: str, leaf: Any) -> tuple[str, np.ndarray]:
    """(leaf kind, the leaf as an array), or raise naming ``path`` if it cannot be stored."""
    where = f"cannot store the leaf at {_show(path)}"
    if isinstance(leaf, np.ndarray):
        kind, array = "array", np.asarray(leaf)
    elif isinstance(leaf, np.generic):
        kind, array = "numpy", np.asarray(leaf)
    elif type(leaf) in _PYTHON_SCALARS:
        kind = type(leaf).__name__
        try:
            array = np.asarray(leaf, dtype=_PYTHON_SCALARS[type(leaf)])
        except OverflowError:
            raise DataError(f"{where}: the int {leaf} does not fit in int64") from None
    else:
        raise DTypeError(f"{where}: a {type(leaf).__name__}; checkpoints hold numpy arrays and "
                         f"scalars and Python bool, int, float and complex values")
    if array.dtype.kind not in _STORABLE_KINDS:
        raise DTypeError(f"{where}: dtype {array.dtype}; only bool, integer, float and complex "
                         f"data is stored (object arrays would need pickle, which fnn never uses)")
    # Little-endian always, so files and digests do not depend on the machine's byte order.
    return kind, array.astype(array.dtype.newbyteorder("<"), copy=False)


def _show(path: str) -> str:
    return path or "<root>"


def save(path: str | os.PathLike, tree: Any) -> None:
    """Write ``tree`` to ``path`` (no suffix is added) atomically.

    The file is written beside ``path`` under a temporary name, flushed to
    disk and renamed onto ``path``, so ``path`` holds either its old content or
    the whole new checkpoint. Every leaf is checked before anything is written;
    on any failure no temporary file remains and ``path`` is untouched.
    """
    nodes, arrays = _flatten(tree)
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    temporary = os.path.join(directory, f".{os.path.basename(path)}.{uuid.uuid4().hex}.tmp")
    try:
        with open(temporary, "xb") as f:
            _write_zip(f, nodes, arrays)
            f.flush()
            os.fsync(f.fileno())
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.remove(temporary)
        raise
    _fsync_directory(directory)


def _write_zip(f: Any, nodes: list[Node], arrays: list[np.ndarray]) -> None:
    # One node a line, so `unzip -p file.npz tree.json` reads well.
    header = (f'{{"format": "{_FORMAT}", "version": {_VERSION}, "nodes": [\n'
              + ",\n".join(json.dumps(node) for node in nodes) + "\n]}\n")
    with zipfile.ZipFile(f, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr(_entry(_HEADER), header)
        for i, array in enumerate(arrays):
            with archive.open(_entry(f"leaf_{i}.npy"), "w", force_zip64=True) as out:
                np.lib.format.write_array(out, array, allow_pickle=False)


def _entry(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=_TIMESTAMP)
    info.external_attr = 0o644 << 16  # a plain readable file when unzipped
    return info


def _fsync_directory(directory: str) -> None:
    """Make the rename durable, where the platform and file system allow it."""
    if not hasattr(os, "O_DIRECTORY"):
        return
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    except OSError:
        pass  # some file systems refuse to sync a directory; the file itself is on disk
    finally:
        os.close(fd)


def read(path: str | os.PathLike) -> tuple[list[Node], list[Any]]:
    """The nodes and leaf values stored at ``path``, without a tree to load into.

    Leaves come back as ``load`` gives them. Raises ``DataError`` naming the
    file when it is not a zip file, is truncated, lacks ``tree.json``, has
    missing or extra entries, or holds data that would need unpickling.
    """
    path = os.fspath(path)
    with open(path, "rb") as f:  # a missing file raises FileNotFoundError, as open does
        is_zip = zipfile.is_zipfile(f)
    if not is_zip:
        raise DataError(f"{path}: not an fnn checkpoint: not a zip (.npz) file, or truncated")
    try:
        archive = np.load(path, allow_pickle=False)
    except _DAMAGED as exc:
        raise DataError(f"{path}: not a readable .npz file: {exc!r}") from exc
    with archive:
        nodes = _read_header(path, archive)
        leaf_nodes = [node for node in nodes if "leaf" in node]
        names = [f"leaf_{i}" for i in range(len(leaf_nodes))]
        extra = sorted(set(archive.files) - {_HEADER, *names})
        if extra:
            raise DataError(f"{path}: unexpected entries {extra} not described by {_HEADER}")
        values = [_read_leaf(path, archive, name, node) for name, node in zip(names, leaf_nodes, strict=True)]
    return nodes, values


def _read_header(path: str, archive: Any) -> list[Node]:
    if _HEADER not in archive.files:
        raise DataError(f"{path}: no {_HEADER} entry: not written by fnn.checkpoint.save")
    try:
        header = json.loads(archive[_HEADER])
        if header["format"] != _FORMAT or header["version"] != _VERSION:
            raise ValueError(f"format {header['format']!r} version {header['version']!r}")
        nodes = header["nodes"]
        for node in nodes:
            _check_node(node)
    except (*_DAMAGED, TypeError, KeyError) as exc:
        raise DataError(f"{path}: malformed {_HEADER} (expected {_FORMAT} version {_VERSION}): "
                        f"{exc!r}") from exc
    return nodes


def _check_node(node: Any) -> None:
    """Raise ValueError unless ``node`` has the fields its kind needs, of the right types."""
    fields = {"path": str, **({"leaf": str, "dtype": str, "shape": list} if "leaf" in node
                              else {"type": str})}
    for field, kind in fields.items():
        if not isinstance(node[field], kind):
            raise ValueError(f"node {node!r}: {field} must be a {kind.__name__}")
    if "leaf" in node and np.dtype(node["dtype"]).str != node["dtype"]:
        raise ValueError(f"node {node!r}: dtype is not in numpy's dtype.str form")


def _read_leaf(path: str, archive: Any, name: str, node: Node) -> Any:
    where = f"{path}: entry {name} ({_show(node['path'])})"
    if name not in archive.files:
        raise DataError(f"{where} is missing")
    try:
        array = archive[name]
    except _DAMAGED as exc:
        # numpy refuses object arrays here, since allow_pickle=False
        raise DataError(f"{where} cannot be read: {exc}") from exc
    if not isinstance(array, np.ndarray) or array.dtype.str != node["dtype"] \
            or list(array.shape) != node["shape"]:
        got = (f"dtype {array.dtype} and shape {array.shape}" if isinstance(array, np.ndarray)
               else f"a {type(array).__name__}")
        raise DataError(f"{where} does not match {_HEADER}: expected {_node_text(node)}, "
                        f"got {got}")
    kind = node["leaf"]
    if kind == "array":
        return array
    if kind == "numpy":
        return array[()]
    scalar = {t.__name__: t for t in _PYTHON_SCALARS}.get(kind)
    if scalar is None or array.ndim != 0:
        raise DataError(f"{where}: unknown leaf kind {kind!r} for shape {array.shape}")
    return scalar(array[()])


def load(path: str | os.PathLike, like: Any) -> Any:
    """The tree stored at ``path``, rebuilt in the structure of ``like``.

    Every path, node type, leaf kind, dtype and shape of ``like`` must match the
    file; the first mismatch raises ``TreeError`` (a missing, extra or other
    kind of node), ``DTypeError`` or ``ShapeError``, naming the file, the path,
    what ``like`` has and what the file has.
    Records are rebuilt through their ``__init__`` (``fnn.tree.map``), so their
    converters make arrays read-only. ``like`` is never modified.
    """
    nodes, values = read(path)
    for mismatch in mismatches(describe(like), nodes):
        error = {"dtype": DTypeError, "shape": ShapeError}.get(mismatch.what, TreeError)
        # expected: what like has; got: what the file has
        raise error(f"{os.fspath(path)}: the stored tree does not match like at {mismatch}")
    stored = iter(values)
    return tree_lib.map(lambda _: next(stored), like)


@attrs.frozen
class Mismatch:
    """One difference between two descriptions at ``path``.

    ``what`` is ``missing`` (only expected has the path), ``extra`` (only actual
    has it), ``type`` (another container type or leaf kind), ``dtype`` or ``shape``.
    """

    path: str
    what: str
    expected: str
    actual: str

    def __str__(self) -> str:
        if self.what == "missing":
            return f"{_show(self.path)}: missing (expected {self.expected})"
        if self.what == "extra":
            return f"{_show(self.path)}: unexpected {self.actual}"
        return f"{_show(self.path)}: expected {self.expected}, got {self.actual}"


def mismatches(expected: list[Node], actual: list[Node]) -> list[Mismatch]:
    """Where the descriptions differ: paths of ``expected`` first, then those only in ``actual``.

    Leaves of the same kind whose dtype and shape both differ give two mismatches.
    """
    by_path = {node["path"]: node for node in actual}
    found = []
    for want in expected:
        got = by_path.pop(want["path"], None)
        if got is None:
            found.append(Mismatch(want["path"], "missing", _node_text(want), "nothing"))
            continue
        if want.get("type") != got.get("type") or want.get("leaf") != got.get("leaf"):
            found.append(Mismatch(want["path"], "type", _node_text(want), _node_text(got)))
            continue
        for what, show in (("dtype", np.dtype), ("shape", tuple)):
            if what in want and want[what] != got[what]:
                found.append(Mismatch(want["path"], what, f"{what} {show(want[what])}",
                                      f"{what} {show(got[what])}"))
    found.extend(Mismatch(node["path"], "extra", "nothing", _node_text(node))
                 for node in by_path.values())
    return found


def _node_text(node: Node) -> str:
    if "leaf" not in node:
        return "None" if node["type"] == "None" else f"a {node['type']}"
    return f"{node['leaf']} of dtype {np.dtype(node['dtype'])} and shape {tuple(node['shape'])}"


def digest(tree: Any) -> str:
    """A sha256 hex digest of ``tree``: every node's path and type (record class
    names included), every leaf's kind, dtype, shape and bytes.

    Equal across processes, runs and machines for equal trees; any change of
    structure, dtype, shape or a single bit changes it.
    """
    nodes, arrays = _flatten(tree)
    h = hashlib.sha256(f"{_FORMAT} digest {_VERSION}\n".encode())
    h.update(json.dumps(nodes, sort_keys=True, separators=(",", ":")).encode())
    for array in arrays:
        # dtypes and shapes above fix each leaf's length, so the bytes cannot run together
        h.update(np.ascontiguousarray(array).data)
    return h.hexdigest()
