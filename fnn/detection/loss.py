"""The YOLOv1 loss (Redmon et al., 2016) with its hand-written gradient.

On outputs y (n, S, S, 5B + C) and targets t (n, S, S, 5 + C), with 1ᵢⱼ marking the
predictor j responsible for the object in cell i (the box of highest IoU with the
truth, the lower index among equals) and 1ᵢ the cells holding an object:

    E = [ λ_coord Σ 1ᵢⱼ ((x − x̂)² + (y − ŷ)² + (√w − √ŵ)² + (√h − √ĥ)²)
          + Σ 1ᵢⱼ (c − IoUᵢⱼ)²  +  λ_noobj Σ (1 − 1ᵢⱼ) c²
          + Σ 1ᵢ Σ_classes (p − p̂)² ] / n

The choice of 1ᵢⱼ and the confidence target IoUᵢⱼ are constants for the gradient, so
dE/dy = 2·weight·(y − target)/n slot by slot. ``rescore=False`` uses a confidence
target of 1 instead of the IoU (darknet's ``rescore=0``).
"""

from __future__ import annotations

import attrs
import numpy as np

from fnn.core import Loss, array_field
from fnn.detection.boxes import broadcast_iou
from fnn.detection.grid import YoloGrid, cell_boxes, check_outputs, check_targets
from fnn.errors import ShapeError
from fnn.validators import non_negative

__all__ = ["Assignment", "LossParts", "assign", "yolo_v1_loss", "loss_parts"]


@attrs.frozen
class Assignment:
    """Which predictor answers for each object: ``responsible`` (n, S, S, B) bools and the
    ``confidence_target`` (n, S, S, B) of each (its IoU with the truth, or 1 without
    rescoring; 0 where not responsible)."""

    responsible: np.ndarray = array_field()
    confidence_target: np.ndarray = array_field()


@attrs.frozen
class LossParts:
    """The four sums of the YOLOv1 loss, each divided by the batch size; they add up to
    the loss: coordinates (with λ_coord), object and no-object confidence (with
    λ_noobj), classes."""

    coord: float
    obj: float
    noobj: float
    cls: float


def _boxes_view(grid: YoloGrid, y4: np.ndarray) -> np.ndarray:
    return y4[..., :5 * grid.boxes_per_cell].reshape(*y4.shape[:3], grid.boxes_per_cell, 5)


def assign(grid: YoloGrid, y: np.ndarray, t: np.ndarray, *, rescore: bool = True) -> Assignment:
    """The responsible predictors and their confidence targets for outputs ``y`` and targets
    ``t`` (shapes as ``yolo_v1_loss``)."""
    y4 = check_outputs("yolo_v1_loss", grid, y)
    check_targets("yolo_v1_loss", grid, t, len(y4))
    return _assign(grid, y4, t.astype(y4.dtype, copy=False), rescore)


def _assign(grid: YoloGrid, y4: np.ndarray, t: np.ndarray, rescore: bool) -> Assignment:
    p = _boxes_view(grid, y4)
    predicted = cell_boxes(grid, p[..., 0:2], p[..., 2:4])                # (n, S, S, B, 4)
    truth = cell_boxes(grid, t[..., None, 0:2], t[..., None, 2:4])        # (n, S, S, 1, 4)
    iou = broadcast_iou(predicted, truth)
    best = iou.argmax(axis=-1)                                            # first of equals
    responsible = (np.arange(grid.boxes_per_cell) == best[..., None]) & (t[..., 4:5] > 0)
    target = np.where(responsible, iou if rescore else 1.0, 0.0).astype(y4.dtype)
    return Assignment(responsible, target)


def _weighted_residual(grid: YoloGrid, y4: np.ndarray, t: np.ndarray, a: Assignment,
                       lambda_coord: float, lambda_noobj: float) -> tuple[np.ndarray, np.ndarray]:
    """(weight, y − target), both (n, S, S, 5B + C): E = Σ weight·(y − target)² / n."""
    b = 5 * grid.boxes_per_cell
    target = np.empty_like(y4)
    weight = np.empty_like(y4)
    tb, wb = _boxes_view(grid, target), _boxes_view(grid, weight)
    tb[..., 0:4] = t[..., None, 0:4]
    tb[..., 4] = a.confidence_target
    r = a.responsible.astype(y4.dtype)
    wb[..., 0:4] = lambda_coord * r[..., None]
    wb[..., 4] = r + lambda_noobj * (1 - r)
    target[..., b:] = t[..., 5:]
    weight[..., b:] = t[..., 4:5] > 0
    return weight, y4 - target


def _check_lambdas(lambda_coord: float, lambda_noobj: float) -> tuple[float, float]:
    return (non_negative("yolo_v1_loss", "lambda_coord", lambda_coord),
            non_negative("yolo_v1_loss", "lambda_noobj", lambda_noobj))


def yolo_v1_loss(grid: YoloGrid, *, lambda_coord: float = 5.0, lambda_noobj: float = 0.5,
                 rescore: bool = True) -> Loss:
    """The YOLOv1 loss on outputs (n, S·S·(5B + C)) or (n, S, S, 5B + C) and targets
    (n, S, S, 5 + C) from ``encode_batch``; dy has the outputs' shape and dtype."""
    lambda_coord, lambda_noobj = _check_lambdas(lambda_coord, lambda_noobj)

    def forward(y, t):
        y4 = check_outputs("yolo_v1_loss", grid, y)
        check_targets("yolo_v1_loss", grid, t, len(y4))
        t = t.astype(y4.dtype, copy=False)
        weight, diff = _weighted_residual(grid, y4, t, _assign(grid, y4, t, rescore),
                                          lambda_coord, lambda_noobj)
        weight *= diff
        return float(np.vdot(weight, diff)) / len(y4), (weight, y.shape)

    def backward(cache):
        weighted, shape = cache
        return (weighted * np.asarray(2.0 / len(weighted), weighted.dtype)).reshape(shape)

    return Loss(f"yolo_v1_loss(S={grid.cells}, B={grid.boxes_per_cell}, C={grid.classes})",
                forward, backward, reduction="mean")


def loss_parts(grid: YoloGrid, y: np.ndarray, t: np.ndarray, *, lambda_coord: float = 5.0,
               lambda_noobj: float = 0.5, rescore: bool = True,
               assignment: Assignment | None = None) -> LossParts:
    """The four parts of ``yolo_v1_loss`` (same settings) on ``y`` and ``t``.

    ``assignment`` (from ``assign``) fixes the responsible predictors and confidence
    targets instead of deriving them from ``y``: E as a function of y with them held
    constant, the function whose gradient ``yolo_v1_loss`` computes.
    """
    lambda_coord, lambda_noobj = _check_lambdas(lambda_coord, lambda_noobj)
    y4 = check_outputs("loss_parts", grid, y)
    check_targets("loss_parts", grid, t, len(y4))
    t = t.astype(y4.dtype, copy=False)
    if assignment is None:
        assignment = _assign(grid, y4, t, rescore)
    elif assignment.responsible.shape != (*y4.shape[:3], grid.boxes_per_cell):
        raise ShapeError(f"loss_parts: the assignment is for outputs of another shape, "
                         f"{assignment.responsible.shape} (batch, S, S, B)")
    weight, diff = _weighted_residual(grid, y4, t, assignment, lambda_coord, lambda_noobj)
    terms = weight * diff * diff / len(y4)
    boxes = _boxes_view(grid, terms)
    conf = boxes[..., 4]
    return LossParts(coord=float(boxes[..., 0:4].sum()),
                     obj=float(conf[assignment.responsible].sum()),
                     noobj=float(conf[~assignment.responsible].sum()),
                     cls=float(terms[..., 5 * grid.boxes_per_cell:].sum()))
