"""digit_scenes: seeded by its key alone, boxes inside the canvas and tight on their digits,
overlaps bounded; resize_bilinear against hand-worked values."""

import numpy as np
import pytest

import fnn
from fnn import random
from fnn.detection import box_iou
from fnn.errors import ConfigError, ShapeError
from fnn.scenes import resize_bilinear


@pytest.fixture(scope="module")
def digits(request):
    mnist = request.getfixturevalue("mnist")
    images, labels = mnist
    return (images[:500] * 255).round().astype(np.uint8).reshape(-1, 28, 28), labels[:500]


def test_same_key_same_bytes_different_keys_differ(digits):
    a = fnn.data.digit_scenes(*digits, 20, random.key(3))
    b = fnn.data.digit_scenes(*digits, 20, random.key(3))
    c = fnn.data.digit_scenes(*digits, 20, random.key(4))
    assert a.images.tobytes() == b.images.tobytes()
    pairs = zip(a.boxes + a.classes, b.boxes + b.classes, strict=True)
    assert all(x.tobytes() == y.tobytes() for x, y in pairs)
    assert a.images.tobytes() != c.images.tobytes()


def test_scene_properties(digits):
    images, labels = digits
    scenes = fnn.data.digit_scenes(images, labels, 200, random.key(0), max_overlap=0.1)
    assert scenes.images.shape == (200, 1, 96, 96) and scenes.images.dtype == np.float32
    assert not scenes.images.flags.writeable and not scenes.boxes[0].flags.writeable
    assert scenes.images.min() >= 0.0 and scenes.images.max() <= 1.0
    counts = [len(b) for b in scenes.boxes]
    assert min(counts) >= 1 and max(counts) == 4 and len(set(counts)) == 4
    for image, boxes, classes in zip(scenes.images[:, 0], scenes.boxes, scenes.classes, strict=True):
        assert boxes.dtype == np.float32 and classes.dtype == np.int64
        assert set(classes) <= set(labels)
        assert (boxes[:, :2] >= 0).all() and (boxes[:, 2:] <= 96).all()
        sides = boxes[:, 2:] - boxes[:, :2]
        assert (sides >= 1).all() and (sides <= 40).all()
        iou = box_iou(boxes, boxes)
        assert (iou[~np.eye(len(boxes), dtype=bool)] <= 0.1).all()
        ink = image > 0.2
        for x0, y0, x1, y1 in boxes.astype(int):      # each edge line of a box holds ink
            inside = ink[y0:y1, x0:x1]
            assert inside[0].any() and inside[-1].any()
            assert inside[:, 0].any() and inside[:, -1].any()
        union = np.zeros_like(ink)
        for x0, y0, x1, y1 in boxes.astype(int):
            union[y0:y1, x0:x1] = True
        assert not (ink & ~union).any()               # no ink outside the boxes


def test_one_digit_box_is_the_tight_box_of_the_ink(digits):
    scenes = fnn.data.digit_scenes(*digits, 30, random.key(1), max_digits=1)
    for image, boxes in zip(scenes.images[:, 0], scenes.boxes, strict=True):
        rows, cols = np.nonzero(image > 0.2)
        np.testing.assert_array_equal(boxes, [[cols.min(), rows.min(), cols.max() + 1,
                                               rows.max() + 1]])


def test_pastes_with_maximum():
    # two full white squares: overlapping pixels stay 1 (a sum would exceed it)
    images = np.full((2, 28, 28), 255, np.uint8)
    scenes = fnn.data.digit_scenes(images, np.array([1, 2]), 10, random.key(0), size=40,
                                   min_side=20, max_side=20, max_overlap=1.0)
    assert scenes.images.max() == 1.0


def test_resize_bilinear_hand_worked():
    image = np.array([[[0.0, 1.0], [2.0, 3.0]]], np.float32)
    # 2 → 4 with half-pixel centres: sources -0.25 (clipped to 0), 0.25, 0.75, 1.25 (→ 1)
    np.testing.assert_allclose(resize_bilinear(image, 4)[0, 0], [0, 0.25, 0.75, 1.0])
    np.testing.assert_allclose(resize_bilinear(image, 4)[0, :, 0], [0, 0.5, 1.5, 2.0])
    np.testing.assert_allclose(resize_bilinear(image, 1), [[[1.5]]])
    np.testing.assert_array_equal(resize_bilinear(image, 2), image)


def test_digit_scenes_refuses_bad_settings(digits):
    with pytest.raises(ConfigError, match="max_side \\(100\\) must fit in the canvas \\(96\\)"):
        fnn.data.digit_scenes(*digits, 1, random.key(0), max_side=100)
    with pytest.raises(ConfigError, match="max_side must be an integer >= 16"):
        fnn.data.digit_scenes(*digits, 1, random.key(0), max_side=10)
    with pytest.raises(ShapeError, match="one integer label per image"):
        fnn.data.digit_scenes(digits[0], digits[1][:3], 1, random.key(0))
    with pytest.raises(ConfigError):
        fnn.data.digit_scenes(*digits, 1, 0)
