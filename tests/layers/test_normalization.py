import math

import numpy as np
import pytest

import fnn
from fnn import layers, random
from fnn.errors import DTypeError, ShapeError, TreeError
from fnn.layers import BatchNormParams, BatchNormState, batch_norm
from fnn.testing import assert_layer_gradients
from tests.layers.layer_checks import assert_pure_and_dtype_preserving

SHAPES = {"after dense": (6, 3), "after conv": (3, 2, 3, 4)}


def custom_params_and_state(rng, features):
    """Non-trivial gamma, beta and running statistics, so every term of the formulas counts."""
    return (BatchNormParams(rng.uniform(0.5, 2, features), rng.normal(size=features)),
            BatchNormState(rng.normal(size=features), rng.uniform(0.5, 2, features)))


@pytest.mark.parametrize("shape", SHAPES.values(), ids=SHAPES.keys())
@pytest.mark.parametrize("train", [True, False], ids=["train", "eval"])
def test_gradients(rng, shape, train):
    params, state = custom_params_and_state(rng, shape[1])
    assert_layer_gradients(batch_norm(), rng.normal(size=shape), params=params, state=state,
                           train=train)


@pytest.mark.parametrize("shape", SHAPES.values(), ids=SHAPES.keys())
def test_training_normalises_with_batch_statistics_and_updates_the_state(rng, shape):
    layer = batch_norm(momentum=0.8, eps=1e-5)
    params, state = custom_params_and_state(rng, shape[1])
    x = rng.normal(3, 2, size=shape)
    y, new_state, _ = layer.forward(params, state, x, train=True)
    axes = (0,) if len(shape) == 2 else (0, 2, 3)
    mean, var = x.mean(axis=axes), x.var(axis=axes)  # biased variance
    column = (-1,) + (1,) * (len(shape) - 2)
    expected = (params.gamma.reshape(column) * (x - mean.reshape(column))
                / np.sqrt(var.reshape(column) + 1e-5) + params.beta.reshape(column))
    np.testing.assert_allclose(y, expected, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(new_state.mean, 0.8 * state.mean + 0.2 * mean, rtol=1e-12)
    np.testing.assert_allclose(new_state.var, 0.8 * state.var + 0.2 * var, rtol=1e-12)


def test_running_update_on_known_numbers():
    layer = batch_norm(momentum=0.9)
    params, state, _ = layer.init(random.key(0), (2,), np.float64)
    x = np.array([[1.0, 10.0], [3.0, 10.0], [5.0, 16.0]])  # means 3, 12; biased variances 8/3, 8
    _, state, _ = layer.forward(params, state, x, train=True)
    np.testing.assert_allclose(state.mean, [0.3, 1.2])
    np.testing.assert_allclose(state.var, [0.9 + 0.1 * 8 / 3, 0.9 + 0.8])
    _, state, _ = layer.forward(params, state, x, train=True)
    np.testing.assert_allclose(state.mean, [0.9 * 0.3 + 0.3, 0.9 * 1.2 + 1.2])


@pytest.mark.parametrize("shape", SHAPES.values(), ids=SHAPES.keys())
def test_evaluation_uses_the_running_statistics_and_keeps_the_state(rng, shape):
    layer = batch_norm(eps=1e-3)
    params, state = custom_params_and_state(rng, shape[1])
    x = rng.normal(size=shape)
    y, new_state, _ = layer.forward(params, state, x, train=False)
    assert new_state is state
    column = (-1,) + (1,) * (len(shape) - 2)
    def r(v):
        return v.reshape(column)
    expected = r(params.gamma) * (x - r(state.mean)) / np.sqrt(r(state.var) + 1e-3) + r(params.beta)
    np.testing.assert_allclose(y, expected, rtol=1e-12, atol=1e-12)


def test_init_shapes_and_starting_values():
    for in_shape in [(5,), (5, 7, 3)]:
        params, state, out_shape = batch_norm().init(random.key(0), in_shape)
        assert out_shape == in_shape
        np.testing.assert_array_equal(params.gamma, np.ones(5, np.float32))
        np.testing.assert_array_equal(params.beta, np.zeros(5, np.float32))
        np.testing.assert_array_equal(state.mean, np.zeros(5, np.float32))
        np.testing.assert_array_equal(state.var, np.ones(5, np.float32))
    with pytest.raises(ShapeError, match=r"batch_norm\(\): expected an input shape.*got \(5, 7\)"):
        batch_norm().init(random.key(0), (5, 7))


@pytest.mark.parametrize("shape", SHAPES.values(), ids=SHAPES.keys())
@pytest.mark.parametrize("train", [True, False], ids=["train", "eval"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_pure_and_dtype_preserving(rng, shape, train, dtype):
    assert_pure_and_dtype_preserving(batch_norm(), rng.normal(size=shape).astype(dtype), train=train)


def test_wrong_inputs_name_the_layer_and_both_shapes():
    layer = batch_norm()
    params, state, _ = layer.init(random.key(0), (4, 3, 3))
    with pytest.raises(ShapeError, match=r"batch_norm\(\): expected input of shape \(batch, 4\) or "
                                         r"\(batch, 4, height, width\), got \(2, 3, 3, 3\)"):
        layer.forward(params, state, np.zeros((2, 3, 3, 3), np.float32))
    with pytest.raises(ShapeError, match=r"got \(2, 4, 3\)"):
        layer.forward(params, state, np.zeros((2, 4, 3), np.float32))
    with pytest.raises(DTypeError, match=r"batch_norm.*float32.*float64"):
        layer.forward(params, state, np.zeros((2, 4)))
    with pytest.raises(ValueError, match="momentum"):
        batch_norm(momentum=1.5)
    with pytest.raises(ValueError, match="eps"):
        batch_norm(eps=0)


def test_gradients_inside_sequential_after_dense_and_conv(rng):
    # A bias right before batch norm is cancelled by the mean (its gradient is zero): none.
    model = fnn.sequential(fnn.layers.conv2d(3, 2, use_bias=False), batch_norm(), fnn.layers.tanh(),
                           fnn.layers.flatten(), fnn.layers.dense(4, use_bias=False), batch_norm(),
                           fnn.layers.tanh(), fnn.layers.dense(2))
    assert_layer_gradients(model, rng.normal(size=(3, 1, 4, 3)))


def test_layer_norm_normalises_each_sample_over_all_its_axes(rng):
    layer = layers.layer_norm()
    x = rng.normal(3.0, 2.0, size=(4, 2, 3, 3))
    params, state, out_shape = layer.init(random.key(0), x.shape[1:], np.float64)
    assert out_shape == (2, 3, 3) and state is None
    assert params.gain.shape == params.bias.shape == (2, 3, 3)
    np.testing.assert_array_equal(params.gain, np.ones((2, 3, 3)))
    np.testing.assert_array_equal(params.bias, np.zeros((2, 3, 3)))
    y, _, _ = layer.forward(params, state, x)
    # Each sample's 18 values, by hand: minus their mean, over √(biased variance + eps).
    for sample, out in zip(x, y, strict=True):
        values = sample.reshape(-1)
        mean = sum(values) / 18
        var = sum((v - mean) ** 2 for v in values) / 18
        np.testing.assert_allclose(out.reshape(-1), (values - mean) / math.sqrt(var + 1e-5),
                                   rtol=1e-12)
    gain, bias = rng.normal(size=(2, 2, 3, 3))
    y2, _, _ = layer.forward(layers.LayerNormParams(gain, bias), None, x)
    np.testing.assert_allclose(y2, y * gain + bias, rtol=1e-12)
    # training and evaluation are the same
    np.testing.assert_array_equal(layer.forward(params, state, x, train=True)[0], y)


def test_layer_norm_refuses_inputs_of_another_shape_and_params_of_another_layer():
    layer = layers.layer_norm()
    params, _, _ = layer.init(random.key(0), (5,))
    with pytest.raises(ShapeError, match=r"layer_norm\(\): expected input of shape \(batch, 5\), "
                                         r"got \(2, 4\)"):
        layer.forward(params, None, np.zeros((2, 4), np.float32))
    with pytest.raises(TreeError, match=r"layer_norm\(\): expected LayerNormParams, got "
                                        r"BatchNormParams"):
        layer.forward(layers.BatchNormParams(np.ones(5), np.zeros(5)), None, np.zeros((2, 5)))
    with pytest.raises(ValueError, match="layer_norm: eps must be a positive"):
        layers.layer_norm(eps=0.0)
