"""Detection scenes made of MNIST digits."""

from __future__ import annotations

import attrs
import numpy as np

from fnn import random
from fnn.core import array_field, freeze
from fnn.detection.boxes import broadcast_iou
from fnn.errors import ConfigError, DTypeError, ShapeError
from fnn.validators import integer, unit_interval

__all__ = ["Scenes", "digit_scenes", "resize_bilinear"]

_INK = 0.2      # a pixel above this belongs to the digit's box
_TRIES = 50     # placements drawn per digit before it is skipped


@attrs.frozen
class Scenes:
    """``images`` (n, 1, size, size) float32 in [0, 1]; per image, ``boxes`` (k, 4) float32
    xyxy pixel edges and int64 ``classes`` (k,)."""

    images: np.ndarray = array_field()
    # mypy's attrs plugin takes the call array_field() for a default
    boxes: tuple[np.ndarray, ...] = attrs.field(converter=freeze)  # type: ignore[misc]
    classes: tuple[np.ndarray, ...] = attrs.field(converter=freeze)  # type: ignore[misc]


def resize_bilinear(images: np.ndarray, side: int) -> np.ndarray:
    """(n, h, w) → (n, side, side) by bilinear interpolation with half-pixel centres
    (align_corners=False, no antialiasing: PyTorch's ``interpolate(mode="bilinear")``)."""

    def weights(n_in: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        src = np.clip((np.arange(side) + 0.5) * (n_in / side) - 0.5, 0, n_in - 1)
        low = np.floor(src).astype(np.int64)
        return low, np.minimum(low + 1, n_in - 1), (src - low).astype(images.dtype)

    y0, y1, wy = weights(images.shape[1])
    x0, x1, wx = weights(images.shape[2])
    rows = images[:, y0, :] * (1 - wy)[:, None] + images[:, y1, :] * wy[:, None]
    return rows[:, :, x0] * (1 - wx) + rows[:, :, x1] * wx


def _pixels(images: np.ndarray) -> np.ndarray:
    images = np.asarray(images)
    if images.ndim == 4 and images.shape[1] == 1:
        images = images[:, 0]
    if images.ndim != 3:
        raise ShapeError(f"digit_scenes: expected images of shape (n, h, w) or (n, 1, h, w), "
                         f"got {images.shape}")
    if images.dtype == np.uint8:
        return images.astype(np.float32) / np.float32(255)
    if images.dtype.kind != "f":
        raise DTypeError(f"digit_scenes: expected uint8 pixels or floats in [0, 1], "
                         f"got dtype {images.dtype}")
    return images.astype(np.float32)


def digit_scenes(images: np.ndarray, labels: np.ndarray, n: int, key: random.Key, *,
                 size: int = 96, max_digits: int = 4, min_side: int = 16, max_side: int = 40,
                 max_overlap: float = 0.2) -> Scenes:
    """``n`` scenes of 1..``max_digits`` digits drawn from ``images`` (uint8 or floats in
    [0, 1], (N, h, w) or (N, 1, h, w)) with their ``labels`` as classes.

    Each digit is resized (``resize_bilinear``) to a side drawn from
    [min_side, max_side] and pasted with ``np.maximum`` at a place fully inside the
    canvas; its box is the tight box of its pixels above 0.2. A placement whose box
    has IoU > ``max_overlap`` with an earlier digit's is drawn again, up to 50 times,
    then the digit is skipped (so is a digit with no pixel above 0.2). Every draw comes
    from ``key``: the same key gives the same bytes.
    """
    n = integer("digit_scenes", "n", n)
    size = integer("digit_scenes", "size", size)
    max_digits = integer("digit_scenes", "max_digits", max_digits)
    min_side = integer("digit_scenes", "min_side", min_side)
    max_side = integer("digit_scenes", "max_side", max_side, min_side)
    unit_interval("digit_scenes", "max_overlap", max_overlap)
    if max_side > size:
        raise ConfigError(f"digit_scenes: max_side ({max_side}) must fit in the canvas ({size})")
    pixels = _pixels(images)
    labels = np.asarray(labels)
    if labels.shape != pixels.shape[:1] or labels.dtype.kind not in "iu" or not len(labels):
        raise ShapeError(f"digit_scenes: expected one integer label per image, "
                         f"({len(pixels)},) with at least one image, got {labels.dtype} "
                         f"of shape {labels.shape}")
    k_count, k_pick, k_side, k_place = random.split(key, 4)
    slots = (n, max_digits)
    count = 1 + _integers(k_count, (n, 1), max_digits)
    active = np.arange(max_digits) < count                              # (n, max_digits)
    pick = _integers(k_pick, slots, len(pixels))
    side = min_side + _integers(k_side, slots, max_side - min_side + 1)
    place = _integers(k_place, (*slots, _TRIES, 2), size - side[..., None, None] + 1)

    patches: dict[int, tuple[np.ndarray, np.ndarray]] = {}   # side -> (slot indices, patches)
    local = np.zeros((*slots, 4), np.int64)                  # tight box within the patch
    inked = np.zeros(slots, bool)
    for s in np.unique(side[active]):
        index = np.flatnonzero(active & (side == s))
        patch = resize_bilinear(pixels[pick.flat[index]], int(s))
        ink = np.greater(patch, _INK)
        rows, cols = ink.any(axis=2), ink.any(axis=1)
        local.reshape(-1, 4)[index] = np.stack(
            [cols.argmax(1), rows.argmax(1), s - cols[:, ::-1].argmax(1),
             s - rows[:, ::-1].argmax(1)], axis=1)
        inked.flat[index] = rows.any(axis=1)
        patches[int(s)] = (index, patch)

    placed = np.zeros(slots, bool)
    corner = np.zeros((*slots, 2), np.int64)
    boxes = np.zeros((*slots, 4), np.float64)
    for j in range(max_digits):
        candidates = (place[:, j] @ np.array([[1, 0, 1, 0], [0, 1, 0, 1]])
                      + local[:, j, None, :]).astype(np.float64)        # (n, tries, 4)
        overlap = np.greater(broadcast_iou(candidates[:, :, None, :], boxes[:, None, :j, :]),
                             max_overlap)
        fits = np.logical_not((overlap & placed[:, None, :j]).any(axis=2))   # (n, tries)
        first = fits.argmax(axis=1)
        placed[:, j] = active[:, j] & inked[:, j] & fits.any(axis=1)
        corner[:, j] = place[np.arange(n), j, first]
        boxes[:, j] = candidates[np.arange(n), first]

    canvas = np.zeros((n, size, size), np.float32)
    for s, (index, patch) in patches.items():
        scene, slot = np.divmod(index, max_digits)
        ramp = np.arange(s)
        for level in range(max_digits):   # one digit per scene at a time: no index repeats
            mine = np.flatnonzero((slot == level) & placed[scene, slot])
            if not mine.size:
                continue
            y = corner[scene[mine], level, 1, None, None] + ramp[None, :, None]
            x = corner[scene[mine], level, 0, None, None] + ramp[None, None, :]
            where = (scene[mine, None, None], y, x)
            canvas[where] = np.maximum(canvas[where], patch[mine])

    per_scene = placed.sum(axis=1)
    cut = np.cumsum(per_scene)[:-1]
    return Scenes(canvas[:, None],
                  tuple(np.split(boxes[placed].astype(np.float32), cut)),
                  tuple(np.split(labels[pick[placed]].astype(np.int64), cut)))


def _integers(key: random.Key, shape: tuple[int, ...], high: np.ndarray | int) -> np.ndarray:
    """Integers uniform on [0, high) (``high`` broadcast against ``shape``)."""
    return np.floor(random.uniform(key, shape, dtype=np.float64) * high).astype(np.int64)
