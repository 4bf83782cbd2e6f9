import functools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fnn
from fnn import random
from fnn.errors import ShapeError
from fnn.layers import avg_pool2d, max_pool2d
from fnn.testing import assert_layer_gradients
from tests.layers.layer_checks import assert_init_agrees_with_forward, assert_pure_and_dtype_preserving

POOLS = {"max": (max_pool2d, np.max), "avg": (avg_pool2d, np.mean)}
# (size, stride, input shape): without overlap, with overlap, rectangular, odd leftovers.
SETTINGS = [(2, None, (2, 2, 4, 6)), (3, 1, (2, 2, 5, 4)), (3, 2, (1, 3, 7, 5)),
            ((2, 3), (1, 2), (2, 1, 4, 7)), (2, None, (1, 2, 5, 5))]
IDS = [f"size{size}-stride{stride}-{'x'.join(map(str, shape))}" for size, stride, shape in SETTINGS]


def windows_reference(x, size, stride):
    """Every window as a flat row-major vector: (N, C, oh, ow, kh·kw), by loops."""
    (kh, kw) = np.broadcast_to(size, 2)
    (sh, sw) = (kh, kw) if stride is None else np.broadcast_to(stride, 2)
    oh, ow = (x.shape[2] - kh) // sh + 1, (x.shape[3] - kw) // sw + 1
    out = np.empty((*x.shape[:2], oh, ow, kh * kw), x.dtype)
    for i in range(oh):
        for j in range(ow):
            out[:, :, i, j] = x[:, :, i * sh:i * sh + kh, j * sw:j * sw + kw].reshape(*x.shape[:2], -1)
    return out, (kh, kw), (sh, sw)


@pytest.mark.parametrize("kind", POOLS)
@pytest.mark.parametrize("size, stride, shape", SETTINGS, ids=IDS)
def test_gradients(rng, kind, size, stride, shape):
    assert_layer_gradients(POOLS[kind][0](size, stride=stride), rng.normal(size=shape))


@pytest.mark.parametrize("kind", POOLS)
@pytest.mark.parametrize("size, stride, shape", SETTINGS, ids=IDS)
def test_forward_matches_the_loop_reference_and_inferred_shape(rng, kind, size, stride, shape):
    factory, reduce = POOLS[kind]
    layer = factory(size, stride=stride)
    _, _, out_shape = layer.init(random.key(0), shape[1:])
    x = rng.normal(size=shape)
    y, _, _ = layer.forward(None, None, x)
    assert y.shape == (shape[0], *out_shape)
    np.testing.assert_allclose(y, reduce(windows_reference(x, size, stride)[0], axis=-1), rtol=1e-12)


@pytest.mark.parametrize("train", [True, False], ids=["train", "eval"])
@pytest.mark.parametrize("size, stride, shape", SETTINGS, ids=IDS)
def test_max_pool_routes_each_gradient_to_the_first_maximum(rng, size, stride, shape, train):
    # Few distinct values, so most windows hold ties. Training caches the masks,
    # evaluation finds them in backward: both must route alike.
    x = rng.integers(0, 3, size=shape).astype(np.float64)
    layer = max_pool2d(size, stride=stride)
    y, _, cache = layer.forward(None, None, x, train=train)
    dy = rng.normal(size=y.shape)
    dx, _ = layer.backward(None, cache, dy)
    windows, (_kh, kw), (sh, sw) = windows_reference(x, size, stride)
    first = windows.argmax(axis=-1)  # numpy's argmax returns the first maximum
    expected = np.zeros_like(x)
    for n, c, i, j in np.ndindex(*y.shape):
        di, dj = divmod(first[n, c, i, j], kw)
        expected[n, c, i * sh + di, j * sw + dj] += dy[n, c, i, j]
    np.testing.assert_array_equal(dx, expected)


@pytest.mark.parametrize("train", [True, False], ids=["train", "eval"])
def test_the_maximum_folds_the_offsets_in_row_major_order(train):
    # np.maximum of +0 and -0 returns one of them by argument order, so y's bytes pin
    # the order: the same in training and evaluation, and from one version to the next.
    x = np.array([[[[0.0, -0.0, -0.0, 0.0], [0.0, -0.0, 0.0, -0.0]]]], np.float32)
    offsets = [x[..., i::2, j::2] for i in range(2) for j in range(2)]
    expected = functools.reduce(np.maximum, offsets)
    y = max_pool2d(2).forward(None, None, x, train=train)[0]
    assert y.tobytes() == expected.tobytes()


@pytest.mark.parametrize("train", [True, False], ids=["train", "eval"])
def test_a_1x1_max_pool_is_the_identity(rng, train):
    x = rng.normal(size=(2, 3, 4, 5))
    layer = max_pool2d(1)
    y, _, cache = layer.forward(None, None, x, train=train)
    np.testing.assert_array_equal(y, x)
    assert not np.shares_memory(y, x)
    dy = rng.normal(size=x.shape)
    np.testing.assert_array_equal(layer.backward(None, cache, dy)[0], dy)


def test_max_pool_tie_in_a_constant_window_goes_to_the_top_left():
    layer = max_pool2d(2)
    x = np.ones((1, 1, 2, 4))
    x[0, 0, 1, 3] = 2.0
    _, _, cache = layer.forward(None, None, x)
    dx, _ = layer.backward(None, cache, np.array([[[[5.0, 7.0]]]]))
    np.testing.assert_array_equal(dx, [[[[5, 0, 0, 0], [0, 0, 0, 7]]]])


@pytest.mark.parametrize("kind", POOLS)
def test_settings_that_leave_no_output_pixels_are_refused(kind):
    layer = POOLS[kind][0]((2, 4), stride=1)
    with pytest.raises(ShapeError, match=rf"{kind}_pool2d\(\(2, 4\), stride=1\): an input of height x "
                                         rf"width 5x3 leaves no output pixels with kernel 2x4"):
        layer.init(random.key(0), (1, 5, 3))
    with pytest.raises(ShapeError, match=r"1x8 leaves no output pixels"):
        layer.forward(None, None, np.zeros((2, 1, 1, 8), np.float32))


@pytest.mark.parametrize("kind", POOLS)
def test_odd_sizes_drop_the_leftover_rows_and_columns(rng, kind):
    layer = POOLS[kind][0](2)
    params, state, out_shape = layer.init(random.key(0), (3, 7, 5))
    assert out_shape == (3, 3, 2)
    x = rng.normal(size=(2, 3, 7, 5)).astype(np.float32)
    y, _, cache = layer.forward(params, state, x)
    assert y.shape == (2, 3, 3, 2)
    dx, _ = layer.backward(params, cache, np.ones_like(y))
    assert not dx[:, :, 6].any() and not dx[:, :, :, 4].any()


@pytest.mark.parametrize("kind", POOLS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_pure_and_dtype_preserving(rng, kind, dtype):
    assert_pure_and_dtype_preserving(POOLS[kind][0](3, stride=2),
                                     rng.normal(size=(2, 2, 5, 6)).astype(dtype))


@pytest.mark.parametrize("kind", POOLS)
def test_bad_inputs_and_settings_are_refused(kind):
    factory = POOLS[kind][0]
    with pytest.raises(ShapeError, match=rf"{kind}_pool2d\(2\): expected input of shape "
                                         r"\(batch, channels, height, width\), got \(2, 8\)"):
        factory(2).forward(None, None, np.zeros((2, 8), np.float32))
    with pytest.raises(ShapeError, match=r"\(channels, height, width\), got \(8, 8\)"):
        factory(2).init(random.key(0), (8, 8))
    with pytest.raises(ValueError, match="size"):
        factory(0)
    with pytest.raises(ValueError, match="stride"):
        factory(2, stride=(1, 0))


def test_gradients_inside_sequential(rng):
    model = fnn.sequential(fnn.layers.conv2d(2, 2), max_pool2d(2, stride=1), fnn.layers.relu(),
                           avg_pool2d((2, 1)), fnn.layers.flatten(), fnn.layers.dense(2))
    assert_layer_gradients(model, rng.normal(size=(2, 1, 5, 4)))


@settings(max_examples=30, deadline=None)
@given(kind=st.sampled_from(sorted(POOLS)), h=st.integers(1, 9), w=st.integers(1, 9),
       kh=st.integers(1, 4), kw=st.integers(1, 4), sh=st.integers(1, 4), sw=st.integers(1, 4))
def test_inferred_shape_equals_forward_shape_or_both_refuse(kind, h, w, kh, kw, sh, sw):
    x = np.arange(2.0 * h * w).reshape(1, 2, h, w)
    y = assert_init_agrees_with_forward(POOLS[kind][0]((kh, kw), stride=(sh, sw)), x,
                                        refuses=h < kh or w < kw)
    if y is not None:
        np.testing.assert_allclose(
            y, POOLS[kind][1](windows_reference(x, (kh, kw), (sh, sw))[0], axis=-1))


def test_global_avg_pool2d_takes_each_channel_s_mean(rng):
    layer = fnn.layers.global_avg_pool2d()
    x = rng.normal(size=(2, 3, 4, 5))
    assert layer.init(random.key(0), (3, 4, 5))[2] == (3,)
    y, _, cache = layer.forward(None, None, x)
    np.testing.assert_allclose(y, [[sum(x[n, c].reshape(-1)) / 20 for c in range(3)]
                                   for n in range(2)], rtol=1e-13)
    dy = rng.normal(size=(2, 3))
    dx, grads = layer.backward(None, cache, dy)
    assert grads is None
    np.testing.assert_allclose(dx, np.broadcast_to(dy[:, :, None, None] / 20, x.shape), rtol=1e-15)
    with pytest.raises(ShapeError, match=r"global_avg_pool2d\(\): expected a 3-D input shape"):
        layer.init(random.key(0), (12,))
