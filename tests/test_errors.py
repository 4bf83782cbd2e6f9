"""Every class of bad input gets an fnn error naming where it happened and both the
expected and the actual value, and nothing is half-updated."""

import re

import attrs
import numpy as np
import pytest

import fnn
from fnn import data, layers, losses, optim, random
from fnn.errors import (
    ConfigError,
    DataError,
    DTypeError,
    FnnError,
    MissingKeyError,
    NonFiniteError,
    ShapeError,
    TreeError,
)
from tests.helpers import small_problem


def mlp():
    return fnn.sequential(layers.dense(8), layers.relu(), layers.dense(3))


def cnn():
    return fnn.sequential(layers.conv2d(4, 3), layers.relu(), layers.max_pool2d(2),
                          layers.flatten(), layers.dense(3))


@pytest.fixture
def mlp_setup():
    model, opt = mlp(), optim.momentum(0.1)
    ts = fnn.init_train_state(model, opt, random.key(0), (5,))
    return model, ts, fnn.make_train_step(model, losses.softmax_cross_entropy(), opt)


def raises(error, *fragments):
    """pytest.raises for ``error`` whose message holds every fragment, in order."""
    return pytest.raises(error, match=".*".join(re.escape(f) for f in fragments))


def test_the_hierarchy_catches_with_builtin_exceptions_too():
    assert issubclass(ShapeError, ValueError) and issubclass(DTypeError, TypeError)
    assert issubclass(ConfigError, ValueError) and issubclass(ConfigError, TypeError)
    assert issubclass(NonFiniteError, FloatingPointError)
    for error in (ShapeError, DTypeError, TreeError, DataError, NonFiniteError,
                  MissingKeyError, ConfigError):
        assert issubclass(error, FnnError)


# --- inputs at forward -------------------------------------------------------------------

@pytest.mark.parametrize("x, error, fragments", [
    (np.zeros((4, 5, 1), np.float32), ShapeError,
     ("layer 0 of sequential, dense(8)", "(batch, 5)", "(4, 5, 1)")),
    (np.zeros((4, 6), np.float32), ShapeError, ("dense(8)", "(batch, 5)", "(4, 6)")),
    (np.zeros((4, 5), np.int64), DTypeError, ("dense(8)", "floating-point", "int64")),
    (np.zeros((4, 5), object), DTypeError, ("dense(8)", "floating-point", "object")),
    (np.zeros((4, 5), np.float64), DTypeError, ("dense(8)", "float32", "float64")),
    ([[0.0] * 5] * 4, DTypeError, ("dense(8)", "floating-point", "list")),
])
def test_bad_mlp_inputs(mlp_setup, x, error, fragments):
    model, ts, _ = mlp_setup
    with raises(error, *fragments):
        model.forward(ts.params, ts.state, x)


@pytest.mark.parametrize("x, fragments", [
    (np.zeros((2, 1, 8, 8), np.float32), ("conv2d(4, 3)", "(batch, 2, height, width)",
                                          "(2, 1, 8, 8)")),
    (np.zeros((2, 2, 8), np.float32), ("conv2d(4, 3)", "(batch, 2, height, width)",
                                       "(2, 2, 8)")),
])
def test_bad_cnn_inputs(x, fragments):
    model = cnn()
    params, state, _ = model.init(random.key(0), (2, 8, 8))
    with raises(ShapeError, "layer 0 of sequential", *fragments):
        model.forward(params, state, x)


@pytest.mark.parametrize("layer, in_shape, fragments", [
    (layers.conv2d(2, 5), (1, 4, 4), ("conv2d(2, 5)", "4x4", "kernel 5x5")),
    (layers.conv2d(2, 3, padding=1), (1, 0, 4), ("conv2d", "0x4", "padding 1x1")),
    (layers.max_pool2d(3), (1, 2, 8), ("max_pool2d(3)", "2x8", "kernel 3x3")),
    (layers.avg_pool2d(2), (1, 8, 1), ("avg_pool2d(2)", "8x1", "kernel 2x2")),
])
def test_settings_leaving_no_output_pixels(layer, in_shape, fragments):
    with raises(ShapeError, *fragments):
        layer.init(random.key(0), in_shape)
    params, state, _ = layer.init(random.key(0), (1, 9, 9))
    with raises(ShapeError, *fragments):
        layer.forward(params, state, np.zeros((1, *in_shape), np.float32))


@pytest.mark.parametrize("factory, fragments", [
    (lambda: layers.dropout(1.0), ("dropout", "[0, 1)", "1.0")),
    (lambda: layers.dropout(-0.1), ("dropout", "[0, 1)", "-0.1")),
    (lambda: layers.dense(0), ("dense", "units", "integer >= 1", "0")),
    (lambda: layers.conv2d(3, 0), ("conv2d", "kernel_size", "0")),
    (lambda: layers.max_pool2d(2, stride=0), ("max_pool2d", "stride", "0")),
    (lambda: layers.leaky_relu(2.0), ("leaky_relu", "[0, 1]", "2.0")),
    (lambda: optim.sgd(0.0), ("sgd", "lr", "0.0")),
    (lambda: optim.adam(-1e-3), ("adam", "lr", "-0.001")),
    (lambda: optim.adam(eps=0.0), ("adam", "eps", "positive", "0.0")),
    (lambda: optim.momentum(0.1, momentum=1.0), ("momentum", "[0, 1)", "1.0")),
    (lambda: list(data.batches(np.zeros(3), np.zeros(3), 0)), ("batch_size", "0")),
    (lambda: fnn.sequential(layers.relu), ("argument 0", "function", "relu()")),
])
def test_bad_settings(factory, fragments):
    with raises(ConfigError, *fragments):
        factory()


def test_dropout_in_training_without_a_key_names_the_layer_and_position():
    model = fnn.sequential(layers.dense(4), layers.dropout(0.5))
    params, state, _ = model.init(random.key(0), (3,))
    with raises(MissingKeyError, "layer 1 of sequential, dropout(0.5)", "key"):
        model.forward(params, state, np.zeros((2, 3), np.float32), train=True)


# --- targets and batches -------------------------------------------------------------------

@pytest.mark.parametrize("t, error, fragments", [
    (np.array([0, 1, 3, 0]), DataError, ("softmax_cross_entropy", "[0, 3)", "3")),
    (np.array([0, -1, 2, 0]), DataError, ("softmax_cross_entropy", "[0, 3)", "-1")),
    (np.zeros((4, 4), np.float32), ShapeError, ("one-hot", "(4, 3)", "(4, 4)")),
    (np.array(["a", "b", "c", "d"]), DTypeError, ("softmax_cross_entropy", "<U1")),
])
def test_bad_targets_in_a_train_step(mlp_setup, t, error, fragments):
    _, ts, step = mlp_setup
    with raises(error, *fragments):
        step(ts, np.zeros((4, 5), np.float32), t)


def test_mismatched_and_empty_batches(mlp_setup):
    _, ts, step = mlp_setup
    x, t = small_problem()
    with raises(ShapeError, "same number of samples", "(20, 5)", "(7,)"):
        step(ts, x, t[:7])
    with raises(DataError, "non-empty batch", "(0, 5)"):
        step(ts, x[:0], t[:0])
    with raises(ShapeError, "same number of samples", "20", "19"):
        list(data.batches(x, t[:19], 4))


def test_targets_for_regression_losses_must_match_predictions():
    with raises(ShapeError, "sse", "(2, 3)", "(2, 4)"):
        losses.sse().forward(np.zeros((2, 3)), np.zeros((2, 4)))
    with raises(DTypeError, "mse targets", "int64"):
        losses.mse().forward(np.zeros((2, 3)), np.zeros((2, 3), np.int64))


# --- states that do not belong together ------------------------------------------------------

def test_params_of_another_model_are_refused(mlp_setup):
    model, ts, step = mlp_setup
    other = fnn.init_train_state(fnn.sequential(layers.dense(6), layers.relu(), layers.dense(3)),
                                 optim.momentum(0.1), random.key(0), (5,))
    with raises(ShapeError, "layer 0 of sequential, dense(8)", "(*, 8)", "(5, 6)"):
        step(other, *small_problem())
    shorter = fnn.init_train_state(fnn.sequential(layers.dense(8), layers.relu()),
                                   optim.momentum(0.1), random.key(0), (5,))
    with raises(TreeError, "tuple of 3", "length 2"):
        step(shorter, *small_problem())
    with raises(TreeError, "dense(8)", "DenseParams", "ConvParams"):
        model.forward((fnn.layers.ConvParams(np.zeros((1, 1, 1, 1), np.float32)), None, None),
                      ts.state, np.zeros((1, 5), np.float32))


def test_an_optimizer_state_for_another_tree_is_refused(mlp_setup):
    _model, ts, step = mlp_setup
    wrong = optim.momentum(0.1).init((*ts.params[:1], None, None))
    with raises(TreeError, "momentum", "state made by init", "[2]"):
        step(attrs.evolve(ts, opt_state=wrong), *small_problem())


# --- non-finite values: raise, naming the step, and keep the old state --------------------------

@pytest.mark.filterwarnings("ignore:invalid value encountered")
def test_nan_inputs_raise_with_the_step_number_and_the_state_is_kept(mlp_setup):
    _, ts, step = mlp_setup
    ts, _ = step(ts, *small_problem())
    x, t = small_problem()
    x[3, 2] = np.inf
    snapshot = fnn.checkpoint.digest(ts)
    with raises(NonFiniteError, "train step 1", "loss is nan"):
        step(ts, x, t)
    assert fnn.checkpoint.digest(ts) == snapshot


def test_nan_one_hot_targets_raise(mlp_setup):
    _, ts, step = mlp_setup
    x, t = small_problem()
    targets = data.one_hot(t, 3)
    targets[0, 0] = np.nan
    with raises(NonFiniteError, "train step 0", "nan"):
        step(ts, x, targets)


@pytest.mark.filterwarnings("ignore:invalid value encountered")
def test_non_finite_gradients_with_a_finite_loss_raise_naming_the_leaf():
    # sigmoid(inf) = 1 is finite, so the loss is finite, but dense(2)'s weight gradient
    # xᵀ·dy meets the infinity (inf · 0 = nan).
    model = fnn.sequential(layers.dense(2), layers.sigmoid(), layers.dense(2))
    opt = optim.sgd(0.1)
    ts = fnn.init_train_state(model, opt, random.key(0), (2,))
    step = fnn.make_train_step(model, losses.mse(), opt)
    x = np.array([[np.inf, 0.0]], np.float32)
    big = fnn.layers.DenseParams(np.array([[1.0, 1.0], [0.0, 0.0]], np.float32),
                                 np.zeros(2, np.float32))
    ts = attrs.evolve(ts, params=(big, *ts.params[1:]))
    with raises(NonFiniteError, "train step 0", "gradient at [0].w"):
        step(ts, x, np.zeros((1, 2), np.float32))
    unchecked = fnn.make_train_step(model, losses.mse(), opt, check_finite=False)
    poisoned, _ = unchecked(ts, x, np.zeros((1, 2), np.float32))
    assert not np.isfinite(poisoned.params[0].w).all()


def test_non_finite_loss_in_fit_keeps_the_state(mlp_setup):
    _, ts, step = mlp_setup
    x, t = small_problem()
    x[-1] = np.nan
    snapshot = fnn.checkpoint.digest(ts)
    with raises(NonFiniteError, "train step"):
        fnn.fit(step, ts, x, t, epochs=1, batch_size=20, key=random.key(0), progress=False)
    assert fnn.checkpoint.digest(ts) == snapshot


# --- files ----------------------------------------------------------------------------------

def test_file_errors_name_the_file(tmp_path):
    bad = tmp_path / "bad.idx"
    bad.write_bytes(b"\x00\x00\x08\x01\x00\x00\x00\x05abc")
    with raises(DataError, str(bad), "needs 5 bytes, got 3"):
        data.read_idx(bad)
    not_zip = tmp_path / "ckpt.npz"
    not_zip.write_bytes(b"hello")
    with raises(DataError, str(not_zip), "not a zip"):
        fnn.checkpoint.load(not_zip, like=(np.zeros(1),))


# --- numpy-scalar settings, trees that almost match, and other edges --------------------------

def test_numpy_scalar_settings_keep_float32():
    model = fnn.sequential(layers.dense(4), layers.leaky_relu(np.float64(0.1)),
                           layers.batch_norm(momentum=np.float64(0.9), eps=np.float64(1e-5)),
                           layers.dropout(np.float64(0.25)), layers.dense(3))
    opt = optim.momentum(np.float64(0.1), np.float64(0.9))
    ts = fnn.init_train_state(model, opt, random.key(0), (5,))
    step = fnn.make_train_step(model, losses.softmax_cross_entropy(), opt)
    ts, _ = step(ts, *small_problem())
    assert {leaf.dtype for leaf in fnn.tree.leaves((ts.params, ts.state, ts.opt_state[1].trace))} \
        == {np.dtype(np.float32)}


def test_updates_must_keep_the_params_dtype_and_shape():
    params = {"w": np.ones(3, np.float32)}
    with raises(DTypeError, "apply_updates", "float64 update", "float32 parameter"):
        optim.apply_updates(params, {"w": np.ones(3)})
    with raises(ShapeError, "apply_updates", "(3,)", "(2, 3)"):
        optim.apply_updates(params, {"w": np.ones((2, 3), np.float32)})
    with raises(TreeError, "apply_updates", "leaf", "list"):
        optim.apply_updates(params, {"w": [np.ones(3, np.float32)] * 2})
    with raises(ShapeError, "momentum", "(4, 3)", "(3,)"):
        optim.momentum().update(np.ones((4, 3)), optim.momentum().init(np.ones(3)))


def test_a_state_of_another_optimizer_is_refused():
    params = np.ones(3)
    with raises(TreeError, "adam", "ScaleByAdamState", "EmptyState"):
        optim.adam().update(params, optim.momentum().init(params), params)
    with raises(TreeError, "sgd", "state tuple of 1", "NoneType"):
        optim.sgd().update(params, None, params)


def test_clipping_survives_float32_overflow_of_the_squared_norm():
    grads = (np.full(4, 3e19, np.float32),)
    assert optim.regularize.global_norm(grads) == pytest.approx(6e19)
    clip = optim.clip_by_global_norm(1.0)
    np.testing.assert_allclose(clip.update(grads, clip.init(grads))[0][0], 0.5, rtol=1e-6)


def test_sequential_backward_refuses_a_dy_of_another_shape_and_foreign_params(rng):
    model = fnn.sequential(layers.dense(4), layers.relu(), layers.dense(3))
    params, state, _ = model.init(random.key(0), (5,))
    _, _, cache = model.forward(params, state, np.zeros((2, 5), np.float32))
    for dy in (np.ones((1, 3), np.float32), np.ones(3, np.float32)):
        with raises(ShapeError, "sequential", "(2, 3)", str(dy.shape)):
            model.backward(params, cache, dy)
    with raises(TreeError, "tuple of 3", "length 2"):
        model.backward(params[:2], cache, np.ones((2, 3), np.float32))


def test_batch_norm_refuses_one_value_per_feature_and_stats_of_another_size():
    layer = layers.batch_norm()
    params, state, _ = layer.init(random.key(0), (3,))
    with raises(DataError, "batch_norm", "more than one value per feature", "(1, 3)"):
        layer.forward(params, state, np.ones((1, 3), np.float32), train=True)
    layer.forward(params, state, np.ones((1, 3), np.float32))  # evaluation needs no batch
    bad = fnn.layers.BatchNormState(np.zeros(5, np.float32), np.ones(5, np.float32))
    with raises(ShapeError, "batch_norm", "(3,)", "(5,)"):
        layer.forward(params, bad, np.ones((2, 3), np.float32))


def test_accuracy_refuses_targets_it_would_misread():
    y = np.array([[0.0, 1.0], [0.0, 1.0], [1.0, 0.0]])
    with raises(ShapeError, "accuracy", "(3, 2)", "(3, 1)"):
        fnn.metrics.accuracy(y, np.array([[1], [1], [0]]))
    with raises(ShapeError, "accuracy", "(3,)", "float64"):
        fnn.metrics.accuracy(y, np.array([1.0, 1.0, 0.0]))


def test_fit_refuses_settings_that_would_train_nothing(mlp_setup):
    _, ts, step = mlp_setup
    x, t = small_problem(n=10)
    with raises(ConfigError, "drop_last", "batch_size 20", "10 samples"):
        fnn.fit(step, ts, x, t, epochs=1, batch_size=20, key=random.key(0), drop_last=True)
    with raises(ConfigError, "initial_epoch", "(2)", "5"):
        fnn.fit(step, ts, x, t, epochs=2, initial_epoch=5, batch_size=5, key=random.key(0))
    with raises(ConfigError, "validation must be a pair", "ndarray"):
        fnn.fit(step, ts, x, t, epochs=1, batch_size=5, key=random.key(0), validation=x)


def test_evaluate_reports_no_accuracy_for_regression_targets(mlp_setup):
    model, ts, _ = mlp_setup
    x, t = small_problem(n=10)
    regression = fnn.evaluate(model, losses.mse(), ts, x, np.zeros((10, 3), np.float32))
    assert np.isnan(regression.accuracy)
    one_hot = fnn.evaluate(model, losses.softmax_cross_entropy(), ts, x, data.one_hot(t, 3))
    assert one_hot.accuracy == fnn.evaluate(model, losses.softmax_cross_entropy(), ts, x,
                                            t).accuracy


def test_init_train_state_refuses_non_float_dtypes():
    for dtype in (np.float16, np.int32):
        with raises(DTypeError, "float32 or float64", np.dtype(dtype).name):
            fnn.init_train_state(mlp(), optim.sgd(0.1), random.key(0), (5,), dtype)


def test_mixed_key_dicts_and_byte_orders(tmp_path):
    mixed = {1: np.ones(1), "a": np.zeros(2)}
    assert [path for path, _ in fnn.tree.leaves_with_paths(mixed)] == ["[1]", "['a']"]
    fnn.checkpoint.save(tmp_path / "mixed.npz", mixed)
    big_endian = np.arange(3, dtype=">f8")
    assert fnn.checkpoint.digest(big_endian) == fnn.checkpoint.digest(np.arange(3.0))


def test_the_mnist_record_is_read_only(mnist):
    from tests.conftest import MNIST_DIR

    images, labels = data.load_mnist(MNIST_DIR).test
    assert not images.flags.writeable and not labels.flags.writeable


def test_bad_counts_and_shapes_for_keys_and_init():
    with raises(ConfigError, "split", "num", "2.0"):
        random.split(random.key(0), 2.0)
    with raises(ConfigError, "permutation", "n", "-1"):
        random.permutation(random.key(0), -1)
    with raises(ConfigError, "in_shape must be a tuple", "5"):
        fnn.init_train_state(mlp(), optim.sgd(0.1), random.key(0), 5)
    with raises(ConfigError, "in_shape", "0"):
        fnn.init_train_state(mlp(), optim.sgd(0.1), random.key(0), (0,))
