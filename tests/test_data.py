import numpy as np
import pytest

from fnn import data, random
from fnn.errors import DataError, DTypeError, ShapeError


def collect(*args, **kwargs):
    return list(data.batches(*args, **kwargs))


def test_batches_in_order_without_a_key():
    x, t = np.arange(10).reshape(10, 1), np.arange(10)
    out = collect(x, t, 4)
    assert [len(b) for b, _ in out] == [4, 4, 2]
    np.testing.assert_array_equal(np.concatenate([b for _, b in out]), t)
    assert [len(b) for b, _ in collect(x, t, 4, drop_last=True)] == [4, 4]


def test_shuffled_batches_cover_every_sample_once_and_depend_only_on_the_key():
    x, t = np.arange(50) * 10, np.arange(50)
    out = collect(x, t, 8, key=random.key(1))
    seen = np.concatenate([b for _, b in out])
    assert sorted(seen) == list(range(50)) and list(seen) != list(range(50))
    assert all(np.array_equal(xb, tb * 10) for xb, tb in out)
    again = np.concatenate([b for _, b in collect(x, t, 8, key=random.key(1))])
    other = np.concatenate([b for _, b in collect(x, t, 8, key=random.key(2))])
    np.testing.assert_array_equal(seen, again)
    assert not np.array_equal(seen, other)


def test_batches_refuse_bad_arguments():
    with pytest.raises(ValueError, match="positive integer"):
        collect(np.zeros(3), np.zeros(3), 0)
    with pytest.raises(ShapeError, match="3 and 2"):
        collect(np.zeros(3), np.zeros(2), 1)


def test_one_hot():
    np.testing.assert_array_equal(data.one_hot(np.array([2, 0]), 3), [[0, 0, 1], [1, 0, 0]])
    assert data.one_hot(np.array([1]), 2).dtype == np.float32
    with pytest.raises(DataError, match=r"\[0, 3\), got 3"):
        data.one_hot(np.array([3]), 3)
    with pytest.raises(DTypeError):
        data.one_hot(np.array([1.0]), 3)


def test_scale_pixels():
    x = data.scale_pixels(np.array([0, 51, 255], np.uint8))
    assert x.dtype == np.float32
    np.testing.assert_allclose(x, [0, 0.2, 1])
