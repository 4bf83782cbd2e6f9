"""Helpers shared by the layers on (batch, channels, height, width) images: conv and pool.

A window of size (kh, kw) moved by (sh, sw) over a (padded) image gives
out = (in + 2·pad − k) // s + 1 positions per axis. Kernel offsets (i, j) are
visited in row-major order; for each one, ``offset_slices`` gives the strided
slice of the image that offset reads at every output position, so a loop over
the kh·kw offsets (never over pixels or samples) scatters or gathers them all.
"""

from __future__ import annotations

import numbers

import numpy as np

from fnn.core import check_float
from fnn.errors import ConfigError, ShapeError
from fnn.validators import integer

Pair = tuple[int, int]


def pair(where: str, what: str, value: int | tuple[int, int], minimum: int = 1) -> Pair:
    """``value`` as a (height, width) pair of ints ≥ ``minimum``; an int ``v`` means (v, v)."""
    values = (value, value) if isinstance(value, numbers.Integral) else value
    if not isinstance(values, (tuple, list)) or len(values) != 2:
        raise ConfigError(f"{where}: {what} must be an integer >= {minimum} or a pair of them, "
                          f"got {value!r}")
    return integer(where, what, values[0], minimum), integer(where, what, values[1], minimum)


def compact(value: Pair) -> int | Pair:
    """A (height, width) pair as a factory argument: one int where both are equal."""
    return value[0] if value[0] == value[1] else value


def describe(kernel: Pair, stride: Pair, padding: Pair = (0, 0)) -> str:
    """The window settings as text, e.g. "kernel 5x5, stride 1x1, padding 1x1"."""
    text = f"kernel {kernel[0]}x{kernel[1]}, stride {stride[0]}x{stride[1]}"
    return text + (f", padding {padding[0]}x{padding[1]}" if padding != (0, 0) else "")


def _channels_last(shape: tuple[int, ...]) -> bool:
    """Whether an image shape without the batch axis reads like (height, width, channels):
    1, 3 or 4 channels last (grey, RGB, RGBA) and a first axis that is none of those."""
    return len(shape) == 3 and shape[2] in (1, 3, 4) and shape[0] not in (1, 3, 4)


def _surely_channels_last(shape: tuple[int, ...]) -> bool:
    """Channels last on a square image of 8 pixels or more, such as (28, 28, 1): refused,
    as no channels-first network has as many channels as its image has rows, with 4 or
    fewer columns."""
    return _channels_last(shape) and shape[0] == shape[1] >= 8


def _nchw_hint(shape: tuple[int, ...]) -> str:
    h, w, c = shape
    return (f"; fnn is channels-first (NCHW) and {shape} looks like (height, width, "
            f"channels): give in_shape ({c}, {h}, {w}) and images x.transpose(0, 3, 1, 2)")


def output_size(where: str, in_hw: tuple[int, ...], kernel: Pair, stride: Pair,
                padding: Pair = (0, 0), channels: int | None = None) -> Pair:
    """The (out_h, out_w) a window sweep gives on an image of ``in_hw``.

    Raises ``ShapeError`` naming ``where``, the input size and the settings
    when the padded image is smaller than the kernel (no output pixels), with
    the NCHW hint where (``channels``, *in_hw) looks channels-last.
    """
    if any(n + 2 * p < k for n, k, p in zip(in_hw, kernel, padding, strict=True)):
        shape = (0 if channels is None else channels, *in_hw)  # 0: no hint without channels
        raise ShapeError(f"{where}: an input of height x width {in_hw[0]}x{in_hw[1]} leaves no "
                         f"output pixels with {describe(kernel, stride, padding)}"
                         + (_nchw_hint(shape) if channels and _channels_last(shape) else ""))
    (h, kh, sh, ph), (w, kw, sw, pw) = zip(in_hw, kernel, stride, padding, strict=True)
    return (h + 2 * ph - kh) // sh + 1, (w + 2 * pw - kw) // sw + 1


def image_shape(where: str, in_shape: tuple[int, ...]) -> tuple[int, int, int]:
    """``in_shape`` checked to be (channels, height, width)."""
    in_shape = tuple(in_shape)
    if len(in_shape) != 3 or _surely_channels_last(in_shape):
        raise ShapeError(f"{where}: expected {'an' if len(in_shape) == 3 else 'a 3-D'} input "
                         f"shape (channels, height, width), got {in_shape}"
                         + (_nchw_hint(in_shape) if _channels_last(in_shape) else ""))
    return in_shape


def check_images(where: str, x: np.ndarray, channels: int | None = None,
                 dtype: np.dtype | None = None) -> None:
    """Raise unless ``x`` is a float (batch, channels, height, width) array (of ``dtype``)."""
    check_float(where, x, dtype)
    if (x.ndim != 4 or (channels is not None and x.shape[1] != channels)
            or _surely_channels_last(x.shape[1:])):
        expected = "channels" if channels is None else channels
        raise ShapeError(f"{where}: expected input of shape (batch, {expected}, height, width), "
                         f"got {x.shape}"
                         + (_nchw_hint(x.shape[1:]) if _channels_last(x.shape[1:]) else ""))


def offset_slices(kernel: Pair, stride: Pair, out_hw: Pair) -> list[tuple]:
    """For each kernel offset (i, j), row-major, the index ``(..., rows, cols)`` of the
    (padded) image elements that offset covers, one per output pixel."""
    (kh, kw), (sh, sw), (oh, ow) = kernel, stride, out_hw
    return [(Ellipsis, slice(i, i + sh * (oh - 1) + 1, sh), slice(j, j + sw * (ow - 1) + 1, sw))
            for i in range(kh) for j in range(kw)]
