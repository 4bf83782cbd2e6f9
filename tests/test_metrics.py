import numpy as np
import pytest

from fnn import data, metrics
from fnn.errors import ConfigError, DataError, ShapeError


def test_accuracy_with_labels_and_one_hot():
    y = np.array([[0.1, 0.9], [0.8, 0.2], [0.3, 0.7], [0.6, 0.4]])
    labels = np.array([1, 0, 0, 0])
    assert metrics.accuracy(y, labels) == 0.75
    assert metrics.accuracy(y, data.one_hot(labels, 2)) == 0.75


def test_accuracy_refuses_mismatched_shapes():
    with pytest.raises(ShapeError):
        metrics.accuracy(np.zeros((3, 2)), np.zeros(4, int))
    with pytest.raises(ShapeError):
        metrics.accuracy(np.zeros(3), np.zeros(3, int))


def test_accuracy_refuses_one_column_and_points_to_binary_accuracy():
    # One logit per sample: argmax is always 0, so accuracy would be the share of label 0.
    y = np.array([[2.0], [-2.0]], np.float32)
    with pytest.raises(ShapeError, match=r"single column.*binary_accuracy"):
        metrics.accuracy(y, np.array([1, 0]))
    with pytest.raises(ShapeError, match="binary_accuracy"):
        metrics.accuracy(y, np.array([[1.0], [0.0]], np.float32))


def test_binary_accuracy_on_logits_and_probabilities():
    logits = np.array([[2.0], [-2.0], [0.5], [-0.1], [0.0]], np.float32)
    t = np.array([1, 0, 0, 0, 1])  # right, right, wrong, right, wrong (0 is not > 0)
    assert metrics.binary_accuracy(logits, t) == 0.6
    assert metrics.binary_accuracy(logits, t[:, None].astype(np.float32)) == 0.6
    probabilities = 1 / (1 + np.exp(-logits))
    assert metrics.binary_accuracy(probabilities, t, threshold=0.5) == 0.6
    # several independent outputs per sample: the mean over every element
    assert metrics.binary_accuracy(np.array([[1.0, -1.0], [1.0, 1.0]]),
                                   np.array([[1, 1], [1, 1]])) == 0.75


def test_binary_accuracy_refuses_bad_targets():
    with pytest.raises(DataError, match="0 or 1"):
        metrics.binary_accuracy(np.zeros((2, 1)), np.array([0.3, 1.0]))
    with pytest.raises(ShapeError, match=r"\(2, 1\) or \(batch,\)"):
        metrics.binary_accuracy(np.zeros((2, 1)), np.zeros(3))
    with pytest.raises(ShapeError):
        metrics.binary_accuracy(np.zeros((2, 2)), np.zeros(2))


def test_top_k_accuracy_by_hand():
    y = np.array([[0.1, 0.5, 0.3, 0.1],    # label 2 is second: a top-2 hit, a top-1 miss
                  [0.7, 0.1, 0.1, 0.1],    # label 0 is first
                  [0.4, 0.3, 0.2, 0.1]])   # label 3 is last
    labels = np.array([2, 0, 3])
    assert metrics.top_k_accuracy(y, labels, k=1) == metrics.accuracy(y, labels) == 1 / 3
    assert metrics.top_k_accuracy(y, labels, k=2) == 2 / 3
    assert metrics.top_k_accuracy(y, data.one_hot(labels, 4), k=4) == 1.0
    with pytest.raises(ConfigError, match="at most the number of classes"):
        metrics.top_k_accuracy(y, labels, k=5)


def test_top_k_accuracy_agrees_with_sklearn():
    sklearn_metrics = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(0)
    y, labels = rng.normal(size=(50, 6)), rng.integers(0, 6, 50)
    for k in (1, 3, 5):
        expected = sklearn_metrics.top_k_accuracy_score(labels, y, k=k, labels=np.arange(6))
        assert metrics.top_k_accuracy(y, labels, k=k) == pytest.approx(expected)


def test_regression_metrics_by_hand():
    y = np.array([[1.0], [2.0], [4.0]], np.float32)
    t = np.array([[1.5], [2.0], [2.5]], np.float32)
    assert metrics.mean_absolute_error(y, t) == pytest.approx((0.5 + 0 + 1.5) / 3)
    # mean t = 2, Σ(t − mean)² = 0.25 + 0 + 0.25, Σ(t − y)² = 0.25 + 0 + 2.25
    assert metrics.r2_score(y, t) == pytest.approx(1 - 2.5 / 0.5)
    assert metrics.r2_score(t, t) == 1.0
    with pytest.raises(ShapeError, match="one shape"):
        metrics.mean_absolute_error(y, t[:, 0])


def test_r2_score_agrees_with_sklearn_on_several_outputs():
    sklearn_metrics = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(1)
    t = rng.normal(size=(40, 3))
    t[:, 2] = 1.0  # a constant column: 0.0 unless predicted exactly, as sklearn
    y = t + rng.normal(scale=0.5, size=t.shape)
    assert metrics.r2_score(y, t) == pytest.approx(sklearn_metrics.r2_score(t, y))
    assert metrics.mean_absolute_error(y, t) == pytest.approx(
        sklearn_metrics.mean_absolute_error(t, y))
