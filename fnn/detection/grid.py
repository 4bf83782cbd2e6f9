"""The YOLOv1 geometry: an image cut into S×S cells, each predicting B boxes and C class scores.

A network's output for one image is S·S·(5B + C) numbers laid out as (S, S, 5B + C),
rows then columns: per cell B groups of (x, y, √w, √h, confidence) then C class scores.
x, y are the box centre's offsets within its cell in [0, 1]; √w, √h are relative to the
image size. A target (see ``encode``) is (S, S, 5 + C): (x, y, √w, √h, object flag) and
a one-hot class, zeros in cells without an object.
"""

from __future__ import annotations

import attrs
import numpy as np

from fnn.core import check_float
from fnn.errors import DataError, ShapeError
from fnn.validators import integer

__all__ = ["YoloGrid", "cell_boxes", "check_outputs", "check_targets"]


def _positive(instance: object, attribute: attrs.Attribute, value: object) -> None:
    integer("YoloGrid", attribute.name, value)


@attrs.frozen
class YoloGrid:
    """S = ``cells``, B = ``boxes_per_cell``, C = ``classes`` on square images of
    ``image_size`` pixels."""

    image_size: int = attrs.field(validator=_positive)
    cells: int = attrs.field(validator=_positive)
    boxes_per_cell: int = attrs.field(validator=_positive)
    classes: int = attrs.field(validator=_positive)

    @property
    def cell_size(self) -> float:
        """The side of a cell in pixels (``image_size / cells``)."""
        return self.image_size / self.cells

    @property
    def outputs_per_cell(self) -> int:
        """5B + C."""
        return 5 * self.boxes_per_cell + self.classes

    @property
    def output_size(self) -> int:
        """S·S·(5B + C), the width of the network's last dense layer."""
        return self.cells * self.cells * self.outputs_per_cell

    @property
    def output_shape(self) -> tuple[int, int, int]:
        return (self.cells, self.cells, self.outputs_per_cell)

    @property
    def target_shape(self) -> tuple[int, int, int]:
        return (self.cells, self.cells, 5 + self.classes)


def cell_boxes(grid: YoloGrid, xy: np.ndarray, sqrt_wh: np.ndarray) -> np.ndarray:
    """Pixel boxes (..., 4) xyxy from cell offsets and square-root sizes (..., 2), whose
    leading axes are (batch, row, col, ...): centre ((col + x)·cell, (row + y)·cell), size
    (√w)²·image_size (a negative √w still gives a positive width), not clipped."""
    cell = np.asarray(grid.cell_size, xy.dtype)
    index = np.arange(grid.cells, dtype=xy.dtype)
    extra = (1,) * (xy.ndim - 4)
    cx = (index.reshape(1, 1, -1, *extra) + xy[..., 0]) * cell
    cy = (index.reshape(1, -1, 1, *extra) + xy[..., 1]) * cell
    half = sqrt_wh * sqrt_wh * np.asarray(grid.image_size / 2, xy.dtype)
    return np.stack([cx - half[..., 0], cy - half[..., 1], cx + half[..., 0], cy + half[..., 1]],
                    axis=-1)


def check_outputs(where: str, grid: YoloGrid, y: np.ndarray) -> np.ndarray:
    """``y`` (n, S·S·(5B + C)) or (n, S, S, 5B + C) as a (n, S, S, 5B + C) view."""
    check_float(f"{where} predictions", y)
    flat, full = (grid.output_size,), grid.output_shape
    if y.ndim < 1 or y.shape[1:] not in (flat, full):
        raise ShapeError(f"{where}: expected predictions of shape (batch, {grid.output_size}) or "
                         f"(batch, {', '.join(map(str, full))}) for {grid}, got {y.shape}")
    if y.shape[0] == 0:
        raise DataError(f"{where}: expected a non-empty batch, got predictions of shape {y.shape}")
    return y.reshape(len(y), *full)


def check_targets(where: str, grid: YoloGrid, t: np.ndarray, n: int) -> None:
    """Raise unless ``t`` is a float array of ``n`` targets (n, S, S, 5 + C)."""
    check_float(f"{where} targets", t)
    if t.shape != (n, *grid.target_shape):
        raise ShapeError(f"{where}: expected targets of shape "
                         f"({n}, {', '.join(map(str, grid.target_shape))}) (made by encode_batch), "
                         f"got {t.shape}")
