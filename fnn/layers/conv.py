"""The 2-D convolution on NCHW images, by im2col and one matrix product.

The column matrix has one row per weight element (c, i, j) and one column per
output pixel (n, y, x). With ``w`` flattened to (filters, C·kh·kw), the
forward pass is the single product w·col, of shape (filters, N·oh·ow); its
(filters, N, oh, ow) reshape is the NCHW output after a transpose that moves no
data, and the layers after it (ReLU, pooling) keep that memory layout, so the
gradient coming back reshapes to (filters, N·oh·ow) without a copy either.
"""

from __future__ import annotations

import attrs
import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from fnn import random
from fnn.core import Layer, array_field, call_text, check_params
from fnn.initializers import Initializer, glorot_uniform, initialize, zeros
from fnn.layers._spatial import (
    Pair,
    check_images,
    compact,
    image_shape,
    offset_slices,
    output_size,
    pair,
)
from fnn.validators import integer

__all__ = ["ConvParams", "conv2d", "im2col", "col2im"]


@attrs.frozen
class ConvParams:
    """Parameters of ``conv2d``: ``w`` of shape (filters, in_channels, kh, kw) as in the
    book, ``b`` of shape (filters,) or None."""

    w: np.ndarray = array_field()
    b: np.ndarray | None = array_field(default=None)


def im2col(x: np.ndarray, kernel: Pair, stride: Pair, padding: Pair) -> np.ndarray:
    """(N, C, H, W) images → the (C·kh·kw, N·oh·ow) column matrix, in ``x``'s dtype.

    Element [(c, i, j), (n, y, x)] is the padded x[n, c, y·sh + i, x·sw + j].
    The windows are a strided view; copying them into the matrix is the one pass.
    """
    return _columns(x, kernel, stride, padding, ones=False)


def _columns(x: np.ndarray, kernel: Pair, stride: Pair, padding: Pair, ones: bool) -> np.ndarray:
    """``im2col``, with a last row of ones when ``ones`` (a bias column then rides in the
    matrix products: the forward pass adds it, the weight gradient sums dy for it)."""
    (kh, kw), (sh, sw), (ph, pw) = kernel, stride, padding
    if ph or pw:
        x = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    windows = sliding_window_view(x, (kh, kw), axis=(2, 3))[:, :, ::sh, ::sw]
    # Sizes written out, not -1: a batch of 0 has no size to infer from.
    n, c, oh, ow = windows.shape[:4]
    col = np.empty((c * kh * kw + ones, n * oh * ow), dtype=x.dtype)
    np.copyto(col[:c * kh * kw].reshape(c, kh, kw, n, oh, ow), windows.transpose(1, 4, 5, 0, 2, 3))
    if ones:
        col[-1] = 1
    return col


def col2im(col: np.ndarray, x_shape: tuple[int, int, int, int], kernel: Pair, stride: Pair,
           padding: Pair) -> np.ndarray:
    """The adjoint of ``im2col``: adds each column entry back onto the pixel it was read from.

    Allocates one array of the padded input's size, in ``col``'s dtype, and
    loops over the kh·kw kernel offsets only; returns the unpadded view.
    """
    n, c, h, w = x_shape
    (kh, kw), (ph, pw) = kernel, padding
    out_hw = output_size("col2im", (h, w), kernel, stride, padding)
    col = col.reshape(c, kh * kw, n, *out_hw)
    # Channels-first, like col, so each slice add runs over matching layouts.
    padded = np.zeros((c, n, h + 2 * ph, w + 2 * pw), dtype=col.dtype)
    for k, index in enumerate(offset_slices(kernel, stride, out_hw)):
        padded[index] += col[:, k]
    return padded[:, :, ph:ph + h, pw:pw + w].transpose(1, 0, 2, 3)


def weight_grad(dy_rows: np.ndarray, col: np.ndarray) -> np.ndarray:
    """dy·colᵀ, of shape (filters, rows of col: C·kh·kw, plus one for a bias), for dy of
    shape (filters, N·oh·ow). The inner axis is long: BLAS runs the product 10–30% faster
    at two threads with the longer of the two short axes first, so it computes (col·dyᵀ)ᵀ
    when col has more rows."""
    return (col @ dy_rows.T).T if len(col) > len(dy_rows) else dy_rows @ col.T


def input_grad_stride1(w_rows: np.ndarray, dy: np.ndarray, x_shape: tuple[int, int, int, int],
                       kernel: Pair, padding: Pair) -> np.ndarray:
    """dx of a stride-1 convolution, ``col2im(w_rowsᵀ·dy)`` without col2im's short strided adds.

    ``w_rows`` is w flattened to (filters, C·kh·kw), ``dy`` of shape (N, filters, oh, ow).
    With dy laid on the padded input's grid (image n, row y, column x at n·hp·wp + y·wp + x,
    zeros past oh and ow), kernel offset (i, j) sends the gradient at grid position s to
    s + i·wp + j, so each offset's share is one shifted add over whole contiguous rows.
    """
    n, c, h, w = x_shape
    (kh, kw), (ph, pw) = kernel, padding
    hp, wp = h + 2 * ph, w + 2 * pw
    filters, (oh, ow) = dy.shape[1], dy.shape[2:]
    grid = np.zeros((filters, n, hp, wp), dtype=dy.dtype)
    grid[:, :, :oh, :ow] = dy.transpose(1, 0, 2, 3)
    size = n * hp * wp
    dcol = (w_rows.T @ grid.reshape(filters, size)).reshape(c, kh * kw, size)
    shifts = [i * wp + j for i in range(kh) for j in range(kw)]  # shifts[0] == 0
    padded = dcol[:, 0].copy()
    # A valid position's share stays inside its own padded image; the shares cut off at the
    # end come from grid positions past oh or ow, which hold zeros.
    for k in range(1, kh * kw):
        padded[:, shifts[k]:] += dcol[:, k, :size - shifts[k]]
    return padded.reshape(c, n, hp, wp)[:, :, ph:ph + h, pw:pw + w].transpose(1, 0, 2, 3)


def conv2d(filters: int, kernel_size: int | tuple[int, int], *, stride: int | tuple[int, int] = 1,
           padding: int | tuple[int, int] = 0, w_init: Initializer | None = None,
           b_init: Initializer = zeros, use_bias: bool = True) -> Layer:
    """2-D convolution (cross-correlation, as in the book) on (N, C, H, W) inputs.

    y[n, f, y, x] = Σ_{c,i,j} w[f, c, i, j] · x_pad[n, c, y·sh + i, x·sw + j] + b[f], of shape
    (N, filters, oh, ow) with oh = (H + 2·ph − kh) // sh + 1 (likewise ow). ``kernel_size``,
    ``stride`` and ``padding`` (zeros) are ints or (height, width) pairs.
    Backward: dW = dy·colᵀ, db = Σ dy, dx = col2im(Wᵀ·dy) (for stride 1 on the padded grid,
    ``input_grad_stride1``); the bias rides in the products as a column of W against a row
    of ones in col, so neither adding it nor summing dy is a pass of its own. ``w_init`` (default
    ``glorot_uniform()``) is called with the shape (kh, kw, in_channels, filters), so
    fans count the receptive field; the result is transposed to (filters, in_channels, kh, kw).
    """
    filters = integer("conv2d", "filters", filters)
    kernel = pair("conv2d", "kernel_size", kernel_size)
    strides = pair("conv2d", "stride", stride)
    pads = pair("conv2d", "padding", padding, minimum=0)
    name = call_text("conv2d", filters, compact(kernel),
                     stride=compact(strides) if strides != (1, 1) else None,
                     padding=compact(pads) if pads != (0, 0) else None,
                     use_bias=None if use_bias else False)
    w_init = glorot_uniform() if w_init is None else w_init

    def init(key, in_shape, dtype=np.float32):
        channels, h, w = image_shape(name, in_shape)
        out_hw = output_size(name, (h, w), kernel, strides, pads, channels)
        dtype = np.dtype(dtype)
        k_w, k_b = random.split(key)
        w = initialize(f"{name} w_init", w_init, k_w, (*kernel, channels, filters), dtype)
        b = initialize(f"{name} b_init", b_init, k_b, (filters,), dtype) if use_bias else None
        w = np.ascontiguousarray(w.transpose(3, 2, 0, 1))
        return ConvParams(w, b), None, (filters, *out_hw)

    def forward(params, state, x, *, key=None, train=False):
        check_params(name, params, ConvParams, (filters, None, *kernel), (filters,))
        check_images(name, x, params.w.shape[1], params.w.dtype)
        oh, ow = output_size(name, x.shape[2:], kernel, strides, pads)
        col = _columns(x, kernel, strides, pads, ones=params.b is not None)
        w_rows = params.w.reshape(len(params.w), -1)
        if params.b is not None:
            w_rows = np.concatenate([w_rows, params.b[:, None]], axis=1)
        y = w_rows @ col
        return y.reshape(filters, len(x), oh, ow).transpose(1, 0, 2, 3), state, (col, x.shape)

    def grads(params, col, dy_rows):
        g = weight_grad(dy_rows, col)  # with a bias, its last column is db = Σ dy
        if params.b is None:
            return ConvParams(g.reshape(params.w.shape))
        return ConvParams(g[:, :-1].reshape(params.w.shape), g[:, -1].copy())

    def rows(dy):
        # (N, filters, oh, ow) → (filters, N·oh·ow): free when dy has the forward output's layout.
        return dy.transpose(1, 0, 2, 3).reshape(dy.shape[1], dy.size // dy.shape[1])

    def param_grads(params, cache, dy):
        return grads(params, cache[0], rows(dy))

    def backward(params, cache, dy):
        col, x_shape = cache
        dy_rows = rows(dy)
        w_rows = params.w.reshape(len(params.w), -1)
        if strides == (1, 1):
            dx = input_grad_stride1(w_rows, dy, x_shape, kernel, pads)
        else:
            dx = col2im(w_rows.T @ dy_rows, x_shape, kernel, strides, pads)
        return dx, grads(params, col, dy_rows)

    return Layer(name, init, forward, backward, param_grads, uses_key=False)
