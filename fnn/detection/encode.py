"""Ground-truth boxes and classes as dense YOLOv1 targets."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import DTypeLike

from fnn.core import readonly
from fnn.detection.boxes import check_boxes
from fnn.detection.grid import YoloGrid
from fnn.errors import DataError, DTypeError, ShapeError
from fnn.validators import check_labels

__all__ = ["encode", "encode_batch"]


def encode(grid: YoloGrid, boxes: np.ndarray, classes: np.ndarray, *,
           dtype: DTypeLike = np.float32) -> tuple[np.ndarray, int]:
    """The target of one image, (S, S, 5 + C), and how many objects lost their cell.

    An object belongs to the cell holding its box centre (a centre on the image's
    right or bottom edge to the last cell); that cell's row holds (x, y, √w, √h, 1)
    and the one-hot class. Where several centres fall in one cell the largest box
    (by area; the first given among equals) keeps it and the others are dropped,
    as YOLOv1 can detect one object per cell.
    """
    boxes = check_boxes("encode", boxes).astype(np.float64)
    classes = np.asarray(classes)
    if classes.shape != boxes.shape[:1]:
        raise ShapeError(f"encode: expected one class per box, shape ({len(boxes)},), "
                         f"got {classes.shape}")
    if classes.dtype.kind not in "iu":
        raise DTypeError(f"encode: classes must be integers, got dtype {classes.dtype}")
    check_labels("encode", classes, grid.classes)
    size = boxes[:, 2:] - boxes[:, :2]
    centre = boxes[:, :2] + size / 2
    if not np.isfinite(boxes).all() or (size < 0).any() or (centre < 0).any() \
            or (centre > grid.image_size).any():
        raise DataError(f"encode: boxes must be finite with x1 >= x0, y1 >= y0 and centres "
                        f"inside the {grid.image_size}-pixel image, got {boxes.tolist()}")
    scaled = centre / grid.cell_size
    cell = np.minimum(np.floor(scaled), grid.cells - 1).astype(np.int64)   # (col, row)
    flat = cell[:, 1] * grid.cells + cell[:, 0]
    # by cell, then larger area first, then given order; the first of each cell wins
    order = np.lexsort((np.arange(len(flat)), -size.prod(axis=1), flat))
    _, first = np.unique(flat[order], return_index=True)
    keep = order[first]
    target = np.zeros((grid.cells * grid.cells, 5 + grid.classes), np.float64)
    rows = flat[keep]
    target[rows, 0:2] = scaled[keep] - cell[keep]
    target[rows, 2:4] = np.sqrt(size[keep] / grid.image_size)
    target[rows, 4] = 1.0
    target[rows, 5 + classes[keep]] = 1.0
    return readonly(target.reshape(grid.target_shape).astype(dtype)), len(boxes) - len(keep)


def encode_batch(grid: YoloGrid, boxes_list: Sequence[np.ndarray],
                 classes_list: Sequence[np.ndarray],
                 *, dtype: DTypeLike = np.float32) -> tuple[np.ndarray, int]:
    """``encode`` of every image stacked: targets (n, S, S, 5 + C) and the objects dropped
    in all."""
    if len(boxes_list) != len(classes_list):
        raise ShapeError(f"encode_batch: expected as many class arrays as box arrays, got "
                         f"{len(classes_list)} and {len(boxes_list)}")
    encoded = [encode(grid, b, c, dtype=dtype) for b, c in zip(boxes_list, classes_list, strict=True)]
    targets = np.stack([t for t, _ in encoded]) if encoded \
        else np.zeros((0, *grid.target_shape), dtype)
    return readonly(targets), sum(d for _, d in encoded)
