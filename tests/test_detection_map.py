"""mAP: hand-worked precision-recall cases for VOC (all-point) and COCO (101-point), the
matching rules that tell them apart, and pycocotools itself where it is installed."""

import numpy as np
import pytest

from fnn import detection
from fnn.detection import Detections
from fnn.errors import ShapeError

EPS = np.spacing(1)          # pycocotools' precision = tp / (tp + fp + eps)


def dets(boxes, scores, classes):
    return Detections(np.array(boxes, float).reshape(-1, 4), np.array(scores, float),
                      np.array(classes, np.int64))


def truth(boxes, classes):
    return np.array(boxes, float).reshape(-1, 4), np.array(classes, np.int64)


A, B, C = [0, 0, 10, 10], [20, 20, 30, 30], [40, 0, 50, 10]
FAR = [60, 60, 70, 70]


def test_hand_worked_precision_recall_curve():
    # 3 truths; detections by score: hit, miss, hit, miss.
    # tp 1 1 2 2, fp 0 1 1 2: recall 1/3 1/3 2/3 2/3, precision 1 1/2 2/3 1/2
    found = [dets([A, FAR, B, FAR], [0.9, 0.8, 0.7, 0.6], [0, 0, 0, 0])]
    truths = [truth([A, B, C], [0, 0, 0])]
    voc = detection.mean_average_precision(found, truths)
    assert voc.mean == pytest.approx(1 / 3 * 1 + 1 / 3 * 2 / 3, abs=1e-15)      # 5/9
    # COCO: recall points 0.00..0.33 read precision 1, 0.34..0.66 read 2/3, the rest 0;
    # every IoU is 1, so every threshold agrees
    coco = detection.coco_map(found, truths)
    expected = (34 * 1 / (1 + EPS) + 33 * 2 / (3 + EPS)) / 101
    assert coco.map == pytest.approx(expected, abs=1e-15)
    assert coco.map_50 == coco.map_75 == pytest.approx(expected, abs=1e-15)
    np.testing.assert_allclose(coco.per_class, [expected], atol=1e-15)


def test_right_box_wrong_class_is_a_false_positive():
    found = [dets([A, B], [0.9, 0.8], [1, 0])]
    truths = [truth([A, B], [0, 0])]
    voc = detection.mean_average_precision(found, truths)
    # class 0: one hit (B) at precision 1, recall 1/2; class 1 has no truth: left out
    assert voc.mean == 0.5
    assert voc.per_class[0] == 0.5 and np.isnan(voc.per_class[1])
    coco = detection.coco_map(found, truths)
    assert coco.map == pytest.approx(51 / 101 / (1 + EPS), abs=1e-15)
    assert np.isnan(coco.per_class[1])


def test_duplicates_of_one_object_count_once():
    # A, A again, B: tp 1 0 1, precision 1 1/2 2/3, recall 1/2 1/2 1
    found = [dets([A, A, B], [0.9, 0.8, 0.7], [0, 0, 0])]
    truths = [truth([A, B], [0, 0])]
    assert detection.mean_average_precision(found, truths).mean == \
        pytest.approx(0.5 + 0.5 * 2 / 3, abs=1e-15)
    expected = (51 / (1 + EPS) + 50 * 2 / (3 + EPS)) / 101
    assert detection.coco_map(found, truths).map == pytest.approx(expected, abs=1e-15)


def test_voc_compares_with_the_best_truth_even_when_matched_coco_with_the_best_unmatched():
    g1, g2 = [0, 0, 10, 10], [2, 0, 12, 10]
    # the second detection overlaps g1 by 9.5/10.5 and g2 by 8.5/11.5 = 0.739
    found = [dets([g1, [0.5, 0, 10.5, 10]], [0.9, 0.8], [0, 0])]
    truths = [truth([g1, g2], [0, 0])]
    # VOC: its best truth g1 is taken, so it is a false positive: recall 1/2 at precision 1
    assert detection.mean_average_precision(found, truths).mean == 0.5
    assert detection.mean_average_precision(found, truths, iou_threshold=0.95).mean == 0.5
    # COCO: it takes g2 (0.739) at the 5 thresholds 0.50 .. 0.70, is a false positive above
    both = (51 / (1 + EPS) + 50 * 2 / (2 + EPS)) / 101
    one = 51 / (1 + EPS) / 101
    coco = detection.coco_map(found, truths)
    assert coco.map == pytest.approx((5 * both + 5 * one) / 10, abs=1e-15)
    assert coco.map_50 == pytest.approx(both, abs=1e-15)
    assert coco.map_75 == pytest.approx(one, abs=1e-15)


def test_coco_breaks_equal_ious_towards_the_later_truth():
    g1, g2 = [0, 0, 10, 10], [2, 0, 12, 10]
    # the first detection overlaps both by 9/11 = 0.818; the second is exactly g1
    found = [dets([[1, 0, 11, 10], g1], [0.9, 0.8], [0, 0])]
    truths = [truth([g1, g2], [0, 0])]
    # the last of equals (g2) goes to the first detection, so g1 is free for the second at
    # every threshold up to 0.80 (7 thresholds); above, the first misses and the second hits
    both = (51 / (1 + EPS) + 50 * 2 / (2 + EPS)) / 101
    second_only = 51 * 1 / (2 + EPS) / 101
    coco = detection.coco_map(found, truths)
    assert coco.map == pytest.approx((7 * both + 3 * second_only) / 10, abs=1e-15)


def test_coco_keeps_100_detections_per_image_and_class():
    # 100 misses scored above the hit: the hit is the 101st and is cut
    found = [dets([FAR] * 100 + [A], np.r_[np.full(100, 0.9), 0.5], [0] * 101)]
    truths = [truth([A], [0])]
    assert detection.coco_map(found, truths).map == 0.0
    assert detection.mean_average_precision(found, truths).mean == pytest.approx(1 / 101)
    # another class's detections do not count against the limit
    found = [dets([FAR] * 99 + [A, A], np.r_[np.full(99, 0.9), 0.5, 0.95], [1] * 99 + [0, 0])]
    assert detection.coco_map(found, truths).map == pytest.approx(1 / (1 + EPS))


def test_classes_without_truth_are_left_out_and_missing_classes_score_zero():
    found = [dets([A], [0.9], [0]), dets([], [], [])]
    truths = [truth([A], [0]), truth([B], [2])]
    voc = detection.mean_average_precision(found, truths)
    np.testing.assert_array_equal(voc.per_class, [1.0, np.nan, 0.0])
    assert voc.mean == 0.5
    coco = detection.coco_map(found, truths)
    assert np.isnan(coco.per_class[1]) and coco.per_class[2] == 0.0


def test_map_refuses_mismatched_input():
    with pytest.raises(ShapeError, match="same images, got 1 and 2"):
        detection.mean_average_precision([dets([A], [1], [0])], [truth([A], [0])] * 2)
    with pytest.raises(ShapeError, match="image 0: expected one class and score per box"):
        detection.coco_map([Detections(np.zeros((2, 4)), np.zeros(1), np.zeros(2, int))],
                           [truth([A], [0])])


def random_case(rng, images=40, classes=4):
    found, truths = [], []
    for _ in range(images):
        k = int(rng.integers(0, 5))
        corner = rng.uniform(0, 60, (k, 2))
        gt = np.c_[corner, corner + rng.uniform(5, 30, (k, 2))].round(1)
        gt_classes = rng.integers(0, classes, k)
        m = int(rng.integers(0, 9))
        pick = rng.integers(0, max(k, 1), m)
        det = (gt[pick] if k else np.zeros((m, 4))) + rng.normal(0, 3, (m, 4)).round(1)
        det[:, 2:] = np.maximum(det[:, 2:], det[:, :2] + 0.5)
        det_classes = np.where(rng.random(m) < 0.8, gt_classes[pick] if k else 0,
                               rng.integers(0, classes, m))
        found.append(dets(det, rng.integers(1, 20, m) / 20, det_classes))   # tied scores
        truths.append(truth(gt, gt_classes))
    return found, truths


@pytest.mark.parametrize("seed", range(5))
def test_coco_map_agrees_with_pycocotools(seed):
    pytest.importorskip("pycocotools")
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    rng = np.random.default_rng(seed)
    found, truths = random_case(rng)
    classes = 4
    def xywh(b):
        return [float(b[0]), float(b[1]), float(b[2] - b[0]), float(b[3] - b[1])]
    annotations = [{"id": len_ + 1, "image_id": i, "category_id": int(c), "bbox": xywh(b),
                    "area": float((b[2] - b[0]) * (b[3] - b[1])), "iscrowd": 0}
                   for len_, (i, b, c) in enumerate(
                       (i, b, c) for i, (bs, cs) in enumerate(truths) for b, c in zip(bs, cs, strict=True))]
    gt = COCO()
    gt.dataset = {"images": [{"id": i} for i in range(len(truths))], "annotations": annotations,
                  "categories": [{"id": c} for c in range(classes)]}
    gt.createIndex()
    results = [{"image_id": i, "category_id": int(c), "bbox": xywh(b), "score": float(s)}
               for i, d in enumerate(found) for b, c, s in zip(d.boxes, d.classes, d.scores, strict=True)]
    evaluation = COCOeval(gt, gt.loadRes(results), "bbox")
    evaluation.evaluate()
    evaluation.accumulate()
    evaluation.summarize()
    ours = detection.coco_map(found, truths)
    assert ours.map == pytest.approx(evaluation.stats[0], abs=1e-12)
    assert ours.map_50 == pytest.approx(evaluation.stats[1], abs=1e-12)
    assert ours.map_75 == pytest.approx(evaluation.stats[2], abs=1e-12)
    precision = evaluation.eval["precision"][:, :, :, 0, -1]
    for k in range(classes):
        p = precision[:, :, k]
        expected = p[p > -1].mean() if (p > -1).any() else np.nan
        np.testing.assert_allclose(ours.per_class[k], expected, atol=1e-12)


def test_voc_map_of_random_cases_against_a_plain_devkit_loop():
    rng = np.random.default_rng(7)
    found, truths = random_case(rng)
    ours = detection.mean_average_precision(found, truths)
    for k in range(4):
        records = sorted(((float(s), i, j) for i, d in enumerate(found)
                          for j, (s, c) in enumerate(zip(d.scores, d.classes, strict=True)) if c == k),
                         key=lambda r: -r[0])
        used, tp = set(), []
        for _, i, j in records:
            gts = [(g, n) for n, (g, c) in enumerate(zip(*truths[i], strict=True)) if c == k]
            ious = [detection.box_iou(found[i].boxes[j:j + 1], g[None])[0, 0] for g, _ in gts]
            best = int(np.argmax(ious)) if ious else -1
            hit = best >= 0 and ious[best] >= 0.5 and (i, gts[best][1]) not in used
            if hit:
                used.add((i, gts[best][1]))
            tp.append(hit)
        positives = sum(int((c == k).sum()) for _, c in truths)
        tps = np.cumsum(tp)
        recall, precision = tps / positives, tps / np.arange(1, len(tp) + 1)
        ap, previous = 0.0, 0.0
        for r in np.unique(recall):       # area under the right-maximum precision
            ap += (r - previous) * precision[recall >= r].max()
            previous = r
        assert ours.per_class[k] == pytest.approx(ap, abs=1e-12)
