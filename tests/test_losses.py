import numpy as np
import pytest

from fnn import data, losses
from fnn.errors import DataError, DTypeError, ShapeError
from fnn.testing import assert_loss_gradient


@pytest.fixture
def logits(rng):
    return rng.normal(size=(5, 4))


def test_sse_value_and_gradient_are_the_books(rng):
    y, t = np.array([[0.1, 0.7, 0.2]]), np.array([[0.0, 1.0, 0.0]])
    value, cache = losses.sse().forward(y, t)
    assert value == pytest.approx(0.5 * (0.01 + 0.09 + 0.04))
    np.testing.assert_allclose(losses.sse().backward(cache), y - t)
    assert_loss_gradient(losses.sse(), rng.normal(size=(4, 3)), rng.normal(size=(4, 3)))


def test_mse(rng):
    y, t = np.array([[1.0, 2.0], [3.0, 4.0]]), np.array([[0.0, 2.0], [5.0, 4.0]])
    assert losses.mse().forward(y, t)[0] == pytest.approx((1 + 0 + 4 + 0) / 4)
    assert_loss_gradient(losses.mse(), rng.normal(size=(4, 3)), rng.normal(size=(4, 3)))


def test_softmax_cross_entropy_on_labels_and_one_hot(logits, rng):
    labels = np.array([0, 3, 1, 1, 2])
    loss = losses.softmax_cross_entropy()
    log_p = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    expected = -log_p[np.arange(5), labels].mean()
    assert loss.forward(logits, labels)[0] == pytest.approx(expected, rel=1e-12)
    assert loss.forward(logits, data.one_hot(labels, 4, np.float64))[0] == pytest.approx(expected)
    assert_loss_gradient(loss, logits, labels)
    assert_loss_gradient(loss, logits, data.one_hot(labels, 4, np.float64))
    soft = rng.dirichlet(np.ones(4), size=5)
    assert_loss_gradient(loss, logits, soft)


def test_softmax_cross_entropy_gradient_is_y_minus_t_over_batch(logits):
    labels = np.array([0, 3, 1, 1, 2])
    loss = losses.softmax_cross_entropy()
    dy = loss.backward(loss.forward(logits, labels)[1])
    p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(dy, (p - data.one_hot(labels, 4, np.float64)) / 5)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_softmax_cross_entropy_is_exact_for_huge_logits(dtype):
    y = np.array([[1000.0, -1000.0, 0.0], [-1000.0, 1000.0, 999.0]], dtype=dtype)
    loss = losses.softmax_cross_entropy()
    value, cache = loss.forward(y, np.array([1, 2]))
    # Row 0: label logit −1000 against max 1000 → 2000; row 1: 1 + log(1 + e^−1).
    assert value == pytest.approx((2000 + 1 + np.log1p(np.exp(-1))) / 2, rel=1e-6)
    dy = loss.backward(cache)
    assert np.isfinite(dy).all() and dy.dtype == dtype


def test_sigmoid_binary_cross_entropy(rng):
    y, t = rng.normal(size=(4, 3)), rng.uniform(size=(4, 3))
    s = 1 / (1 + np.exp(-y))
    expected = -(t * np.log(s) + (1 - t) * np.log(1 - s)).mean()
    loss = losses.sigmoid_binary_cross_entropy()
    assert loss.forward(y, t)[0] == pytest.approx(expected, rel=1e-12)
    assert_loss_gradient(loss, y, t)
    big = np.array([[1000.0, -1000.0]])
    assert loss.forward(big, np.array([[0.0, 1.0]]))[0] == pytest.approx(1000.0)


@pytest.mark.parametrize("loss", [losses.sse(), losses.mse(), losses.l1(), losses.huber(),
                                  losses.softmax_cross_entropy(),
                                  losses.softmax_cross_entropy(label_smoothing=0.1),
                                  losses.sigmoid_binary_cross_entropy()], ids=lambda loss: loss.name)
def test_float32_stays_float32(loss):
    y = np.zeros((2, 3), np.float32)
    t = np.array([0, 2]) if loss.name == "softmax_cross_entropy" else np.ones((2, 3))
    assert loss.backward(loss.forward(y, t)[1]).dtype == np.float32


def test_bad_targets_are_refused_clearly(logits):
    loss = losses.softmax_cross_entropy()
    with pytest.raises(DataError, match=r"labels must lie in \[0, 4\), got 4"):
        loss.forward(logits, np.array([0, 1, 2, 3, 4]))
    with pytest.raises(DataError, match="got -1"):
        loss.forward(logits, np.array([0, 1, 2, 3, -1]))
    with pytest.raises(ShapeError, match=r"shape \(5,\).*got \(4,\)"):
        loss.forward(logits, np.array([0, 1, 2, 3]))
    with pytest.raises(ShapeError, match=r"one-hot.*\(5, 4\), got \(5, 3\)"):
        loss.forward(logits, np.zeros((5, 3)))
    with pytest.raises(DTypeError, match="dtype <U1"):
        loss.forward(logits, np.array(list("abcde")))
    with pytest.raises(DataError, match=r"non-empty batch.*\(0, 4\)"):
        loss.forward(np.zeros((0, 4)), np.zeros(0, int))
    with pytest.raises(ShapeError, match=r"\(5, 4\).*\(5, 3\)"):
        losses.sse().forward(logits, np.zeros((5, 3)))


def test_float_labels_get_a_hint_and_integer_one_hot_rows_are_accepted(logits):
    loss = losses.softmax_cross_entropy()
    labels = np.array([0, 3, 1, 1, 2])
    with pytest.raises(DTypeError, match=r"labels must be integers, got dtype float64.*astype"):
        loss.forward(logits, labels.astype(np.float64))
    integer_rows = data.one_hot(labels, 4, dtype=np.int64)
    assert loss.forward(logits, integer_rows)[0] == loss.forward(logits, labels)[0]


def test_sse_backward_returns_a_fresh_array_each_time():
    loss = losses.sse()
    _, cache = loss.forward(np.array([[1.0, 2.0]]), np.zeros((1, 2)))
    dy = loss.backward(cache)
    dy /= 2
    np.testing.assert_array_equal(loss.backward(cache), [[1.0, 2.0]])


def test_empty_batches_are_data_errors():
    with pytest.raises(DataError, match=r"sse: expected a non-empty batch.*\(0, 3\)"):
        losses.sse().forward(np.zeros((0, 3)), np.zeros((0, 3)))


def test_l1_value_and_gradient(rng):
    y, t = np.array([[1.0, -2.0], [0.5, 3.0]]), np.array([[0.0, -2.5], [0.5, 1.0]])
    value, cache = losses.l1().forward(y, t)
    assert value == pytest.approx((1.0 + 0.5 + 0.0 + 2.0) / 4)
    np.testing.assert_array_equal(losses.l1().backward(cache), [[0.25, 0.25], [0.0, 0.25]])
    y = rng.normal(size=(4, 3))  # away from the kink at y = t
    assert_loss_gradient(losses.l1(), y, y + np.sign(rng.normal(size=(4, 3))) * 0.5)


def test_huber_value_and_gradient(rng):
    # PyTorch's HuberLoss(delta=1.0): ½d² inside |d| <= 1, |d| − ½ outside; mean of all
    d = np.array([[0.5, -2.0, 1.0, 3.0]])
    value, cache = losses.huber().forward(d, np.zeros_like(d))
    assert value == pytest.approx((0.125 + 1.5 + 0.5 + 2.5) / 4)
    np.testing.assert_allclose(losses.huber().backward(cache), [[0.125, -0.25, 0.25, 0.25]])
    value, _ = losses.huber(delta=2.0).forward(d, np.zeros_like(d))
    assert value == pytest.approx((0.125 + 2.0 + 0.5 + 2.0 * (3.0 - 1.0)) / 4)
    y = rng.normal(scale=2.0, size=(5, 3))
    t = y + np.where(rng.uniform(size=y.shape) < 0.5, 0.3, 2.5) * np.sign(rng.normal(size=y.shape))
    assert_loss_gradient(losses.huber(delta=1.0), y, t)  # both branches, away from |d| = delta
    with pytest.raises(ValueError, match="delta"):
        losses.huber(delta=0.0)


@pytest.mark.parametrize("eps", [0.1, 0.3])
def test_label_smoothing_is_pytorchs(logits, rng, eps):
    labels = np.array([0, 3, 1, 1, 2])
    loss = losses.softmax_cross_entropy(label_smoothing=eps)
    # PyTorch: targets (1 − ε)·one-hot + ε/K, then −Σ t·log softmax(y), mean over the batch
    smoothed = (1 - eps) * data.one_hot(labels, 4, np.float64) + eps / 4
    log_p = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    expected = -(smoothed * log_p).sum(axis=1).mean()
    assert loss.forward(logits, labels)[0] == pytest.approx(expected, rel=1e-12)
    assert loss.forward(logits, data.one_hot(labels, 4, np.float64))[0] == pytest.approx(
        expected, rel=1e-12)
    p = np.exp(log_p)
    np.testing.assert_allclose(loss.backward(loss.forward(logits, labels)[1]),
                               (p - smoothed) / 5, rtol=1e-12)
    assert_loss_gradient(loss, logits, labels)
    assert_loss_gradient(loss, logits, rng.dirichlet(np.ones(4), size=5))
    with pytest.raises(ValueError, match="label_smoothing"):
        losses.softmax_cross_entropy(label_smoothing=1.0)


@pytest.mark.parametrize("loss", [losses.mse(), losses.sigmoid_binary_cross_entropy(), losses.l1()],
                         ids=lambda loss: loss.name)
def test_labels_for_one_output_are_refused_with_the_fix(loss):
    y = np.zeros((3, 1), np.float32)
    fix = r"t\[:, None\]\.astype\(np\.float32\)"
    with pytest.raises(ShapeError, match=fix):
        loss.forward(y, np.array([1, 0, 1]))
    with pytest.raises(ShapeError, match=fix):
        loss.forward(y, np.array([1.0, 0.0, 1.0], np.float32))
    with pytest.raises(DTypeError, match=r"got dtype int64; use t\.astype\(np\.float32\)"):
        loss.forward(y, np.array([[1], [0], [1]]))
