import numpy as np
import pytest

from fnn import data, metrics
from fnn.errors import ShapeError


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
