"""Max and average pooling over (height, width) windows of NCHW images.

Both loop over the kh·kw offsets of the window, each step one vectorised
operation on a strided slice holding that offset's pixel of every window;
windows may overlap (stride < size). Neither has parameters or state.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from fnn.core import Layer
from fnn.layers._spatial import check_images, image_shape, offset_slices, output_size, pair

__all__ = ["max_pool2d", "avg_pool2d"]


def _pool(kind: str, size: int | tuple[int, int], stride: int | tuple[int, int] | None,
          fwd: Callable, bwd: Callable, keep_output: bool) -> Layer:
    """A pooling layer from ``fwd(x, slices) -> y`` and ``bwd(x, y, dy, dx, slices, overlap)``,
    where ``slices`` are the window offsets' slices of ``x``, ``bwd`` adds into the zeroed
    ``dx`` (or writes, when windows do not ``overlap``) and gets ``y`` if ``keep_output``."""
    kernel = pair(kind, "size", size)
    strides = kernel if stride is None else pair(kind, "stride", stride)
    overlap = strides[0] < kernel[0] or strides[1] < kernel[1]
    name = f"{kind}({kernel[0]}x{kernel[1]}" + \
        (f", stride {strides[0]}x{strides[1]})" if strides != kernel else ")")

    def slices_for(hw):
        return offset_slices(kernel, strides, output_size(name, hw, kernel, strides))

    def init(key, in_shape, dtype=np.float32):
        channels, h, w = image_shape(name, in_shape)
        return None, None, (channels, *output_size(name, (h, w), kernel, strides))

    def forward(params, state, x, *, key=None, train=False):
        check_images(name, x)
        y = fwd(x, slices_for(x.shape[2:]))
        # Backward needs x's shape, and its memory layout so that dx comes back in the
        # layout the previous layer produced; a ReLU before the pool caches x anyway.
        return y, state, (x, y if keep_output else None)

    def backward(params, cache, dy):
        x, y = cache
        dx = np.zeros_like(x)
        bwd(x, y, dy, dx, slices_for(x.shape[2:]), overlap)
        return dx, None

    return Layer(name, init, forward, backward, uses_key=False)


def _first_window(x, slices):
    # Strided slices keep x's memory layout (which, after conv2d, is channels-first) so the
    # elementwise loops below run over matching layouts.
    return x[slices[0]].copy(order="K")


def _max_forward(x, slices):
    y = _first_window(x, slices)
    for index in slices[1:]:
        np.maximum(y, x[index], out=y)
    return y


def _max_backward(x, y, dy, dx, slices, overlap):
    # Offsets in row-major order; each takes the windows whose maximum it holds and
    # no earlier offset claimed, so ties go to the first maximum. (Recomputing these
    # masks from x and y is cheaper than recording an argmax in forward.)
    if dy.strides != y.strides:
        # One copy into y's layout (dy comes C-ordered from flatten) keeps the loop fast.
        dy, given = np.empty_like(y), dy
        dy[...] = given
    claimed = np.zeros_like(y, dtype=bool)
    hit = np.empty_like(claimed)
    for index in slices:
        np.equal(x[index], y, out=hit)
        np.greater(hit, claimed, out=hit)
        claimed |= hit
        if overlap:
            dx[index] += dy * hit
        else:
            np.multiply(dy, hit, out=dx[index])


def max_pool2d(size: int | tuple[int, int], *, stride: int | tuple[int, int] | None = None) -> Layer:
    """y[n, c, y, x] = max over the size window at (y·sh, x·sw); ``stride`` defaults to ``size``.

    Backward routes each window's gradient to exactly one maximum: the first in
    row-major window order when several tie. Windows may overlap.
    """
    return _pool("max_pool2d", size, stride, _max_forward, _max_backward, keep_output=True)


def _avg_forward(x, slices):
    y = _first_window(x, slices)
    for index in slices[1:]:
        y += x[index]
    y *= 1 / len(slices)
    return y


def _avg_backward(x, y, dy, dx, slices, overlap):
    share = dy * (1 / len(slices))
    for index in slices:
        dx[index] += share


def avg_pool2d(size: int | tuple[int, int], *, stride: int | tuple[int, int] | None = None) -> Layer:
    """y[n, c, y, x] = mean over the size window at (y·sh, x·sw); ``stride`` defaults to ``size``.

    Backward spreads dy / (kh·kw) evenly over each window. Windows may overlap.
    """
    return _pool("avg_pool2d", size, stride, _avg_forward, _avg_backward, keep_output=False)
