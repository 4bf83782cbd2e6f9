"""Checkpoints: save a tree to a ``.npz`` file, load it back, and digest it.

A checkpoint is a zip archive that ``np.load`` opens, holding

- ``tree.json``: ``{"format": "fnn.checkpoint", "version": 1, "digest": ..., "nodes":
  [...]}``, the tree's ``digest`` (absent from files written before fnn stored it) and
  one node per tree node in traversal order (the order of ``fnn.tree.leaves``).
  Containers are ``{"path", "type"}`` with type ``tuple``, ``list``, ``dict``,
  ``None`` or a record's class name; leaves are ``{"path", "leaf", "dtype",
  "shape"}``, where ``leaf`` says what ``load`` gives back: ``array``,
  ``numpy`` (a numpy scalar) or a Python ``bool``, ``int``, ``float``, ``complex``;
- ``leaf_<i>.npy``: the i-th leaf as an array (Python scalars as 0-d
  bool/int64/float64/complex128 arrays).

Nothing is ever pickled: leaves other than bool, integer, float and complex
arrays and scalars are refused by ``save``, and ``.npy`` headers are parsed
without unpickling. Every size a file declares is checked before anything is
allocated (see ``_Archive``).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import sys
import uuid
import zipfile
from typing import Any

import attrs
import numpy as np

from fnn import tree as tree_lib
from fnn.bounded import DAMAGED, check_inflatable, read_into, read_limited
from fnn.errors import DataError, DTypeError, ShapeError, TreeError

try:
    import fcntl
except ImportError:  # Windows: no flock, so leftovers of crashed saves are never removed
    fcntl = None  # type: ignore[assignment]

__all__ = ["save", "load", "digest", "digest_of", "read", "describe", "mismatches", "Mismatch"]

_FORMAT, _VERSION = "fnn.checkpoint", 1
_HEADER = "tree.json"
_STORABLE_KINDS = "biufc"  # what .npy files hold without pickling: bool, ints, floats, complex
# Python scalars get fixed dtypes, so a file does not depend on the platform's C long.
_PYTHON_SCALARS = {bool: np.bool_, int: np.int64, float: np.float64, complex: np.complex128}
# Zip entries carry a timestamp; a fixed one makes the same tree give the same bytes,
# so a re-saved snapshot that did not change does not show in a diff.
_TIMESTAMP = (1980, 1, 1, 0, 0, 0)

Node = dict[str, Any]
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)


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
    """Write ``tree`` to ``path`` (no suffix is added) atomically, with its digest.

    The file is written beside ``path`` under a hidden temporary name, flushed to
    disk and renamed onto ``path``, so ``path`` holds either its old content or
    the whole new checkpoint. Every leaf is checked before anything is written;
    on any failure no temporary file remains and ``path`` is untouched, and an
    ``OSError`` keeps its type but names ``path``. Temporary files that saves of
    ``path`` killed mid-write left behind are removed; those of saves still
    running (in any process) are not, so concurrent saves of one path all succeed
    (the last rename wins).
    """
    nodes, arrays = _flatten(tree)
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    try:
        stem = _temporary_stem(os.path.basename(path))
        _remove_leftovers(directory, stem)
        temporary, fd = _create_temporary(directory, stem)
        with open(fd, "wb") as f:  # closing it releases the lock, after the rename
            try:
                _write_zip(f, nodes, arrays)
                f.flush()
                os.fsync(f.fileno())
                os.replace(temporary, path)
            except BaseException:
                os.remove(temporary)
                raise
        _fsync_directory(directory)
    except OSError as exc:
        raise _naming(exc, path) from exc


# A temporary name is .<stem>.<pid>.<16 hex digits>.tmp: 33 bytes more than the stem at most.
_NAME_MAX, _TEMPORARY_EXTRA = 255, 33
_LEFTOVER = re.compile(r"(\d+)\.[0-9a-f]{16}\.tmp")


def _temporary_stem(name: str) -> str:
    """``name``, or for a name too long to take the temporary suffix within NAME_MAX,
    its first 100 bytes and a hash of the whole (so two long names stay apart)."""
    raw = os.fsencode(name)
    if len(raw) + _TEMPORARY_EXTRA <= _NAME_MAX:
        return name
    return f"{os.fsdecode(raw[:100])}~{hashlib.sha256(raw).hexdigest()[:32]}"


def _create_temporary(directory: str, stem: str) -> tuple[str, int]:
    """A new temporary file's name and descriptor, locked for as long as it stays open.

    The lock tells ``_remove_leftovers`` that the writer is alive. A file created but
    not yet locked can look like a crashed save's to another process, which may remove
    it: the name then no longer leads to the locked file, and a new one is made.
    """
    while True:
        temporary = os.path.join(directory, f".{stem}.{os.getpid()}.{uuid.uuid4().hex[:16]}.tmp")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _CLOEXEC, 0o666)
        if fcntl is None:
            return temporary, fd
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
        except OSError:
            return temporary, fd  # a file system without locks: no cleaner can lock it either
        if _still_named(fd, temporary):
            return temporary, fd
        os.close(fd)


def _still_named(fd: int, name: str) -> bool:
    try:
        return os.path.samestat(os.fstat(fd), os.stat(name))
    except FileNotFoundError:
        return False


def _remove_leftovers(directory: str, stem: str) -> None:
    """Remove the temporary files of saves of this name whose writer died mid-write.

    A writer holds a lock on its temporary file until it is renamed, and the system
    drops the lock when the writer dies: a file whose lock can be taken is a crashed
    save's. Files named with this process's id are skipped (another thread may be
    writing them, and some network file systems lock per process).
    """
    if fcntl is None:
        return  # without flock nobody can tell a crashed save from a running one
    prefix = f".{stem}."
    for entry in os.scandir(directory):
        match = (_LEFTOVER.fullmatch(entry.name[len(prefix):])
                 if entry.name.startswith(prefix) else None)
        if match is None or int(match[1]) == os.getpid():
            continue
        try:
            fd = os.open(entry.path, os.O_RDONLY | _CLOEXEC)
        except OSError:
            continue  # renamed or removed meanwhile
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            if _still_named(fd, entry.path):
                os.remove(entry.path)
        except OSError:
            pass  # locked: its writer is alive; or removed meanwhile, or not ours to remove
        finally:
            os.close(fd)


def _naming(exc: OSError, path: str) -> OSError:
    """``exc`` as an error of the same type whose message names ``path``, the user's file,
    rather than the temporary one (or nothing, as for a full disk)."""
    try:
        if exc.errno is None:
            return type(exc)(f"cannot save {path}: {exc}")
        return type(exc)(exc.errno, f"{exc.strerror} (saving a checkpoint)", path)
    except TypeError:
        return exc  # an OSError subclass with its own constructor: keep it as it is


def _write_zip(f: Any, nodes: list[Node], arrays: list[np.ndarray]) -> None:
    # One node a line, so `unzip -p file.npz tree.json` reads well.
    header = (f'{{"format": "{_FORMAT}", "version": {_VERSION}, '
              f'"digest": "{_digest(nodes, arrays)}", "nodes": [\n'
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
    """The nodes and leaf values stored at ``path``, in the file's order, without a
    tree to load into.

    Leaves come back as ``load`` gives them, after the stored digest is checked in
    the file's order (the traversal order, in every file ``save`` writes). Raises
    ``DataError`` naming the file when it is not a zip file, is truncated, lacks
    ``tree.json``, has missing, extra or duplicate entries or paths, declares
    sizes it cannot hold, holds data that would need unpickling, or fails its digest.
    """
    path = os.fspath(path)
    with _Archive(path) as archive:
        leaf_nodes = [node for node in archive.nodes if "leaf" in node]
        arrays = [archive.array(i, node) for i, node in enumerate(leaf_nodes)]
        archive.verify(archive.nodes, arrays)
        return archive.nodes, [_value(archive.where(i, node), node, array)
                               for i, (node, array) in enumerate(zip(leaf_nodes, arrays, strict=True))]


def load(path: str | os.PathLike, like: Any) -> Any:
    """The tree stored at ``path``, rebuilt in the structure of ``like``.

    Every path, node type, leaf kind, dtype and shape of ``like`` must match the
    file, in any order; the first mismatch raises ``TreeError`` (a missing, extra
    or other kind of node), ``DTypeError`` or ``ShapeError``, naming the file, the
    path, what ``like`` has and what the file has, before any leaf is read. Each
    value goes to the path the file names for it, and the result must have the
    stored digest (``DataError`` otherwise; files written before fnn stored
    digests have none to check). Records are rebuilt through their ``__init__``
    (``fnn.tree.map``), so their converters make arrays read-only. ``like`` is
    never modified.
    """
    expected = describe(like)
    path = os.fspath(path)
    with _Archive(path) as archive:
        for mismatch in mismatches(expected, archive.nodes):
            error = {"dtype": DTypeError, "shape": ShapeError}.get(mismatch.what, TreeError)
            # expected: what like has; got: what the file has
            raise error(f"{path}: the stored tree does not match like at {mismatch}")
        leaf_nodes = [node for node in archive.nodes if "leaf" in node]
        by_path = {node["path"]: (archive.where(i, node), node, archive.array(i, node))
                   for i, node in enumerate(leaf_nodes)}
        ordered = [by_path[node["path"]] for node in expected if "leaf" in node]
        archive.verify(expected, [array for _, _, array in ordered])
    values = iter([_value(*entry) for entry in ordered])
    return tree_lib.map(lambda _: next(values), like)


# Limits on what a file may declare, checked before anything is allocated.
_MAX_HEADER_BYTES = 64 << 20  # tree.json: about 500,000 nodes
_MAX_NPY_HEADER = 65536  # numpy writes a few hundred bytes
_NPY_VERSIONS = {(1, 0): np.lib.format.read_array_header_1_0,
                 (2, 0): np.lib.format.read_array_header_2_0}
_METHODS = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)


class _Archive:
    """An open checkpoint whose entries and ``tree.json`` are checked: every declared
    size agrees with the file's length (or deflate's ratio) and the nodes."""

    def __init__(self, path: str):
        self.path = path
        # Closed by close(); a missing file raises FileNotFoundError, as open does.
        self.file = open(path, "rb")  # noqa: SIM115
        try:
            self._open()
        except BaseException:
            self.close()
            raise

    def __enter__(self) -> _Archive:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    def close(self) -> None:
        if getattr(self, "zip", None) is not None:
            self.zip.close()
        self.file.close()

    def _open(self) -> None:
        path = self.path
        if not zipfile.is_zipfile(self.file):
            raise DataError(f"{path}: not an fnn checkpoint: not a zip (.npz) file, or truncated")
        size = os.fstat(self.file.fileno()).st_size
        try:
            self.zip = zipfile.ZipFile(self.file)
        except (*DAMAGED, MemoryError) as exc:
            raise DataError(f"{path}: not a readable .npz file: {exc!r}") from exc
        self.entries: dict[str, zipfile.ZipInfo] = {}
        for info in self.zip.infolist():
            name = info.filename
            if name in self.entries:
                raise DataError(f"{path}: the entry {name} appears twice")
            if info.compress_type not in _METHODS or info.flag_bits & 1:
                raise DataError(f"{path}: entry {name} is encrypted or compressed with method "
                                f"{info.compress_type}; fnn reads stored or deflated entries")
            if info.header_offset + info.compress_size > size:
                raise DataError(f"{path}: entry {name} declares {info.compress_size} bytes past "
                                f"the end of the {size}-byte file: truncated or damaged")
            if info.compress_type == zipfile.ZIP_STORED and info.file_size != info.compress_size:
                raise DataError(f"{path}: stored entry {name} declares {info.file_size} bytes "
                                f"but holds {info.compress_size}")
            check_inflatable(f"{path}: entry {name}", info.file_size, info.compress_size)
            self.entries[name] = info
        self.nodes, self.digest = self._header()
        leaf_nodes = [node for node in self.nodes if "leaf" in node]
        names = {f"leaf_{i}.npy" for i in range(len(leaf_nodes))}
        extra = sorted(name.removesuffix(".npy") for name in set(self.entries) - {_HEADER, *names})
        if extra:
            raise DataError(f"{path}: unexpected entries {extra} not described by {_HEADER}")
        # Every size checked before any leaf is read: an entry holds a .npy header and
        # exactly the bytes its node's dtype and shape call for.
        for i, node in enumerate(leaf_nodes):
            entry = self.entries.get(f"leaf_{i}.npy")
            if entry is None:
                raise DataError(f"{self.where(i, node)} is missing")
            if not 0 < entry.file_size - _nbytes(node) <= _MAX_NPY_HEADER:
                raise DataError(f"{self.where(i, node)} does not match {_HEADER}: it declares "
                                f"{entry.file_size} bytes for {_node_text(node)}")

    def _header(self) -> tuple[list[Node], str | None]:
        path, info = self.path, self.entries.get(_HEADER)
        if info is None:
            raise DataError(f"{path}: no {_HEADER} entry: not written by fnn.checkpoint.save")
        if info.file_size > _MAX_HEADER_BYTES:
            raise DataError(f"{path}: {_HEADER} declares {info.file_size} bytes, more than the "
                            f"{_MAX_HEADER_BYTES} allowed")
        with self._entry(info) as stream:
            try:
                text = read_limited(stream, info.file_size)
            except DAMAGED as exc:
                raise DataError(f"{path}: {_HEADER} cannot be read: {exc!r}") from exc
        if len(text) != info.file_size:
            raise DataError(f"{path}: {_HEADER} holds other than the {info.file_size} bytes "
                            f"it declares")
        try:
            header = json.loads(text)
            if header["format"] != _FORMAT or header["version"] != _VERSION:
                raise ValueError(f"format {header['format']!r} version {header['version']!r}")
            stored = header.get("digest")
            if stored is not None and not re.fullmatch("[0-9a-f]{64}", stored):
                raise ValueError(f"digest {stored!r} is not a sha256 hex digest")
            nodes = header["nodes"]
            for node in nodes:
                _check_node(node)
        except (ValueError, TypeError, KeyError, AttributeError, RecursionError) as exc:
            raise DataError(f"{path}: malformed {_HEADER} (expected {_FORMAT} version "
                            f"{_VERSION}): {exc!r}") from exc
        seen: set[str] = set()
        for node in nodes:
            if node["path"] in seen:
                raise DataError(f"{path}: {_HEADER} names the path {_show(node['path'])} twice")
            seen.add(node["path"])
        return nodes, stored

    def _entry(self, info: zipfile.ZipInfo) -> Any:
        try:
            return self.zip.open(info)
        except DAMAGED as exc:
            raise DataError(f"{self.path}: entry {info.filename} cannot be read: {exc!r}") from exc

    def where(self, i: int, node: Node) -> str:
        return f"{self.path}: entry leaf_{i} ({_show(node['path'])})"

    def array(self, i: int, node: Node) -> np.ndarray:
        """Leaf i as an array, checked against its node before it is allocated."""
        where = self.where(i, node)
        info = self.entries[f"leaf_{i}.npy"]
        with self._entry(info) as stream:
            try:
                version = np.lib.format.read_magic(stream)
                if version not in _NPY_VERSIONS:
                    raise ValueError(f".npy format version {version}")
                shape, fortran, dtype = _NPY_VERSIONS[version](
                    stream, max_header_size=_MAX_NPY_HEADER)
                header_bytes = stream.tell()
            except Exception as exc:  # numpy's parser of untrusted headers raises all kinds
                raise DataError(f"{where} cannot be read: {exc}") from exc
            if dtype.hasobject:
                raise DataError(f"{where} cannot be read: it holds Python objects, which "
                                f"would need allow_pickle; fnn never unpickles")
            if dtype.str != node["dtype"] or list(shape) != node["shape"] \
                    or header_bytes + _nbytes(node) != info.file_size:
                raise DataError(f"{where} does not match {_HEADER}: expected "
                                f"{_node_text(node)}, got dtype {dtype} and shape {shape}")
            try:
                out = np.empty(shape[::-1] if fortran else shape, dtype)
            except MemoryError:
                raise DataError(f"{where}: no memory for the {_nbytes(node)} bytes of "
                                f"{_node_text(node)}") from None
            try:
                got = read_into(stream, out)
            except DAMAGED as exc:
                raise DataError(f"{where} cannot be read: {exc!r}") from exc
        if got != out.nbytes:
            raise DataError(f"{where} holds other than the {out.nbytes} bytes of "
                            f"{_node_text(node)}")
        return out.T if fortran else out

    def verify(self, nodes: list[Node], arrays: list[np.ndarray]) -> None:
        """Raise ``DataError`` unless the stored digest is that of ``nodes`` and ``arrays``."""
        if self.digest is not None and _digest(nodes, arrays) != self.digest:
            raise DataError(f"{self.path}: the content does not match the digest stored in "
                            f"{_HEADER}: the file was damaged or altered after it was saved")


def _nbytes(node: Node) -> int:
    return math.prod(node["shape"]) * np.dtype(node["dtype"]).itemsize


def _check_node(node: Any) -> None:
    """Raise ValueError unless ``node`` has the fields its kind needs, of the right types."""
    fields = {"path": str, **({"leaf": str, "dtype": str, "shape": list} if "leaf" in node
                              else {"type": str})}
    for field, kind in fields.items():
        if not isinstance(node[field], kind):
            raise ValueError(f"node {node!r}: {field} must be a {kind.__name__}")
    if "leaf" not in node:
        return
    dtype = np.dtype(node["dtype"])
    if dtype.str != node["dtype"] or dtype.kind not in _STORABLE_KINDS:
        raise ValueError(f"node {node!r}: dtype is not a bool, integer, float or complex "
                         f"dtype in numpy's dtype.str form")
    shape = node["shape"]
    if len(shape) > 64 or not all(type(n) is int and n >= 0 for n in shape) \
            or math.prod(shape) * dtype.itemsize > sys.maxsize:
        raise ValueError(f"node {node!r}: shape is not a list of at most 64 sizes of an array "
                         f"that can exist")
    if node["leaf"] not in _LEAF_KINDS or (node["leaf"] not in ("array", "numpy") and shape):
        raise ValueError(f"node {node!r}: unknown leaf kind {node['leaf']!r} for shape {shape}")


_SCALARS = {t.__name__: t for t in _PYTHON_SCALARS}
_LEAF_KINDS = {"array", "numpy", *_SCALARS}


def _value(where: str, node: Node, array: np.ndarray) -> Any:
    """What ``load`` gives back for a leaf read as ``array``."""
    kind = node["leaf"]
    if kind == "array":
        return array
    if kind == "numpy":
        return array[()]
    return _SCALARS[kind](array[()])


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
    structure, dtype, shape or a single bit changes it. ``save`` stores it and
    ``load`` checks it: an integrity check against damage, not a signature
    (whoever can write a file can store the digest of what they wrote).
    """
    return _digest(*_flatten(tree))


def digest_of(nodes: list[Node], leaves: list[Any]) -> str:
    """``digest(tree)`` from the nodes and leaves ``read`` gives for a file holding ``tree``."""
    return _digest(nodes, [np.asarray(leaf, node["dtype"])
                           for leaf, node in zip(leaves, [n for n in nodes if "leaf" in n], strict=True)])


def _digest(nodes: list[Node], arrays: list[np.ndarray]) -> str:
    h = hashlib.sha256(f"{_FORMAT} digest {_VERSION}\n".encode())
    h.update(json.dumps(nodes, sort_keys=True, separators=(",", ":")).encode())
    for array in arrays:
        # dtypes and shapes above fix each leaf's length, so the bytes cannot run together
        h.update(np.ascontiguousarray(array).data)
    return h.hexdigest()
