"""YOLOv1 outputs as scored, class-labelled boxes."""

from __future__ import annotations

import attrs
import numpy as np

from fnn.core import array_field
from fnn.detection.boxes import batched_nms
from fnn.detection.grid import YoloGrid, cell_boxes, check_outputs
from fnn.validators import integer, unit_interval

__all__ = ["Detections", "decode"]


@attrs.frozen
class Detections:
    """The detections in one image: ``boxes`` (k, 4) xyxy pixels, ``scores`` (k,) and
    int64 ``classes`` (k,), by falling score."""

    boxes: np.ndarray = array_field()
    scores: np.ndarray = array_field()
    classes: np.ndarray = array_field()


def decode(grid: YoloGrid, y: np.ndarray, *, score_threshold: float = 0.05,
           iou_threshold: float = 0.5, max_detections: int = 100) -> list[Detections]:
    """Per image of outputs ``y`` (n, S·S·(5B + C)) or (n, S, S, 5B + C), its ``Detections``.

    Confidences and class scores are clipped to [0, 1]; every (box, class) pair whose
    score confidence × class score is above ``score_threshold`` is a candidate; boxes
    are clipped to the image; then per-class ``batched_nms`` at ``iou_threshold`` and
    the ``max_detections`` best are kept.
    """
    y4 = check_outputs("decode", grid, y)
    unit_interval("decode", "score_threshold", score_threshold)
    unit_interval("decode", "iou_threshold", iou_threshold)
    integer("decode", "max_detections", max_detections)
    b, c = grid.boxes_per_cell, grid.classes
    p = y4[..., :5 * b].reshape(*y4.shape[:3], b, 5)
    boxes = np.clip(cell_boxes(grid, p[..., 0:2], p[..., 2:4]), 0, grid.image_size)
    confidence = np.clip(p[..., 4], 0, 1)
    class_scores = np.clip(y4[..., 5 * b:], 0, 1)
    scores = (confidence[..., :, None] * class_scores[..., None, :]).reshape(len(y4), -1)
    boxes = boxes.reshape(len(y4), -1, 4)
    out = []
    for image_boxes, image_scores in zip(boxes, scores, strict=True):
        candidates = np.flatnonzero(image_scores > score_threshold)
        box_index, classes = np.divmod(candidates, c)
        kept_boxes, kept_scores = image_boxes[box_index], image_scores[candidates]
        keep = batched_nms(kept_boxes, kept_scores, classes, iou_threshold)[:max_detections]
        out.append(Detections(kept_boxes[keep], kept_scores[keep], classes[keep]))
    return out
