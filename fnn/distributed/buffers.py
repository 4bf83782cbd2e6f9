"""Trees of arrays laid out in one byte buffer: one contiguous section per dtype.

A data-parallel step sends all its gradients as one message. ``layout(tree)``
places every leaf (arrays, numpy and Python scalars) in a section of its dtype;
sections are ordered by dtype name and 16-byte aligned, so a buffer received
from any process views as the same typed arrays. Pure numpy: no MPI here.
"""

from __future__ import annotations

from typing import Any

import attrs
import numpy as np

from fnn import tree as tree_lib

__all__ = ["Layout", "layout", "pack", "unpack", "sum_rows"]

_ALIGN = 16


def _aligned(offset: int) -> int:
    return -(-offset // _ALIGN) * _ALIGN


@attrs.frozen
class Layout:
    """Where each leaf of a tree lies in a buffer of ``nbytes`` bytes.

    ``slots`` holds (offset, dtype, shape, kind) per leaf in ``fnn.tree.leaves``
    order, kind being the leaf's type (``np.ndarray``, a numpy scalar type or a
    Python scalar type) so ``unpack`` gives back what the tree held;
    ``sections`` holds (dtype, offset, count) per dtype.
    """

    structure: Any
    slots: tuple
    sections: tuple
    nbytes: int


def layout(tree: Any) -> Layout:
    """The layout of ``tree``'s leaves, grouped by dtype."""
    leaves, structure = tree_lib.flatten(tree)
    arrays = [np.asarray(leaf) for leaf in leaves]
    slots: list = [None] * len(arrays)
    sections = []
    offset = 0
    for dtype in sorted({a.dtype for a in arrays}, key=lambda d: d.str):
        offset = start = _aligned(offset)
        for i, a in enumerate(arrays):
            if a.dtype == dtype:
                slots[i] = (offset, dtype, a.shape, type(leaves[i]))
                offset += a.nbytes
        sections.append((dtype, start, (offset - start) // dtype.itemsize))
    return Layout(structure, tuple(slots), tuple(sections), _aligned(offset))


def _view(buffer: np.ndarray, slot: tuple) -> np.ndarray:
    offset, dtype, shape, _ = slot
    return buffer[offset:offset + dtype.itemsize * int(np.prod(shape))].view(dtype).reshape(shape)


def pack(lay: Layout, tree: Any) -> np.ndarray:
    """A fresh uint8 buffer holding ``tree``'s leaves where ``lay`` places them (padding zero)."""
    buffer = np.zeros(lay.nbytes, np.uint8)
    for leaf, slot in zip(tree_lib.flatten(tree)[0], lay.slots, strict=True):
        _view(buffer, slot)[...] = leaf
    return buffer


def unpack(lay: Layout, buffer: np.ndarray) -> Any:
    """The tree of ``lay``'s structure whose leaves are read from ``buffer``.

    Arrays are read-only views of ``buffer`` (which must not be written
    afterwards); scalars come back as the type they had.
    """
    buffer = buffer.view()
    buffer.setflags(write=False)
    leaves = []
    for slot in lay.slots:
        array, kind = _view(buffer, slot), slot[3]
        leaves.append(array if kind is np.ndarray else
                      array[()] if issubclass(kind, np.generic) else kind(array[()]))
    return tree_lib.unflatten(lay.structure, leaves)


def sum_rows(lay: Layout, rows: np.ndarray, divisor: int = 1) -> np.ndarray:
    """One buffer of ``lay`` per row of ``rows`` (processes × nbytes) summed section by
    section in row order, (row 0 + row 1) + row 2 ..., then divided by ``divisor``
    (when not 1): every process that sums the same rows gets the same bytes."""
    out = np.zeros(lay.nbytes, np.uint8)
    for dtype, start, count in lay.sections:
        stop = start + count * dtype.itemsize
        total = out[start:stop].view(dtype)
        parts = [row[start:stop].view(dtype) for row in rows]
        if len(parts) == 1:
            total[...] = parts[0]
        else:
            np.add(parts[0], parts[1], out=total)  # one pass for two ranks, not a copy and an add
        for part in parts[2:]:
            total += part
        if divisor != 1:
            total /= divisor
    return out
