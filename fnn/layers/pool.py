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
          fwd: Callable, bwd: Callable) -> Layer:
    """A pooling layer from ``fwd(x, slices) -> (y, aux)`` and ``bwd(aux, dy, dx, slices)``,
    where ``slices`` are the window offsets' slices of ``x`` and ``bwd`` adds into the zeroed
    ``dx``."""
    kernel = pair(kind, "size", size)
    strides = kernel if stride is None else pair(kind, "stride", stride)
    name = f"{kind}({kernel[0]}x{kernel[1]}" + \
        (f", stride {strides[0]}x{strides[1]})" if strides != kernel else ")")

    def slices_for(hw):
        return offset_slices(kernel, strides, output_size(name, hw, kernel, strides))

    def init(key, in_shape, dtype=np.float32):
        channels, h, w = image_shape(name, in_shape)
        return None, None, (channels, *output_size(name, (h, w), kernel, strides))

    def forward(params, state, x, *, key=None, train=False):
        check_images(name, x)
        y, aux = fwd(x, slices_for(x.shape[2:]))
        # x is the previous layer's output (kept by it anyway); backward needs its shape
        # and memory layout, so that dx comes back in the layout that layer produced.
        return y, state, (aux, x)

    def backward(params, cache, dy):
        aux, x = cache
        dx = np.zeros_like(x)
        bwd(aux, dy, dx, slices_for(x.shape[2:]))
        return dx, None

    return Layer(name, init, forward, backward)


def _max_forward(x, slices):
    y = x[slices[0]].copy()
    # The offset of each window's maximum; strict ">" keeps the first one in row-major order.
    argmax = np.zeros(y.shape, np.min_scalar_type(len(slices) - 1))
    for k, index in enumerate(slices[1:], 1):
        greater = x[index] > y
        np.copyto(y, x[index], where=greater)
        argmax[greater] = k
    return y, argmax


def _max_backward(argmax, dy, dx, slices):
    for k, index in enumerate(slices):
        window = dx[index]
        np.add(window, dy, out=window, where=argmax == k)


def max_pool2d(size: int | tuple[int, int], *, stride: int | tuple[int, int] | None = None) -> Layer:
    """y[n, c, y, x] = max over the size window at (y·sh, x·sw); ``stride`` defaults to ``size``.

    Backward routes each window's gradient to exactly one maximum: the first in
    row-major window order when several tie. Windows may overlap.
    """
    return _pool("max_pool2d", size, stride, _max_forward, _max_backward)


def _avg_forward(x, slices):
    y = x[slices[0]].copy()
    for index in slices[1:]:
        y += x[index]
    y *= 1 / len(slices)
    return y, None


def _avg_backward(aux, dy, dx, slices):
    share = dy * (1 / len(slices))
    for index in slices:
        dx[index] += share


def avg_pool2d(size: int | tuple[int, int], *, stride: int | tuple[int, int] | None = None) -> Layer:
    """y[n, c, y, x] = mean over the size window at (y·sh, x·sw); ``stride`` defaults to ``size``.

    Backward spreads dy / (kh·kw) evenly over each window. Windows may overlap.
    """
    return _pool("avg_pool2d", size, stride, _avg_forward, _avg_backward)
