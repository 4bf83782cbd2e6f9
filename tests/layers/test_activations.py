import math

import numpy as np
import pytest

from fnn import layers
from fnn.errors import DTypeError
from fnn.testing import assert_layer_gradients

SMOOTH = [layers.sigmoid(), layers.tanh(), layers.identity(), layers.softmax()]
KINKED = [layers.relu(), layers.leaky_relu(), layers.leaky_relu(0.1)]


def away_from_zero(rng, shape):
    """Inputs at least 0.1 from the kink at 0, so central differences never straddle it."""
    x = rng.normal(size=shape)
    return x + 0.1 * np.sign(x)


@pytest.mark.parametrize("layer", SMOOTH + KINKED, ids=lambda layer: layer.name)
def test_gradients(rng, layer):
    assert_layer_gradients(layer, away_from_zero(rng, (4, 6)))


@pytest.mark.parametrize("layer", SMOOTH + KINKED, ids=lambda layer: layer.name)
def test_shape_is_preserved_and_dy_never_written(rng, layer):
    x = away_from_zero(rng, (3, 2, 5))
    params, state, out_shape = layer.init(None, x.shape[1:])
    y, _, cache = layer.forward(params, state, x)
    assert out_shape == x.shape[1:] and y.shape == x.shape
    dy = rng.normal(size=y.shape)
    dy.flags.writeable = False
    x_before = x.copy()
    layer.backward(params, cache, dy)
    np.testing.assert_array_equal(x, x_before)


def test_values_against_their_definitions():
    x = np.array([[-2.0, -0.5, 0.0, 1.5]])
    def forward(layer):
        return layer.forward(None, None, x)[0]
    np.testing.assert_allclose(forward(layers.relu()), [[0, 0, 0, 1.5]])
    np.testing.assert_allclose(forward(layers.leaky_relu(0.1)), [[-0.2, -0.05, 0, 1.5]])
    np.testing.assert_allclose(forward(layers.sigmoid()), 1 / (1 + np.exp(-x)))
    np.testing.assert_allclose(forward(layers.tanh()), np.tanh(x))
    np.testing.assert_allclose(forward(layers.step()), [[0, 0, 0, 1]])
    np.testing.assert_allclose(forward(layers.softmax()), np.exp(x) / np.exp(x).sum())


def test_sigmoid_and_softmax_are_finite_for_huge_inputs():
    x = np.array([[-1000.0, 0.0, 1000.0]], dtype=np.float32)
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        np.testing.assert_array_equal(layers.sigmoid().forward(None, None, x)[0], [[0, 0.5, 1]])
        np.testing.assert_array_equal(layers.softmax().forward(None, None, x)[0], [[0, 0, 1]])


def test_step_has_zero_gradient(rng):
    layer = layers.step()
    x = rng.normal(size=(3, 4))
    _, _, cache = layer.forward(None, None, x)
    dx, grads = layer.backward(None, cache, rng.normal(size=x.shape))
    assert grads is None and not dx.any()


@pytest.mark.parametrize("layer", SMOOTH + KINKED + [layers.step()], ids=lambda layer: layer.name)
def test_float32_stays_float32(rng, layer):
    x = rng.normal(size=(2, 3)).astype(np.float32)
    y, _, cache = layer.forward(None, None, x)
    dx, _ = layer.backward(None, cache, y)
    assert y.dtype == dx.dtype == np.float32


def test_integer_input_is_refused():
    with pytest.raises(DTypeError, match=r"relu\(\): expected a floating-point array, got dtype int64"):
        layers.relu().forward(None, None, np.arange(4).reshape(2, 2))


def test_leaky_relu_alpha_must_lie_in_unit_interval():
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        layers.leaky_relu(-0.1)


@pytest.mark.parametrize("alpha", [0.0, 0.01, 0.1, 0.3, 1.0])
def test_leaky_relu_backward_is_exact(rng, alpha):
    x = rng.normal(size=(20, 30)).astype(np.float32)
    dy = rng.normal(size=x.shape).astype(np.float32)
    layer = layers.leaky_relu(alpha)
    _, _, cache = layer.forward(None, None, x)
    np.testing.assert_array_equal(layer.backward(None, cache, dy)[0],
                                  np.where(x > 0, dy, dy * np.float32(alpha)))


def test_elu_and_gelu_against_their_definitions():
    xs = [-3.0, -0.5, 0.0, 0.25, 2.0]
    x = np.array([xs])
    def forward(layer):
        return layer.forward(None, None, x)[0][0]

    np.testing.assert_allclose(forward(layers.elu()), [math.expm1(v) if v <= 0 else v for v in xs],
                               rtol=1e-15)
    np.testing.assert_allclose(forward(layers.elu(0.3)),
                               [0.3 * math.expm1(v) if v <= 0 else v for v in xs], rtol=1e-15)
    # x/√2 rounded as the layer does (by √½), since erfc magnifies its rounding by 2(x/√2)²
    exact = [v * math.erfc(-v * math.sqrt(0.5)) / 2 for v in xs]
    np.testing.assert_allclose(forward(layers.gelu()), exact, rtol=1e-15, atol=1e-300)
    tanh_form = [v * (1 + math.tanh(math.sqrt(2 / math.pi) * (v + 0.044715 * v**3))) / 2 for v in xs]
    np.testing.assert_allclose(forward(layers.gelu(approximate="tanh")), tanh_form, rtol=1e-14)
    # PyTorch's GELU()(1.0) and GELU(approximate="tanh")(1.0)
    assert abs(layers.gelu().forward(None, None, np.array([[1.0]]))[0][0, 0] - 0.8413447460685429) < 1e-15
    assert abs(layers.gelu(approximate="tanh").forward(None, None, np.array([[1.0]]))[0][0, 0]
               - 0.8411919906082768) < 1e-15


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_gelu_keeps_its_precision_in_the_negative_tail(dtype):
    # x·(1 + erf(x/√2))/2 loses Φ(x) to cancellation there: 2% off at −8, 0 at −10
    xs = [-3.0, -5.0, -8.0, -10.0, -12.0, -20.0]
    x = np.array([xs], dtype)
    layer = layers.gelu()
    y, _, cache = layer.forward(None, None, x)
    dx, _ = layer.backward(None, cache, np.ones_like(x))
    cdf = [math.erfc(-v * math.sqrt(0.5)) / 2 for v in xs]   # x/√2 rounded as the layer does
    value = [v * p for v, p in zip(xs, cdf, strict=True)]
    slope = [p + v * math.exp(-v * v / 2) / math.sqrt(2 * math.pi) for v, p in zip(xs, cdf, strict=True)]
    assert y.dtype == dx.dtype == dtype
    rtol = 16 * np.finfo(dtype).eps
    np.testing.assert_allclose(y[0], np.array(value, dtype), rtol=rtol, atol=0)
    np.testing.assert_allclose(dx[0], np.array(slope, dtype), rtol=rtol, atol=0)


def test_gelu_is_finite_for_huge_inputs_and_keeps_float32():
    x = np.array([[-1e4, -40.0, 40.0, 1e4]], dtype=np.float32)
    with np.errstate(over="raise", invalid="raise"):
        y = layers.gelu().forward(None, None, x)[0]
    assert y.dtype == np.float32
    np.testing.assert_array_equal(y, [[0, 0, 40, 1e4]])


def test_bad_settings_of_elu_and_gelu_are_refused():
    with pytest.raises(ValueError, match="elu: alpha must be a finite number >= 0"):
        layers.elu(-1.0)
    with pytest.raises(ValueError, match="gelu: approximate must be 'none' or 'tanh', got 'erf'"):
        layers.gelu(approximate="erf")


def test_elementwise_makes_a_custom_activation_in_three_lines(rng):
    cube = layers.elementwise("cube", lambda x: (x**3, x), lambda x, dy: 3 * x**2 * dy)
    x = rng.normal(size=(2, 3))
    params, state, out_shape = cube.init(None, (3,))
    assert (params, state, out_shape, cube.uses_key, repr(cube)) == (None, None, (3,), False, "cube")
    np.testing.assert_array_equal(cube.forward(None, None, x)[0], x**3)
    assert_layer_gradients(cube, x)
    with pytest.raises(DTypeError, match="cube: expected a floating-point array"):
        cube.forward(None, None, np.arange(3)[None])
