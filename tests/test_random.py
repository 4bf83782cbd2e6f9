import subprocess
import sys

import numpy as np
import pytest

from fnn import random


def test_same_key_same_numbers():
    k = random.key(42)
    np.testing.assert_array_equal(random.normal(k, (3, 4)), random.normal(random.key(42), (3, 4)))
    np.testing.assert_array_equal(random.permutation(k, 10), random.permutation(k, 10))


def test_different_seeds_and_children_differ():
    a, b = random.split(random.key(0))
    assert a != b
    assert not np.array_equal(random.normal(a, 8), random.normal(b, 8))
    assert not np.array_equal(random.normal(random.key(0), 8), random.normal(random.key(1), 8))


def test_split_never_returns_its_input_nor_repeats_its_stream():
    k = random.key(7)
    children = random.split(k, 4)
    assert len(children) == 4 and k not in children
    assert len({c.data.tobytes() for c in children}) == 4
    # The children's words are not the parent's first samples.
    parent_words = np.random.Philox(key=k.data).random_raw(8)
    assert not set(np.concatenate([c.data for c in children])) & set(parent_words)


def test_global_numpy_generator_is_untouched():
    # The legacy global generator on purpose: fnn must neither read nor advance it.
    np.random.seed(0)  # noqa: NPY002
    expected = np.random.random_sample(3)  # noqa: NPY002
    np.random.seed(0)  # noqa: NPY002
    k = random.key(3)
    random.normal(k, 100), random.uniform(k, 5), random.bernoulli(k, 0.5, 5), random.split(k)
    np.testing.assert_array_equal(np.random.random_sample(3), expected)  # noqa: NPY002


def test_dtypes_and_ranges():
    k = random.key(1)
    assert random.normal(k, 5).dtype == np.float32
    assert random.normal(k, 5, np.float64).dtype == np.float64
    u = random.uniform(k, 1000, -2.0, 3.0, np.float64)
    assert u.min() >= -2.0 and u.max() < 3.0 and u.dtype == np.float64
    b = random.bernoulli(k, 0.3, 10000)
    assert b.dtype == bool and abs(b.mean() - 0.3) < 0.02
    assert sorted(random.permutation(k, 50)) == list(range(50))


def test_key_is_read_only_and_validated():
    k = random.key(5)
    with pytest.raises(ValueError):
        k.data[0] = 1
    with pytest.raises(ValueError, match="non-negative"):
        random.key(-1)
    with pytest.raises(TypeError, match="Key"):
        random.normal(5, (2,))
    with pytest.raises(ValueError, match="uint64"):
        random.Key(np.zeros(3))


def test_same_numbers_in_a_fresh_process():
    code = "from fnn import random; print(random.normal(random.split(random.key(9))[1], 4).tobytes().hex())"
    outputs = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                              check=True).stdout for _ in range(2)}
    assert outputs == {random.normal(random.split(random.key(9))[1], 4).tobytes().hex() + "\n"}


def test_split_is_prefix_consistent():
    k = random.key(11)
    assert random.split(k, 10)[:4] == random.split(k, 4)


def test_child_is_the_split_child_alone():
    k = random.key(12)
    assert [random.child(k, i) for i in range(5)] == list(random.split(k, 5))
    with pytest.raises(ValueError, match="index must be an integer >= 0, got -1"):
        random.child(k, -1)
    with pytest.raises(TypeError, match=r"fnn.random.Key"):
        random.child(12, 0)


def test_child_index_must_fit_the_key_derivation():
    with pytest.raises(ValueError, match="below 2\\*\\*64"):
        random.child(random.key(0), 2**64)
