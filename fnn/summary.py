"""``summary``: a model as a table, one row per layer, as Keras's ``model.summary()``."""

from __future__ import annotations

from typing import Any

import numpy as np

from fnn import random, tree
from fnn.combinators import InitRecord, traced_init
from fnn.core import Layer

__all__ = ["summary"]


def _rows(record: InitRecord, depth: int) -> list[tuple[str, str, str]]:
    layer = record.layer
    # A combinator's row names its kind only: its children have rows of their own.
    label = layer.name.split("(", 1)[0] if layer.children else layer.name
    rows = [("  " * depth + label, str(record.out_shape), f"{tree.size(record.params):,}")]
    for child in record.children:
        rows += _rows(child, depth + 1)
    return rows


def _amount(params: Any) -> str:
    n, size = tree.size(params), tree.nbytes(params)
    for unit, scale in (("MiB", 2**20), ("KiB", 2**10)):
        if size >= scale:
            return f"{n:,} ({size:,} bytes, {size / scale:.1f} {unit})"
    return f"{n:,} ({size:,} bytes)"


def summary(model: Layer, in_shape: tuple[int, ...], dtype: Any = np.float32) -> str:
    """A table of ``model`` on inputs of ``in_shape`` (no batch axis): one row per
    layer, the children of combinators indented under them, with each layer's
    output shape (no batch axis) and parameter count (a combinator's counts its
    children's), then the totals of parameters and of layer state (batch norm's
    running statistics) in numbers and bytes of ``dtype``.

    The model is initialised once, from a fixed key; only shapes and counts are shown.
    """
    root = traced_init(model, random.key(0), tuple(in_shape), dtype)
    header = ("layer", "output shape", "params")
    rows = [header, *_rows(root, 0)]
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    lines = [f"{row[0]:<{widths[0]}}  {row[1]:<{widths[1]}}  {row[2]:>{widths[2]}}" for row in rows]
    rule = "-" * len(lines[0])
    return "\n".join([f"input shape {tuple(in_shape)}, {np.dtype(dtype)}", lines[0], rule,
                      *lines[1:], rule, f"params: {_amount(root.params)}",
                      f"state: {_amount(root.state)}"])
