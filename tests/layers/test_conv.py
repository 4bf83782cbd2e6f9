import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fnn
from fnn import initializers, random
from fnn.errors import DTypeError, ShapeError
from fnn.layers import ConvParams, conv2d
from fnn.layers.conv import col2im, im2col, input_grad_stride1
from fnn.testing import assert_layer_gradients, assert_trees_equal
from tests.layers.layer_checks import assert_init_agrees_with_forward, assert_pure_and_dtype_preserving

# (kernel_size, stride, padding, input shape (N, C, H, W)): square and rectangular kernels
# and strides, with and without padding, odd and non-square inputs.
SETTINGS = [(3, 1, 0, (2, 1, 5, 5)), (3, 1, 1, (2, 2, 4, 5)), (3, 2, 0, (2, 3, 7, 6)),
            (2, 2, 1, (1, 2, 5, 4)), ((2, 3), 1, 0, (2, 2, 4, 6)), ((3, 2), (2, 1), (1, 0), (2, 2, 6, 5)),
            (1, 1, 0, (2, 3, 2, 3))]
IDS = [f"k{k}-s{s}-p{p}-{'x'.join(map(str, shape))}" for k, s, p, shape in SETTINGS]


def conv_reference(x, w, b, stride, padding):
    """The convolution's definition, one output pixel at a time."""
    (sh, sw), (ph, pw) = np.broadcast_to(stride, 2), np.broadcast_to(padding, 2)
    x = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    f, _, kh, kw = w.shape
    oh, ow = (x.shape[2] - kh) // sh + 1, (x.shape[3] - kw) // sw + 1
    y = np.empty((len(x), f, oh, ow))
    for n in range(len(x)):
        for k in range(f):
            for i in range(oh):
                for j in range(ow):
                    y[n, k, i, j] = np.sum(x[n, :, i * sh:i * sh + kh, j * sw:j * sw + kw] * w[k])
    return y + (0 if b is None else b[:, None, None])


@pytest.mark.parametrize("kernel, stride, padding, shape", SETTINGS, ids=IDS)
def test_gradients(rng, kernel, stride, padding, shape):
    assert_layer_gradients(conv2d(3, kernel, stride=stride, padding=padding), rng.normal(size=shape))


def test_gradients_without_bias(rng):
    assert_layer_gradients(conv2d(2, 2, use_bias=False), rng.normal(size=(2, 2, 3, 4)))


@pytest.mark.parametrize("kernel, stride, padding, shape", SETTINGS, ids=IDS)
def test_forward_matches_the_loop_reference_and_inferred_shape(rng, kernel, stride, padding, shape):
    layer = conv2d(4, kernel, stride=stride, padding=padding)
    params, _, out_shape = layer.init(random.key(0), shape[1:], np.float64)
    params = ConvParams(params.w, rng.normal(size=4))
    x = rng.normal(size=shape)
    y, _, _ = layer.forward(params, None, x)
    assert y.shape == (shape[0], *out_shape)
    np.testing.assert_allclose(y, conv_reference(x, params.w, params.b, stride, padding),
                               rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("in_shape, kwargs, expected", [
    ((1, 28, 28), dict(kernel_size=5), (30, 24, 24)),
    ((3, 7, 9), dict(kernel_size=3, stride=2, padding=1), (30, 4, 5)),
    ((2, 8, 5), dict(kernel_size=(4, 2), stride=(3, 2)), (30, 2, 2)),
    ((1, 3, 3), dict(kernel_size=5, padding=1), (30, 1, 1)),
])
def test_shape_inference_for_odd_sizes(rng, in_shape, kwargs, expected):
    layer = conv2d(30, **kwargs)
    params, state, out_shape = layer.init(random.key(0), in_shape)
    assert out_shape == expected and state is None
    y, _, _ = layer.forward(params, state, rng.normal(size=(2, *in_shape)).astype(np.float32))
    assert y.shape == (2, *expected)


def test_settings_that_leave_no_output_pixels_are_refused():
    layer = conv2d(4, (3, 5), padding=1)
    with pytest.raises(ShapeError, match=r"conv2d\(4, \(3, 5\), padding=1\).*2x2 leaves no output "
                                         r"pixels with kernel 3x5, stride 1x1, padding 1x1"):
        layer.init(random.key(0), (1, 2, 2))
    params, _, _ = layer.init(random.key(0), (1, 8, 8))
    with pytest.raises(ShapeError, match=r"conv2d.*6x2 leaves no output pixels"):
        layer.forward(params, None, np.zeros((1, 1, 6, 2), np.float32))


def test_init_layout_and_fans():
    seen = []

    def recording(key, shape, dtype=np.float32):
        seen.append(shape)
        return initializers.he_normal()(key, shape, dtype)

    params, _, _ = conv2d(64, (3, 2), w_init=recording).init(random.key(0), (20, 9, 9))
    assert seen == [(3, 2, 20, 64)]
    assert params.w.shape == (64, 20, 3, 2) and params.w.flags.c_contiguous
    assert params.b.shape == (64,) and not params.b.any()
    assert not params.w.flags.writeable and not params.b.flags.writeable
    # He: variance 2 / fan_in with fan_in = in_channels·kh·kw.
    assert abs(params.w.std() / np.sqrt(2 / (20 * 3 * 2)) - 1) < 0.05
    params, _, _ = conv2d(2, 3, use_bias=False).init(random.key(0), (1, 4, 4))
    assert params.b is None


def test_param_grads_equal_backward_grads(rng):
    layer = conv2d(3, 2, stride=2, padding=1)
    params, _, _ = layer.init(random.key(0), (2, 5, 4), np.float64)
    y, _, cache = layer.forward(params, None, rng.normal(size=(3, 2, 5, 4)))
    dy = rng.normal(size=y.shape)
    assert_trees_equal(layer.param_grads(params, cache, dy), layer.backward(params, cache, dy)[1])


def test_col2im_is_the_adjoint_of_im2col_keeps_the_dtype_and_allocates_the_padded_size(rng):
    kernel, stride, padding = (3, 2), (2, 1), (1, 2)
    x = rng.normal(size=(2, 3, 6, 5)).astype(np.float32)
    col = im2col(x, kernel, stride, padding)
    assert col.dtype == np.float32 and col.flags.c_contiguous
    c = rng.normal(size=col.shape).astype(np.float32)
    back = col2im(c, x.shape, kernel, stride, padding)
    assert back.dtype == np.float32 and back.shape == x.shape
    assert back.base.size == 2 * 3 * (6 + 2) * (5 + 4)
    np.testing.assert_allclose(np.vdot(col, c), np.vdot(x, back), rtol=1e-5)


@pytest.mark.parametrize("kernel, padding, shape", [((3, 3), (1, 1), (2, 3, 5, 6)),
                                                     ((2, 3), (0, 2), (3, 2, 4, 4)),
                                                     ((5, 5), (0, 0), (2, 1, 7, 5))])
def test_stride1_input_grad_equals_col2im_of_the_column_gradient(rng, kernel, padding, shape):
    w = rng.normal(size=(4, shape[1], *kernel))
    out_hw = [n + 2 * p - k + 1 for n, k, p in zip(shape[2:], kernel, padding, strict=True)]
    dy = rng.normal(size=(shape[0], 4, *out_hw))
    w_rows = w.reshape(4, -1)
    expected = col2im(w_rows.T @ dy.transpose(1, 0, 2, 3).reshape(4, -1), shape, kernel, (1, 1),
                      padding)
    np.testing.assert_allclose(input_grad_stride1(w_rows, dy, shape, kernel, padding), expected,
                               rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_pure_and_dtype_preserving(rng, dtype):
    assert_pure_and_dtype_preserving(conv2d(3, 3, stride=2, padding=1),
                                     rng.normal(size=(2, 2, 5, 6)).astype(dtype))


def test_wrong_inputs_name_the_layer_and_both_shapes():
    layer = conv2d(8, 3)
    params, _, _ = layer.init(random.key(0), (3, 6, 6))
    with pytest.raises(ShapeError, match=r"conv2d\(8, 3\): expected input of shape "
                                         r"\(batch, 3, height, width\), got \(2, 4, 6, 6\)"):
        layer.forward(params, None, np.zeros((2, 4, 6, 6), np.float32))
    with pytest.raises(ShapeError, match=r"\(batch, 3, height, width\), got \(2, 108\)"):
        layer.forward(params, None, np.zeros((2, 108), np.float32))
    with pytest.raises(DTypeError, match=r"conv2d\(8, 3\).*float32.*float64"):
        layer.forward(params, None, np.zeros((2, 3, 6, 6)))
    with pytest.raises(ShapeError, match=r"conv2d\(8, 3\).*\(channels, height, width\).*\(784,\)"):
        layer.init(random.key(0), (784,))


@pytest.mark.parametrize("kwargs", [dict(filters=0, kernel_size=3), dict(filters=2, kernel_size=0),
                                    dict(filters=2, kernel_size=(3, 3, 3)),
                                    dict(filters=2, kernel_size=3, stride=0),
                                    dict(filters=2, kernel_size=3, padding=-1),
                                    dict(filters=2, kernel_size=2.5)])
def test_bad_settings_are_refused(kwargs):
    with pytest.raises(ValueError, match="conv2d"):
        conv2d(**kwargs)


def test_gradients_inside_sequential(rng):
    model = fnn.sequential(conv2d(2, 3, padding=1), fnn.layers.tanh(), conv2d(3, (2, 1), stride=2),
                           fnn.layers.flatten(), fnn.layers.dense(2))
    assert_layer_gradients(model, rng.normal(size=(2, 1, 5, 4)))


@settings(max_examples=30, deadline=None)
@given(h=st.integers(1, 9), w=st.integers(1, 9), kh=st.integers(1, 4), kw=st.integers(1, 4),
       sh=st.integers(1, 3), sw=st.integers(1, 3), ph=st.integers(0, 2), pw=st.integers(0, 2))
def test_inferred_shape_equals_forward_shape_or_both_refuse(h, w, kh, kw, sh, sw, ph, pw):
    assert_init_agrees_with_forward(conv2d(2, (kh, kw), stride=(sh, sw), padding=(ph, pw)),
                                    np.zeros((1, 1, h, w), np.float32),
                                    refuses=h + 2 * ph < kh or w + 2 * pw < kw)
