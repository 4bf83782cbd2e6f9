"""Max and average pooling over (height, width) windows of NCHW images.

Both loop over the kh·kw offsets of the window, each step one vectorised
operation on the strided slice holding that offset's pixel of every window
(never a loop over pixels); windows may overlap (stride < size). Neither has
parameters or state.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from fnn.core import Layer, call_text
from fnn.layers._spatial import check_images, compact, image_shape, offset_slices, output_size, pair

__all__ = ["max_pool2d", "avg_pool2d", "global_avg_pool2d"]


def _pool(kind: str, size: int | tuple[int, int], stride: int | tuple[int, int] | None,
          fwd: Callable, bwd: Callable) -> Layer:
    """A pooling layer from ``fwd(x, slices, train, overlap) -> (y, extra)`` and
    ``bwd(x, extra, dy, dx, slices, overlap)``, where ``slices`` are the window offsets'
    slices of ``x`` and ``bwd`` fills ``dx``: it adds into it where windows ``overlap``,
    writes otherwise. ``dx`` arrives zeroed unless the windows tile ``x`` exactly."""
    kernel = pair(kind, "size", size)
    strides = kernel if stride is None else pair(kind, "stride", stride)
    overlap = strides[0] < kernel[0] or strides[1] < kernel[1]
    name = call_text(kind, compact(kernel), stride=compact(strides) if strides != kernel else None)

    def slices_for(hw):
        return offset_slices(kernel, strides, output_size(name, hw, kernel, strides))

    def init(key, in_shape, dtype=np.float32):
        channels, h, w = image_shape(name, in_shape)
        return None, None, (channels, *output_size(name, (h, w), kernel, strides, channels=channels))

    def forward(params, state, x, *, key=None, train=False):
        check_images(name, x)
        y, extra = fwd(x, slices_for(x.shape[2:]), train, overlap)
        # Backward needs x's shape, and its memory layout so that dx comes back in the
        # layout the previous layer produced; a ReLU before the pool caches x anyway.
        return y, state, (x, extra)

    def backward(params, cache, dy):
        x, extra = cache
        # Windows as large as their stride tile an image whose sides they divide.
        tiled = strides == kernel and all(n % k == 0 for n, k in zip(x.shape[2:], kernel, strict=True))
        dx = np.empty_like(x) if tiled else np.zeros_like(x)
        bwd(x, extra, dy, dx, slices_for(x.shape[2:]), overlap)
        return dx, None

    return Layer(name, init, forward, backward, uses_key=False)


def _max_forward(x, slices, train, overlap):
    if train and not overlap:
        # One strided copy of each window offset's pixels, in x's memory layout (channels
        # first after conv2d), together no larger than x, makes the max and the masks
        # passes over contiguous arrays: several times faster than over the strided
        # slices. Backward then needs only the masks (a byte per output per offset).
        offsets = [x[index].copy(order="K") for index in slices]
        y = np.maximum(offsets[0], offsets[1]) if len(offsets) > 1 else offsets[0]
        for offset in offsets[2:]:
            np.maximum(y, offset, out=y)
        return y, _first_maxima(offsets, y)
    # Evaluation, and overlapping windows (whose copies would outgrow x): the max over
    # the strided slices in place, in the same order; backward finds the masks from y.
    y = x[slices[0]].copy(order="K")
    for index in slices[1:]:
        np.maximum(y, x[index], out=y)
    return y, y


def _first_maxima(offsets, y):
    """Per window offset (row-major), a bool mask of the windows whose first maximum it
    holds: each window's maximum is claimed by exactly one offset."""
    masks = [np.equal(offsets[0], y)]
    claimed = masks[0].copy()
    for offset in offsets[1:]:
        hit = np.equal(offset, y)
        np.greater(hit, claimed, out=hit)
        claimed |= hit
        masks.append(hit)
    return tuple(masks)  # a plain value, like every cache


def _max_backward(x, extra, dy, dx, slices, overlap):
    # Training without overlap cached the masks; otherwise y, from which they are found.
    masks = _first_maxima([x[index] for index in slices], extra) if isinstance(
        extra, np.ndarray) else extra
    # dy in the masks' layout (it comes C-ordered from flatten) keeps each pass one sweep.
    layout = np.empty_like(masks[0], dtype=dy.dtype)
    if layout.strides != dy.strides:
        layout[...] = dy
        dy = layout
    for index, hit in zip(slices, masks, strict=True):
        if overlap:
            dx[index] += dy * hit
        else:
            np.multiply(dy, hit, out=dx[index])


def max_pool2d(size: int | tuple[int, int], *, stride: int | tuple[int, int] | None = None) -> Layer:
    """y[n, c, y, x] = max over the size window at (y·sh, x·sw); ``stride`` defaults to ``size``.

    Backward routes each window's gradient to exactly one maximum: the first in
    row-major window order when several tie. Windows may overlap. With
    ``train=True`` and windows that do not overlap, the cache holds where the
    maxima are (kh·kw bytes per output); otherwise it holds y, and backward
    finds them again from x and y.
    """
    return _pool("max_pool2d", size, stride, _max_forward, _max_backward)


def _avg_forward(x, slices, train, overlap):
    y = x[slices[0]].copy(order="K")  # in x's memory layout, as max_pool2d's
    for index in slices[1:]:
        y += x[index]
    y *= 1 / len(slices)
    return y, None


def _avg_backward(x, extra, dy, dx, slices, overlap):
    share = dy * (1 / len(slices))
    for index in slices:
        if overlap:
            dx[index] += share
        else:
            dx[index] = share


def avg_pool2d(size: int | tuple[int, int], *, stride: int | tuple[int, int] | None = None) -> Layer:
    """y[n, c, y, x] = mean over the size window at (y·sh, x·sw); ``stride`` defaults to ``size``.

    Backward spreads dy / (kh·kw) evenly over each window. Windows may overlap.
    """
    return _pool("avg_pool2d", size, stride, _avg_forward, _avg_backward)


def global_avg_pool2d() -> Layer:
    """(N, C, H, W) → (N, C): the mean of each channel over its whole image, as PyTorch's
    ``AdaptiveAvgPool2d(1)`` followed by a flatten. Backward spreads dy / (H·W) evenly."""
    name = "global_avg_pool2d()"

    def init(key, in_shape, dtype=np.float32):
        return None, None, image_shape(name, in_shape)[:1]

    def forward(params, state, x, *, key=None, train=False):
        check_images(name, x)
        return x.mean(axis=(2, 3)), state, x.shape

    def backward(params, x_shape, dy):
        dx = np.empty(x_shape, dy.dtype)
        dx[...] = (dy * (1 / (x_shape[2] * x_shape[3])))[:, :, None, None]
        return dx, None

    return Layer(name, init, forward, backward, uses_key=False)
