"""The YOLOv1 grid: targets, the loss and its gradient, decoding."""

import numpy as np
import pytest

from fnn import detection, gradcheck
from fnn.detection import YoloGrid
from fnn.errors import ConfigError, DataError, DTypeError, ShapeError

GRID = YoloGrid(image_size=96, cells=6, boxes_per_cell=2, classes=10)     # cells of 16 px


def test_grid_sizes_and_validation():
    assert (GRID.cell_size, GRID.outputs_per_cell, GRID.output_size) == (16.0, 20, 720)
    assert GRID.output_shape == (6, 6, 20) and GRID.target_shape == (6, 6, 15)
    with pytest.raises(ConfigError, match="YoloGrid: cells must be an integer >= 1, got 0"):
        YoloGrid(96, 0, 2, 10)


def test_encode_hand_case():
    # centre (16, 24): column 1, row 1, offsets (0, 0.5); size 16 x 32 of 96
    target, dropped = detection.encode(GRID, np.array([[8.0, 8.0, 24.0, 40.0]]), np.array([7]))
    assert dropped == 0 and target.dtype == np.float32 and not target.flags.writeable
    expected = np.zeros((6, 6, 15), np.float32)
    expected[1, 1, :5] = [0.0, 0.5, np.sqrt(16 / 96), np.sqrt(32 / 96), 1.0]
    expected[1, 1, 5 + 7] = 1.0
    np.testing.assert_array_equal(target, expected)


def test_encode_contested_cell_keeps_the_larger_box_and_counts_the_others():
    boxes = np.array([[0, 0, 10, 10], [2, 2, 14, 14], [1, 1, 9, 9], [40, 40, 50, 50.0]])
    target, dropped = detection.encode(GRID, boxes, np.array([1, 2, 3, 4]))
    assert dropped == 2
    assert target[0, 0, 5 + 2] == 1.0 and target[0, 0, 5:].sum() == 1.0     # the 12 x 12 box
    assert target[2, 2, 5 + 4] == 1.0
    # equal areas: the first given keeps the cell
    target, dropped = detection.encode(GRID, boxes[[0, 0]] + [[0, 0, 0, 0], [1, 1, 1, 1]],
                                       np.array([5, 6]))
    assert dropped == 1 and target[0, 0, 5 + 5] == 1.0


def test_encode_centre_on_the_far_edge_goes_to_the_last_cell():
    target, _ = detection.encode(GRID, np.array([[90.0, 90.0, 102.0, 102.0]]), np.array([0]))
    assert target[5, 5, 4] == 1.0
    np.testing.assert_allclose(target[5, 5, :2], [1.0, 1.0])


def test_encode_refuses_bad_input():
    with pytest.raises(DataError, match="encode: labels must lie in \\[0, 10\\), got 10"):
        detection.encode(GRID, np.zeros((1, 4)), np.array([10]))
    with pytest.raises(DataError, match="centres inside the 96-pixel image"):
        detection.encode(GRID, np.array([[90.0, 0, 110, 10]]), np.array([0]))
    with pytest.raises(DataError, match="x1 >= x0"):
        detection.encode(GRID, np.array([[10.0, 0, 5, 10]]), np.array([0]))
    with pytest.raises(DTypeError, match="classes must be integers"):
        detection.encode(GRID, np.zeros((1, 4)), np.array([0.0]))
    with pytest.raises(ShapeError, match="one class per box"):
        detection.encode(GRID, np.zeros((2, 4)), np.array([0]))


def test_encode_batch_stacks_and_sums_the_dropped():
    boxes = [np.array([[0, 0, 10, 10], [1, 1, 9, 9.0]]), np.zeros((0, 4))]
    targets, dropped = detection.encode_batch(GRID, boxes, [np.array([1, 2]), np.array([], int)],
                                              dtype=np.float64)
    assert targets.shape == (2, 6, 6, 15) and targets.dtype == np.float64 and dropped == 1
    assert targets[1].sum() == 0.0


def perfect_outputs(grid, targets):
    """Outputs whose first predictor in each object's cell is the truth with confidence 1."""
    y = np.zeros((len(targets), *grid.output_shape))
    for b in range(grid.boxes_per_cell):
        y[..., 5 * b:5 * b + 4] = targets[..., :4]
    y[..., 4] = targets[..., 4]
    y[..., 5 * grid.boxes_per_cell:] = targets[..., 5:]
    return y


def test_encode_perfect_prediction_decode_gives_back_the_truth():
    boxes = [np.array([[3, 5, 20, 30], [50, 10, 90, 40], [30, 60, 45, 96]], float),
             np.array([[0, 0, 96, 96.0]]), np.zeros((0, 4))]
    classes = [np.array([4, 0, 9]), np.array([2]), np.zeros(0, np.int64)]
    targets, dropped = detection.encode_batch(GRID, boxes, classes, dtype=np.float64)
    assert dropped == 0
    y = perfect_outputs(GRID, targets)
    assert detection.yolo_v1_loss(GRID).forward(y, targets)[0] == 0.0
    found = detection.decode(GRID, y.reshape(len(y), -1))
    for det, b, c in zip(found, boxes, classes, strict=True):
        order = np.argsort(det.boxes[:, 0])
        np.testing.assert_allclose(det.boxes[order], b[np.argsort(b[:, 0])], rtol=0, atol=1e-12)
        np.testing.assert_array_equal(det.classes[order], c[np.argsort(b[:, 0])])
        np.testing.assert_array_equal(det.scores, np.ones(len(b)))
    truths = list(zip(boxes, classes, strict=True))
    assert detection.mean_average_precision(found, truths).mean == 1.0
    assert detection.coco_map(found, truths).map == pytest.approx(1.0, abs=1e-12)


# --- the loss -------------------------------------------------------------------------------

SMALL = YoloGrid(image_size=30, cells=3, boxes_per_cell=2, classes=3)     # cells of 10 px


def loss_case(rng):
    """Outputs and targets with every case of the loss: objects whose responsible predictor
    is 0, is 1, is chosen by an IoU tie at 0 (no predictor overlaps the truth), and cells
    without objects; all IoUs away from ties elsewhere, so that the choice is locally
    constant for finite differences."""
    boxes = [np.array([[2, 2, 12, 16], [14, 3, 27, 12], [20, 20, 28, 29]], float),
             np.array([[5, 11, 20, 27], [11, 1, 18, 8]], float)]
    classes = [np.array([0, 2, 1]), np.array([1, 0])]
    t, _ = detection.encode_batch(SMALL, boxes, classes, dtype=np.float64)
    y = rng.normal(0.0, 0.3, (2, 3, 3, 13)) + 0.5
    boxes_view = y[..., :10].reshape(2, 3, 3, 2, 5)
    truth = t[..., None, :4]
    # image 0, cell (row 0, col 0): predictor 0 near the truth, 1 far off; cell (0, 2): the reverse
    boxes_view[0, 0, 0, 0, :4] = truth[0, 0, 0, 0] + [0.05, -0.04, 0.03, 0.02]
    boxes_view[0, 0, 0, 1, :4] = truth[0, 0, 0, 0] + [0.3, 0.4, -0.2, 0.25]
    boxes_view[0, 0, 2, 1, :4] = truth[0, 0, 2, 0] + [-0.02, 0.05, 0.01, -0.03]
    boxes_view[0, 0, 2, 0, :4] = truth[0, 0, 2, 0] + [0.4, -0.3, 0.2, -0.25]
    # image 0, cell (2, 2): both predictors tiny and in the cell's far corner, beyond the
    # truth's (28, 29): IoU 0 for both
    boxes_view[0, 2, 2, :, :4] = [[0.95, 0.97, 0.05, 0.06], [0.97, 0.95, -0.04, 0.05]]
    # image 1: predictor 1 responsible in one cell and predictor 0 in the other
    boxes_view[1, 1, 1, 1, :4] = truth[1, 1, 1, 0] + [0.05, 0.05, -0.02, 0.01]
    boxes_view[1, 1, 1, 0, :4] = truth[1, 1, 1, 0] + [-0.35, 0.3, 0.2, -0.2]
    boxes_view[1, 0, 1, 0, :4] = truth[1, 0, 1, 0] + [0.03, -0.06, 0.02, 0.04]
    return y, t


def test_loss_case_covers_every_assignment(rng):
    y, t = loss_case(rng)
    a = detection.assign(SMALL, y, t)
    responsible = {(i, r, c): int(np.flatnonzero(a.responsible[i, r, c])[0])
                   for i, r, c in zip(*np.nonzero(a.responsible.any(axis=-1)), strict=True)}
    assert responsible == {(0, 0, 0): 0, (0, 0, 2): 1, (0, 2, 2): 0, (1, 1, 1): 1, (1, 0, 1): 0}
    assert a.confidence_target[0, 2, 2, 0] == 0.0                 # the IoU-0 tie
    assert (a.confidence_target[a.responsible] > 0.5).sum() == 4
    assert a.responsible.sum() == t[..., 4].sum() == 5


@pytest.mark.parametrize("lambdas", [(5.0, 0.5), (1.0, 2.0)])
def test_loss_gradient_with_confidence_target_one(rng, lambdas):
    y, t = loss_case(rng)
    loss = detection.yolo_v1_loss(SMALL, lambda_coord=lambdas[0], lambda_noobj=lambdas[1],
                                  rescore=False)
    # without rescoring nothing is held constant that depends on y (away from ties)
    assert gradcheck.loss_error(loss, y, t) < 1e-7
    assert gradcheck.loss_error(loss, y.reshape(2, -1), t) < 1e-7


def test_loss_gradient_holds_the_assignment_and_iou_target_constant(rng):
    y, t = loss_case(rng)
    loss = detection.yolo_v1_loss(SMALL)
    analytic = loss.backward(loss.forward(y, t)[1])
    held = detection.assign(SMALL, y, t)

    def value(v):
        parts = detection.loss_parts(SMALL, v, t, assignment=held)
        return parts.coord + parts.obj + parts.noobj + parts.cls

    numeric = gradcheck.numerical_grad(value, y)
    assert gradcheck.relative_error(analytic, numeric) < 1e-7
    # and the IoU target really is held: the value's own gradient differs in the coordinates
    free = gradcheck.numerical_grad(lambda v: loss.forward(v, t)[0], y)
    assert gradcheck.relative_error(analytic, free) > 1e-4


def test_loss_hand_computed():
    # one cell, truth centred at (5, 5) of 4 x 4 (√w = √0.4); predictor 0 shifted 1 px right
    # (IoU 12 / 20 = 0.6), predictor 1 far off (IoU 0); classes scores (0.7, 0.2), truth 0.
    grid = YoloGrid(image_size=10, cells=1, boxes_per_cell=2, classes=2)
    t = np.array([[[[0.5, 0.5, np.sqrt(0.4), np.sqrt(0.4), 1.0, 1.0, 0.0]]]])
    y = np.array([[[[0.6, 0.5, np.sqrt(0.4), np.sqrt(0.4), 0.5,
                     0.0, 0.0, 0.1, 0.1, 0.3, 0.7, 0.2]]]])
    value, cache = detection.yolo_v1_loss(grid).forward(y, t)
    parts = detection.loss_parts(grid, y, t)
    assert parts.coord == pytest.approx(5.0 * 0.1 ** 2)
    assert parts.obj == pytest.approx((0.5 - 0.6) ** 2)
    assert parts.noobj == pytest.approx(0.5 * 0.3 ** 2)
    assert parts.cls == pytest.approx(0.3 ** 2 + 0.2 ** 2)
    assert value == pytest.approx(0.05 + 0.01 + 0.045 + 0.13)
    assert detection.loss_parts(grid, y, t, rescore=False).obj == pytest.approx(0.5 ** 2)
    dy = detection.yolo_v1_loss(grid).backward(cache)
    np.testing.assert_allclose(dy[0, 0, 0], [2 * 5 * 0.1, 0, 0, 0, 2 * (0.5 - 0.6),
                                             0, 0, 0, 0, 2 * 0.5 * 0.3, 2 * -0.3, 2 * 0.2],
                               atol=1e-12)
    # a batch of two copies has the same (mean) loss
    assert detection.yolo_v1_loss(grid).forward(np.concatenate([y, y]), np.concatenate([t, t]))[0] \
        == pytest.approx(value)


def test_loss_exact_tie_chooses_the_lower_index():
    grid = YoloGrid(image_size=10, cells=1, boxes_per_cell=2, classes=1)
    t = np.array([[[[0.5, 0.5, 0.5, 0.5, 1.0, 1.0]]]])
    box = [0.6, 0.4, 0.5, 0.5]
    y = np.array([[[[*box, 0.2, *box, 0.3, 1.0]]]])
    assert detection.assign(grid, y, t).responsible[0, 0, 0].tolist() == [True, False]


def test_loss_parts_add_up_and_nothing_is_mutated(rng):
    y, t = loss_case(rng)
    y_copy, t_copy = y.copy(), t.copy()
    loss = detection.yolo_v1_loss(SMALL)
    value, cache = loss.forward(y, t)
    parts = detection.loss_parts(SMALL, y, t)
    assert parts.coord + parts.obj + parts.noobj + parts.cls == pytest.approx(value, rel=1e-12)
    dy = loss.backward(cache)
    dy2 = loss.backward(cache)
    dy *= 2
    np.testing.assert_array_equal(dy2 * 2, dy)
    np.testing.assert_array_equal(y, y_copy)
    np.testing.assert_array_equal(t, t_copy)
    y32 = y.astype(np.float32).reshape(2, -1)
    assert loss.backward(loss.forward(y32, t.astype(np.float32))[1]).shape == (2, 117)
    assert loss.backward(loss.forward(y32, t.astype(np.float32))[1]).dtype == np.float32


def test_loss_refuses_bad_input(rng):
    y, t = loss_case(rng)
    loss = detection.yolo_v1_loss(SMALL)
    with pytest.raises(ShapeError, match=r"expected predictions of shape \(batch, 117\) or "
                                         r"\(batch, 3, 3, 13\)"):
        loss.forward(y[..., :10], t)
    with pytest.raises(ShapeError, match=r"expected targets of shape \(2, 3, 3, 8\)"):
        loss.forward(y, t[:1])
    with pytest.raises(DTypeError):
        loss.forward(y.astype(int), t)
    with pytest.raises(ConfigError, match="lambda_coord"):
        detection.yolo_v1_loss(SMALL, lambda_coord=-1.0)


# --- decoding -------------------------------------------------------------------------------

def test_decode_clips_scores_and_boxes_and_applies_the_threshold():
    grid = YoloGrid(image_size=20, cells=2, boxes_per_cell=1, classes=2)
    y = np.zeros((1, 2, 2, 7))
    # cell (0, 0): a box reaching past the left and top edges, confidence 1.5 (clipped to 1)
    y[0, 0, 0] = [0.1, 0.1, np.sqrt(0.5), np.sqrt(0.5), 1.5, 0.9, -0.2]
    # cell (1, 1): confidence 0.2 x class 0.25 = 0.05, not above the threshold; class 1: 0.06
    y[0, 1, 1] = [0.5, 0.5, 0.3, 0.3, 0.2, 0.25, 0.3]
    (found,) = detection.decode(grid, y)
    np.testing.assert_allclose(found.boxes, [[0, 0, 6, 6], [14.1, 14.1, 15.9, 15.9]])
    np.testing.assert_allclose(found.scores, [0.9, 0.06])
    assert found.classes.tolist() == [0, 1] and found.classes.dtype == np.int64
    assert not found.boxes.flags.writeable
    assert len(detection.decode(grid, y, max_detections=1)[0].scores) == 1


def test_decode_suppresses_per_class():
    grid = YoloGrid(image_size=20, cells=1, boxes_per_cell=2, classes=2)
    # two identical boxes, both scoring on both classes: one survives per class
    y = np.array([[[[0.5, 0.5, 0.5, 0.5, 0.9, 0.5, 0.5, 0.5, 0.5, 0.8, 1.0, 0.5]]]])
    (found,) = detection.decode(grid, y)
    np.testing.assert_allclose(found.scores, [0.9, 0.45])
    assert found.classes.tolist() == [0, 1]
