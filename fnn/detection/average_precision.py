"""Mean average precision: PASCAL VOC's (all-point) and COCO's (as pycocotools computes it).

``detections`` is a list of ``Detections`` (anything with ``boxes``, ``scores`` and
``classes``) per image, ``truths`` a list of ``(boxes, classes)`` per image, in the
same order. Classes run from 0 to the largest seen in either; ``per_class`` is NaN for
a class without ground truth, and such classes are left out of the means.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import attrs
import numpy as np

from fnn.core import array_field
from fnn.detection.boxes import broadcast_iou, check_boxes
from fnn.errors import DataError, DTypeError, ShapeError
from fnn.validators import unit_interval

__all__ = ["APResult", "CocoResult", "mean_average_precision", "coco_map"]


@attrs.frozen
class APResult:
    """``mean`` over the classes with ground truth of ``per_class`` (float64, NaN where a
    class has none)."""

    mean: float
    per_class: np.ndarray = array_field()


@attrs.frozen
class CocoResult:
    """COCO's AP@[.50:.05:.95] (``map``), AP@.50 and AP@.75, and AP@[.50:.05:.95] per class."""

    map: float
    map_50: float
    map_75: float
    per_class: np.ndarray = array_field()


@attrs.frozen
class _Flat:
    """Every box of a set of images in one array: image index, box, class and score (0 for
    ground truth)."""

    image: np.ndarray
    boxes: np.ndarray
    classes: np.ndarray
    scores: np.ndarray


def _flatten(where: str, items: Sequence[tuple[Any, ...]], scored: bool) -> _Flat:
    boxes: list[np.ndarray] = []
    classes: list[np.ndarray] = []
    scores: list[np.ndarray] = []
    image: list[np.ndarray] = []
    for i, item in enumerate(items):
        b = check_boxes(f"{where}: image {i}", item[0]).astype(np.float64)
        c = np.asarray(item[1])
        if c.dtype.kind not in "iu":
            raise DTypeError(f"{where}: image {i}: classes must be integers, got dtype {c.dtype}")
        lengths = [len(b), *c.shape, *(np.shape(item[2]) if scored else ())]
        if c.ndim != 1 or len(set(lengths)) != 1 or (scored and np.ndim(item[2]) != 1):
            raise ShapeError(f"{where}: image {i}: expected one class{' and score' * scored} "
                             f"per box ({len(b)} boxes), got shapes {lengths[1:]}")
        if c.size and c.min() < 0:
            raise DataError(f"{where}: image {i}: classes must be >= 0, got {c.min()}")
        boxes.append(b)
        classes.append(c.astype(np.int64))
        image.append(np.full(len(b), i))
        scores.append(np.asarray(item[2], np.float64) if scored else np.zeros(len(b)))

    def concat(arrays: list[np.ndarray], shape: tuple[int, ...]) -> np.ndarray:
        return np.concatenate(arrays) if arrays else np.zeros(shape)

    return _Flat(concat(image, (0,)).astype(np.int64), concat(boxes, (0, 4)),
                 concat(classes, (0,)).astype(np.int64), concat(scores, (0,)))


def _inputs(where: str, detections: Sequence[Any], truths: Sequence[tuple[np.ndarray, np.ndarray]]
            ) -> tuple[_Flat, _Flat, int]:
    if len(detections) != len(truths):
        raise ShapeError(f"{where}: expected detections and truths for the same images, got "
                         f"{len(detections)} and {len(truths)}")
    dets = _flatten(where + " detections", [(d.boxes, d.classes, d.scores) for d in detections],
                    True)
    gts = _flatten(where + " truths", [tuple(t) for t in truths], False)
    classes = int(max(dets.classes.max(initial=-1), gts.classes.max(initial=-1))) + 1
    return dets, gts, classes


def _ranks(keys: np.ndarray) -> np.ndarray:
    """Each element's position within its run of equal values in sorted ``keys``."""
    if not len(keys):
        return np.zeros(0, np.int64)
    starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
    return np.arange(len(keys)) - np.repeat(starts, np.diff(np.r_[starts, len(keys)]))


def _mean(per_class: np.ndarray) -> float:
    present = per_class[~np.isnan(per_class)]
    return float(present.mean()) if present.size else float("nan")


def mean_average_precision(detections: Sequence[Any],
                           truths: Sequence[tuple[np.ndarray, np.ndarray]],
                           *, iou_threshold: float = 0.5) -> APResult:
    """PASCAL VOC mAP with all-point interpolation (VOC 2010 on) and the devkit's matching.

    Per class, detections are taken by falling score (equal scores in image order,
    then in their order within the image); each is compared with the ground truth of
    highest IoU among all of its image and class, matched or not (the first of
    equals): a true positive when that IoU is ≥ ``iou_threshold`` and that truth was
    not matched before, otherwise a false positive. AP is the area under the
    precision–recall curve made monotone from the right. IoU has no +1 pixel term.
    """
    unit_interval("mean_average_precision", "iou_threshold", iou_threshold)
    dets, gts, num_classes = _inputs("mean_average_precision", detections, truths)
    best_gt, best_iou = _best_truth(dets, gts)
    order = np.lexsort((-dets.scores, dets.classes))     # by class, falling score, stable
    hit = best_iou[order] >= iou_threshold
    tp = np.zeros(len(order), bool)
    _, first = np.unique(np.where(hit, best_gt[order], -1), return_index=True)
    tp[first] = hit[first]                               # each truth's first hit only
    classes = dets.classes[order]
    per_class = np.full(num_classes, np.nan)
    positives = np.bincount(gts.classes, minlength=num_classes)
    starts = np.searchsorted(classes, np.arange(num_classes + 1))
    for k in np.flatnonzero(positives):
        tps = np.cumsum(tp[starts[k]:starts[k + 1]])
        recall = tps / positives[k]
        precision = tps / np.arange(1, len(tps) + 1)
        per_class[k] = _all_point_ap(recall, precision)
    return APResult(_mean(per_class), per_class)


def _best_truth(dets: _Flat, gts: _Flat) -> tuple[np.ndarray, np.ndarray]:
    """For every detection, the global index of the truth of its image and class with the
    highest IoU (the first of equals) and that IoU (−inf where there is none)."""
    best_gt = np.full(len(dets.image), -1)
    best_iou = np.full(len(dets.image), -np.inf)
    gt_starts = np.searchsorted(gts.image, np.arange(gts.image.max(initial=-1) + 2))
    for i in np.unique(dets.image):
        if i + 1 >= len(gt_starts):
            continue
        lo, hi = gt_starts[i], gt_starts[i + 1]
        mine = np.flatnonzero(dets.image == i)
        iou = broadcast_iou(dets.boxes[mine, None, :], gts.boxes[None, lo:hi, :])
        iou[dets.classes[mine, None] != gts.classes[None, lo:hi]] = -np.inf
        if hi > lo:
            j = iou.argmax(axis=1)
            best_iou[mine] = iou[np.arange(len(mine)), j]
            best_gt[mine] = lo + j
    return best_gt, best_iou


def _all_point_ap(recall: np.ndarray, precision: np.ndarray) -> float:
    r = np.concatenate([[0.0], recall, [1.0]])
    p = np.concatenate([[0.0], precision, [0.0]])
    p = np.maximum.accumulate(p[::-1])[::-1]
    step = np.flatnonzero(r[1:] != r[:-1])
    return float(np.sum((r[step + 1] - r[step]) * p[step + 1]))


# pycocotools' parameters, made the same way so that the floats are the same
_IOU_THRESHOLDS = np.linspace(.5, 0.95, int(np.round((0.95 - .5) / .05)) + 1)
_RECALL_POINTS = np.linspace(.0, 1.00, int(np.round((1.00 - .0) / .01)) + 1)
_MAX_DETECTIONS = 100


def coco_map(detections: Sequence[Any], truths: Sequence[tuple[np.ndarray, np.ndarray]]
             ) -> CocoResult:
    """COCO mAP as pycocotools' COCOeval computes it for boxes with area "all", no crowd
    and no ignored truths, at 100 detections per image and class.

    Per image and class, detections by falling score (a stable sort) are cut to 100
    and matched greedily, at each IoU threshold t in 0.50:0.05:0.95, to the unmatched
    truth of highest IoU ≥ t (the last of equals, as pycocotools). Per class, all
    images' detections are sorted by falling score (stable: image order, then rank),
    precision = tp/(tp + fp + ε) with ε = np.spacing(1) (as pycocotools: a perfect
    result scores 1 − 2⁻⁵²), made monotone from the right and read at 101 recall
    points (0 past the last recall reached). IoU comes from the xyxy boxes directly.
    """
    dets, gts, num_classes = _inputs("coco_map", detections, truths)
    n_images = len(truths)
    # groups are (class, image) pairs, class-major as pycocotools accumulates them
    det_order = np.lexsort((-dets.scores, dets.image, dets.classes))
    det_group = dets.classes[det_order] * n_images + dets.image[det_order]
    det_rank = _ranks(det_group)
    kept = det_rank < _MAX_DETECTIONS
    det_order, det_group, det_rank = det_order[kept], det_group[kept], det_rank[kept]
    gt_order = np.lexsort((gts.image, gts.classes))
    gt_group = gts.classes[gt_order] * n_images + gts.image[gt_order]
    groups, det_slot = np.unique(np.r_[det_group, gt_group], return_inverse=True)
    det_slot, gt_slot = det_slot[:len(det_group)], det_slot[len(det_group):]
    gt_rank = _ranks(gt_group)
    matched = _greedy_matches(dets.boxes[det_order], det_slot, det_rank,
                              gts.boxes[gt_order], gt_slot, gt_rank, len(groups))
    det_class = dets.classes[det_order]
    positives = np.bincount(gts.classes, minlength=num_classes)
    precision = np.full((len(_IOU_THRESHOLDS), len(_RECALL_POINTS), num_classes), np.nan)
    for k in np.flatnonzero(positives):
        mine = np.flatnonzero(det_class == k)
        if not mine.size:
            precision[:, :, k] = 0.0
            continue
        order = np.argsort(-dets.scores[det_order[mine]], kind="mergesort")
        tp = matched[:, mine[order]]
        tp_sum = np.cumsum(tp, axis=1, dtype=np.float64)
        fp_sum = np.cumsum(~tp, axis=1, dtype=np.float64)
        recall = tp_sum / positives[k]
        p = tp_sum / (fp_sum + tp_sum + np.spacing(1))
        p = np.maximum.accumulate(p[:, ::-1], axis=1)[:, ::-1]
        for t in range(len(_IOU_THRESHOLDS)):
            at = np.searchsorted(recall[t], _RECALL_POINTS, side="left")
            precision[t, :, k] = np.where(at < len(mine), p[t, np.minimum(at, len(mine) - 1)], 0.0)
    per_class = precision.mean(axis=(0, 1))
    return CocoResult(_mean(per_class), _mean(precision[0].mean(axis=0)),
                      _mean(precision[list(_IOU_THRESHOLDS).index(0.75)].mean(axis=0)), per_class)


def _greedy_matches(det_boxes: np.ndarray, det_slot: np.ndarray, det_rank: np.ndarray,
                    gt_boxes: np.ndarray, gt_slot: np.ndarray, gt_rank: np.ndarray,
                    groups: int) -> np.ndarray:
    """(thresholds, detections) bools: whether each detection matched a truth.

    Detections and truths are padded into (groups, ranks) tables; the loop runs over
    detection ranks (at most 100), each pass matching that rank in every group and at
    every threshold at once. A padding slot comes after its group's detections, so
    whatever it matches changes no real one.
    """
    d_max = int(det_rank.max(initial=-1)) + 1
    g_max = int(gt_rank.max(initial=-1)) + 1
    d_table = np.zeros((groups, d_max, 4))
    d_table[det_slot, det_rank] = det_boxes
    g_table = np.zeros((groups, g_max, 4))
    g_table[gt_slot, gt_rank] = gt_boxes
    present = np.zeros((groups, g_max), bool)
    present[gt_slot, gt_rank] = True
    iou = broadcast_iou(d_table[:, :, None, :], g_table[:, None, :, :])       # (groups, d, g)
    iou[~np.broadcast_to(present[:, None, :], iou.shape)] = -np.inf
    thresholds = np.minimum(_IOU_THRESHOLDS, 1 - 1e-10)[:, None, None]
    taken = np.zeros((len(thresholds), groups, g_max), bool)
    hits = np.zeros((len(thresholds), groups, d_max), bool)
    for r in range(d_max):
        row = iou[:, r, :][None]                                          # (1, groups, g)
        candidates = (row >= thresholds) & ~taken
        masked = np.where(candidates, row, -np.inf)
        last_best = g_max - 1 - masked[..., ::-1].argmax(axis=-1)         # the last of equals
        hit = candidates.any(axis=-1)
        t_index, g_index = np.nonzero(hit)
        taken[t_index, g_index, last_best[t_index, g_index]] = True
        hits[:, :, r] = hit
    return hits[:, det_slot, det_rank]
