"""Boxes: IoU on hand-computed cases, conversions, and NMS against a plain loop."""

import numpy as np
import pytest

from fnn import detection
from fnn.errors import ConfigError, ShapeError


def iou(a, b):
    return detection.box_iou(np.array([a], float), np.array([b], float))[0, 0]


@pytest.mark.parametrize("a, b, expected", [
    ((0, 0, 2, 2), (3, 3, 5, 5), 0.0),           # disjoint
    ((0, 0, 2, 2), (2, 0, 4, 2), 0.0),           # touching along an edge
    ((0, 0, 2, 2), (2, 2, 4, 4), 0.0),           # touching at a corner
    ((0, 0, 4, 4), (1, 1, 3, 3), 4 / 16),        # nested
    ((1, 2, 5, 7), (1, 2, 5, 7), 1.0),           # identical
    ((0, 0, 2, 2), (1, 1, 3, 3), 1 / 7),         # overlapping corners: 1 / (4 + 4 - 1)
    ((0, 0, 4, 2), (2, 0, 6, 2), 4 / 12),        # half of each
    ((1, 1, 1, 3), (0, 0, 4, 4), 0.0),           # zero width inside a box
    ((1, 1, 1, 1), (1, 1, 1, 1), 0.0),           # two empty boxes: union 0, IoU 0
])
def test_box_iou_hand_cases(a, b, expected):
    assert iou(a, b) == pytest.approx(expected, abs=1e-15)
    assert iou(b, a) == pytest.approx(expected, abs=1e-15)


def test_box_iou_shape_and_purity(rng):
    a = rng.uniform(0, 10, (5, 4))
    b = rng.uniform(0, 10, (3, 4))
    a[:, 2:] += a[:, :2]
    b[:, 2:] += b[:, :2]
    a_copy, b_copy = a.copy(), b.copy()
    out = detection.box_iou(a, b)
    assert out.shape == (5, 3)
    np.testing.assert_array_equal(a, a_copy)
    np.testing.assert_array_equal(b, b_copy)
    assert detection.box_iou(a, np.zeros((0, 4))).shape == (5, 0)
    with pytest.raises(ShapeError, match=r"box_iou: expected boxes of shape \(n, 4\), got \(3,\)"):
        detection.box_iou(a, np.zeros(3))


def test_conversions():
    xyxy = np.array([[3.0, 1.0, 8.0, 5.0]])
    np.testing.assert_array_equal(detection.xyxy_to_cxcywh(xyxy), [[5.5, 3.0, 5.0, 4.0]])
    np.testing.assert_array_equal(detection.cxcywh_to_xyxy([[5.5, 3.0, 5.0, 4.0]]), xyxy)


def plain_nms(boxes, scores, classes, threshold):
    """The textbook loop, one pair at a time."""
    order = sorted(range(len(scores)), key=lambda i: -scores[i])   # sorted() is stable
    kept = []
    for i in order:
        if all(classes[i] != classes[k] or iou(boxes[i], boxes[k]) <= threshold for k in kept):
            kept.append(i)
    return kept


def random_boxes(rng, n):
    corner = rng.integers(0, 20, (n, 2)).astype(float)
    return np.concatenate([corner, corner + rng.integers(0, 12, (n, 2))], axis=1)


@pytest.mark.parametrize("seed", range(20))
@pytest.mark.parametrize("threshold", [0.0, 0.3, 0.5, 1.0])
def test_nms_and_batched_nms_match_a_plain_loop(seed, threshold):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(0, 40))
    boxes = random_boxes(rng, n)
    scores = rng.integers(0, 5, n) / 4.0                # many ties: order must be stable
    classes = rng.integers(0, 3, n)
    kept = detection.nms(boxes, scores, threshold)
    assert kept.dtype == np.int64
    assert kept.tolist() == plain_nms(boxes, scores, np.zeros(n), threshold)
    assert detection.batched_nms(boxes, scores, classes, threshold).tolist() == \
        plain_nms(boxes, scores, classes, threshold)


def test_nms_keeps_a_box_whose_iou_equals_the_threshold():
    boxes = np.array([[0, 0, 2, 1], [0, 0, 1, 1], [0, 0, 2, 1.0]])   # IoU 0.5, then 1
    assert detection.nms(boxes, np.array([0.9, 0.8, 0.7]), 0.5).tolist() == [0, 1]


def test_nms_refuses_bad_input():
    with pytest.raises(ShapeError, match=r"nms: expected one score per box, shape \(2,\)"):
        detection.nms(np.zeros((2, 4)), np.zeros(3), 0.5)
    with pytest.raises(ConfigError, match="iou_threshold"):
        detection.nms(np.zeros((2, 4)), np.zeros(2), 1.5)
    with pytest.raises(ShapeError, match="one class per box"):
        detection.batched_nms(np.zeros((2, 4)), np.zeros(2), np.zeros(3), 0.5)
