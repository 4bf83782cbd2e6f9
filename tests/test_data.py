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
    with pytest.raises(ValueError, match="batch_size must be an integer >= 1, got 0"):
        collect(np.zeros(3), np.zeros(3), 0)
    with pytest.raises(ShapeError, match=r"batches.*\(3,\).*\(2,\)"):
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


def test_split_is_seeded_disjoint_and_complete():
    x, t = np.arange(20) * 2, np.arange(20)
    (xa, ta), (_xv, tv) = data.split(x, t, val_fraction=0.25, key=random.key(0))
    assert len(tv) == 5 and len(ta) == 15
    assert sorted(np.concatenate([ta, tv])) == list(range(20))
    np.testing.assert_array_equal(xa, ta * 2)
    (_, again), _ = data.split(x, t, val_fraction=0.25, key=random.key(0))
    (_, other), _ = data.split(x, t, val_fraction=0.25, key=random.key(1))
    np.testing.assert_array_equal(again, ta)
    assert not np.array_equal(other, ta)
    with pytest.raises(ValueError, match="both parts non-empty"):
        data.split(x, t, val_fraction=0.01, key=random.key(0))


# --- IDX files -------------------------------------------------------------

def idx_bytes(array, code):
    """An IDX file's bytes, written by hand from the format's definition."""
    header = bytes([0, 0, code, array.ndim]) + b"".join(
        int(d).to_bytes(4, "big") for d in array.shape)
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


@pytest.mark.parametrize("array, code", [
    (np.arange(7, dtype=np.uint8), 0x08),
    (np.arange(-3, 3, dtype=np.int8).reshape(2, 3), 0x09),
    (np.arange(24, dtype=np.int16).reshape(2, 3, 4) - 500, 0x0B),
    (np.arange(6, dtype=np.int32).reshape(3, 2) * 100_000, 0x0C),
    (np.linspace(-1, 1, 8, dtype=np.float32).reshape(2, 2, 2), 0x0D),
    (np.linspace(-1, 1, 5, dtype=np.float64), 0x0E),
])
@pytest.mark.parametrize("compress", [False, True])
def test_read_idx_round_trips_every_type_raw_and_gzipped(tmp_path, array, code, compress):
    import gzip

    content = idx_bytes(array, code)
    path = tmp_path / "plain-name-no-gz-suffix"
    path.write_bytes(gzip.compress(content) if compress else content)
    out = data.read_idx(path)
    assert out.dtype == array.dtype.newbyteorder("=") and out.shape == array.shape
    np.testing.assert_array_equal(out, array)


@pytest.mark.parametrize("mangle, message", [
    (lambda b: b"\x01" + b[1:], "not an IDX file"),
    (lambda b: b[:2] + b"\x07" + b[3:], "unknown IDX type code 0x07"),
    (lambda b: b[:-1], r"truncated body: shape \(2, 3\) of uint8 needs 6 bytes, got 5"),
    (lambda b: b + b"\x00", "oversized body.*got 7"),
    (lambda b: b[:6], "truncated header"),
    (lambda b: b"", "empty file"),
])
def test_read_idx_refuses_corrupt_files_naming_them(tmp_path, mangle, message):
    path = tmp_path / "bad.idx"
    path.write_bytes(mangle(idx_bytes(np.zeros((2, 3), np.uint8), 0x08)))
    with pytest.raises(DataError, match=message) as info:
        data.read_idx(path)
    assert str(path) in str(info.value)


def test_read_idx_refuses_bad_gzip(tmp_path):
    import gzip

    path = tmp_path / "bad.gz"
    path.write_bytes(gzip.compress(idx_bytes(np.zeros(100, np.uint8), 0x08))[:-10])
    with pytest.raises(DataError, match="corrupt gzip") as info:
        data.read_idx(path)
    assert str(path) in str(info.value)


def test_read_idx_missing_file(tmp_path):
    with pytest.raises(DataError, match="no such file"):
        data.read_idx(tmp_path / "nothing")


def test_real_mnist_files(mnist):
    from tests.conftest import MNIST_DIR

    images = data.read_idx(MNIST_DIR / "t10k-images-idx3-ubyte.gz")
    labels = data.read_idx(MNIST_DIR / "t10k-labels-idx1-ubyte.gz")
    assert images.shape == (10000, 28, 28) and images.dtype == np.uint8
    assert labels.shape == (10000,) and labels.dtype == np.uint8
    # The published class counts of the MNIST test set.
    assert np.bincount(labels).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    found = data.load_mnist(MNIST_DIR)
    assert found.train is None
    np.testing.assert_array_equal(found.test[1], labels)


def test_load_mnist_says_which_files_to_put_where(tmp_path):
    with pytest.raises(DataError, match=r"t10k-images-idx3-ubyte.gz.*never downloads") as info:
        data.load_mnist(tmp_path)
    assert str(tmp_path) in str(info.value)
    (tmp_path / "train-images-idx3-ubyte").write_bytes(
        idx_bytes(np.zeros((2, 28, 28), np.uint8), 0x08))
    with pytest.raises(DataError, match=r"train-labels-idx1-ubyte.*missing"):
        data.load_mnist(tmp_path)
    (tmp_path / "train-labels-idx1-ubyte").write_bytes(idx_bytes(np.zeros(3, np.uint8), 0x08))
    with pytest.raises(DataError, match="do not fit together"):
        data.load_mnist(tmp_path)


def test_load_digits():
    pytest.importorskip("sklearn")
    x, t = data.load_digits()
    assert x.shape == (1797, 64) and x.dtype == np.float32 and x.min() >= 0 and x.max() <= 1
    assert t.dtype == np.int64 and sorted(set(t.tolist())) == list(range(10))


def test_load_digits_says_how_to_install_scikit_learn(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "sklearn", None)
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)
    with pytest.raises(ImportError, match=r"pip install -e '\.\[examples\]'"):
        data.load_digits()
