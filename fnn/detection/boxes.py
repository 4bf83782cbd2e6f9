"""Boxes as (n, 4) float arrays of pixel edges (x0, y0, x1, y1): IoU, conversions and NMS."""

from __future__ import annotations

import numpy as np

from fnn.errors import DTypeError, ShapeError
from fnn.validators import unit_interval

__all__ = ["check_boxes", "box_iou", "broadcast_iou", "xyxy_to_cxcywh", "cxcywh_to_xyxy", "nms",
           "batched_nms"]


def check_boxes(where: str, boxes: np.ndarray) -> np.ndarray:
    """``boxes`` as a float array of shape (n, 4), or ``ShapeError``/``DTypeError`` naming
    ``where``."""
    boxes = np.asarray(boxes)
    if boxes.ndim != 2 or boxes.shape[1] != 4:
        raise ShapeError(f"{where}: expected boxes of shape (n, 4), got {boxes.shape}")
    if boxes.dtype.kind not in "fiu":
        raise DTypeError(f"{where}: expected numeric boxes, got dtype {boxes.dtype}")
    return boxes if boxes.dtype.kind == "f" else boxes.astype(np.float64)


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Intersection over union of every box of ``a`` (n, 4) with every box of ``b`` (m, 4):
    (n, m). Boxes that merely touch intersect in 0; where the union is 0 (two empty boxes)
    the IoU is 0, with no epsilon anywhere."""
    a, b = check_boxes("box_iou", a), check_boxes("box_iou", b)
    return broadcast_iou(a[:, None, :], b[None, :, :])


def broadcast_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of boxes (..., 4) broadcast against each other along their leading axes, with
    ``box_iou``'s rules and no checks (for callers that made the boxes)."""
    w = np.minimum(a[..., 2], b[..., 2]) - np.maximum(a[..., 0], b[..., 0])
    h = np.minimum(a[..., 3], b[..., 3]) - np.maximum(a[..., 1], b[..., 1])
    inter = np.maximum(w, 0) * np.maximum(h, 0)
    union = _area(a) + _area(b) - inter
    positive = union > 0
    return np.divide(inter, union, out=np.zeros_like(inter), where=positive)


def _area(boxes: np.ndarray) -> np.ndarray:
    return (boxes[..., 2] - boxes[..., 0]) * (boxes[..., 3] - boxes[..., 1])


def xyxy_to_cxcywh(boxes: np.ndarray) -> np.ndarray:
    """(x0, y0, x1, y1) → (centre x, centre y, width, height), shape (n, 4) kept."""
    boxes = check_boxes("xyxy_to_cxcywh", boxes)
    size = boxes[:, 2:] - boxes[:, :2]
    return np.concatenate([boxes[:, :2] + size / 2, size], axis=1)


def cxcywh_to_xyxy(boxes: np.ndarray) -> np.ndarray:
    """(centre x, centre y, width, height) → (x0, y0, x1, y1), shape (n, 4) kept."""
    boxes = check_boxes("cxcywh_to_xyxy", boxes)
    half = boxes[:, 2:] / 2
    return np.concatenate([boxes[:, :2] - half, boxes[:, :2] + half], axis=1)


def _check_scored(where: str, boxes: np.ndarray, scores: np.ndarray, iou_threshold: float):
    boxes = check_boxes(where, boxes)
    scores = np.asarray(scores)
    if scores.shape != boxes.shape[:1]:
        raise ShapeError(f"{where}: expected one score per box, shape ({len(boxes)},), "
                         f"got {scores.shape}")
    unit_interval(where, "iou_threshold", iou_threshold)
    return boxes, scores


def nms(boxes: np.ndarray, scores: np.ndarray, iou_threshold: float) -> np.ndarray:
    """Greedy non-maximum suppression: the int64 indices of the kept boxes, by falling score.

    Boxes are visited by falling score (ties in their given order); each kept box
    suppresses every later one whose IoU with it is > ``iou_threshold`` (as
    torchvision.ops.nms). The loop runs once per kept box, each pass one vectorised
    IoU row.
    """
    boxes, scores = _check_scored("nms", boxes, scores, iou_threshold)
    return _greedy(boxes, scores, None, iou_threshold)


def batched_nms(boxes: np.ndarray, scores: np.ndarray, classes: np.ndarray,
                iou_threshold: float) -> np.ndarray:
    """``nms`` within each class: a box suppresses only boxes of its own class. The kept
    indices of every class together, by falling score (as torchvision.ops.batched_nms)."""
    boxes, scores = _check_scored("batched_nms", boxes, scores, iou_threshold)
    classes = np.asarray(classes)
    if classes.shape != scores.shape:
        raise ShapeError(f"batched_nms: expected one class per box, shape ({len(boxes)},), "
                         f"got {classes.shape}")
    return _greedy(boxes, scores, classes, iou_threshold)


def _greedy(boxes: np.ndarray, scores: np.ndarray, classes: np.ndarray | None,
            iou_threshold: float) -> np.ndarray:
    order = np.argsort(-scores, kind="stable")
    kept = []
    while order.size:
        best, rest = order[0], order[1:]
        kept.append(best)
        suppressed = broadcast_iou(boxes[best], boxes[rest]) > iou_threshold
        if classes is not None:
            suppressed &= classes[rest] == classes[best]
        order = rest[~suppressed]
    return np.array(kept, dtype=np.int64)
