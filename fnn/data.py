"""Data: batching, one-hot targets, and IDX/MNIST files read without pickle."""

from __future__ import annotations

import gzip
import math
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import numpy as np
from numpy.typing import DTypeLike

from fnn import random
from fnn.bounded import DAMAGED, check_inflatable, read_into
from fnn.core import freeze
from fnn.errors import ConfigError, DataError, DTypeError, ShapeError
from fnn.scenes import Scenes, digit_scenes
from fnn.validators import check_labels, integer

__all__ = ["check_pairs", "batches", "split", "one_hot", "read_idx", "load_mnist", "Mnist", "scale_pixels",
           "load_digits", "Scenes", "digit_scenes"]


def check_pairs(where: str, x: Any, t: Any) -> int:
    """The number of samples, after checking that x and t hold the same number."""
    n = np.shape(x)[:1]
    if n != np.shape(t)[:1]:
        raise ShapeError(f"{where}: x and t must hold the same number of samples, got x of "
                         f"shape {np.shape(x)} and t of shape {np.shape(t)}")
    return n[0] if n else 0


def batches(x: np.ndarray, t: np.ndarray, batch_size: int, *, key: random.Key | None = None,
            drop_last: bool = False, shard: tuple[int, int] | None = None
            ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Yield ``(x_batch, t_batch)`` pairs covering every sample once.

    With ``key``, the order is ``random.permutation(key, len(x))``: it depends on
    the key alone. Without, batches are slices in order (views, no copies).
    The last, smaller batch is kept unless ``drop_last``.
    With ``shard=(rank, size)``, each batch is cut into ``size`` consecutive parts
    as ``np.array_split`` does (the first ``b % size`` one sample larger) and part
    ``rank`` is yielded: the processes of a data-parallel run, each with the same
    data and key, together cover each batch in order. A part may be empty.
    """
    batch_size = integer("batches", "batch_size", batch_size)
    n = check_pairs("batches", x, t)
    rank, size = _shard("batches", shard)
    stop = n - n % batch_size if drop_last else n
    order = random.permutation(key, n) if key is not None else None
    for start in range(0, stop, batch_size):
        b = min(batch_size, n - start)
        lo = start + rank * (b // size) + min(rank, b % size)
        hi = lo + b // size + (rank < b % size)
        if order is None:
            yield x[lo:hi], t[lo:hi]
        else:
            index = order[lo:hi]
            yield x[index], t[index]


def _shard(where: str, shard: Any) -> tuple[int, int]:
    """``(rank, size)`` checked; ``(0, 1)`` for None."""
    if shard is None:
        return 0, 1
    if not isinstance(shard, tuple) or len(shard) != 2:
        raise ConfigError(f"{where}: shard must be a pair (rank, size), got {shard!r}")
    size = integer(where, "shard size", shard[1])
    rank = integer(where, "shard rank", shard[0], 0)
    if rank >= size:
        raise ConfigError(f"{where}: shard rank must be below the size {size}, got {rank}")
    return rank, size


def split(x: np.ndarray, t: np.ndarray, *, val_fraction: float, key: random.Key
          ) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """A seeded train/validation split of a data set: ``((x_train, t_train), (x_val, t_val))``.

    Not to be confused with ``fnn.random.split``, which derives new random keys from a key.

    ``round(val_fraction · n)`` samples, chosen by ``random.permutation(key, n)``,
    go to validation; both parts keep their samples in the original order.
    """
    n = check_pairs("split", x, t)
    n_val = round(val_fraction * n)
    if not 0.0 < val_fraction < 1.0 or not 0 < n_val < n:
        raise ConfigError(f"split: val_fraction must leave both parts non-empty, got "
                         f"{val_fraction} of {n} samples")
    order = random.permutation(key, n)
    val, train = np.sort(order[:n_val]), np.sort(order[n_val:])
    return (x[train], t[train]), (x[val], t[val])


def one_hot(labels: np.ndarray, num_classes: int, dtype: DTypeLike = np.float32) -> np.ndarray:
    """Rows of ``num_classes`` with a 1 at each label: (n,) ints → (n, num_classes)."""
    labels = np.asarray(labels)
    if labels.dtype.kind not in "iu":
        raise DTypeError(f"one_hot: labels must be integers, got dtype {labels.dtype}")
    check_labels("one_hot", labels, num_classes)
    out = np.zeros((*labels.shape, num_classes), dtype=dtype)
    np.put_along_axis(out, labels[..., None], 1, axis=-1)
    return out


# IDX type codes (http://yann.lecun.com/exdb/mnist/): data are big-endian.
_IDX_DTYPES: dict[int, np.dtype] = {0x08: np.dtype("u1"), 0x09: np.dtype("i1"), 0x0B: np.dtype(">i2"),
               0x0C: np.dtype(">i4"), 0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}
_GZIP_MAGIC = b"\x1f\x8b"


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read an IDX file, gzip-compressed or raw (told apart by content, not by name).

    Checks the magic number, the type code, the dimensions and that the body
    holds exactly the bytes they call for; anything else raises ``DataError``
    naming the file. The dimensions are checked against the file's size (for a
    gzip file, against the most its deflated bytes can hold) before the array is
    allocated, and the body is decompressed into it in chunks, stopping a byte
    past the declared size: reading never takes much more memory than the array
    returned. Returns the array in native byte order.
    """
    path = Path(path)
    try:
        with open(path, "rb") as f:
            return _read_idx_file(path, f)
    except FileNotFoundError:
        raise DataError(f"{path}: no such file") from None


def _read_idx_file(path: Path, f: Any) -> np.ndarray:
    size = os.fstat(f.fileno()).st_size
    gzipped = f.read(2) == _GZIP_MAGIC
    f.seek(0)
    stream = gzip.GzipFile(fileobj=f, mode="rb") if gzipped else f
    try:
        return _read_idx_stream(path, stream, size, gzipped)
    except DAMAGED as exc:
        if isinstance(exc, DataError) or not gzipped:
            raise
        raise DataError(f"{path}: corrupt gzip data ({exc})") from exc


def _read_idx_stream(path: Path, stream: Any, size: int, gzipped: bool) -> np.ndarray:
    magic = stream.read(4)
    if len(magic) < 4 or magic[0] != 0 or magic[1] != 0:
        raise DataError(f"{path}: not an IDX file (expected magic bytes 00 00, "
                        f"got {magic[:2].hex(' ') or 'an empty file'})")
    code, ndim = magic[2], magic[3]
    if code not in _IDX_DTYPES:
        raise DataError(f"{path}: unknown IDX type code {code:#04x} "
                        f"(expected one of {', '.join(f'{c:#04x}' for c in _IDX_DTYPES)})")
    header = 4 + 4 * ndim
    dims = stream.read(4 * ndim)
    if len(dims) < 4 * ndim:
        raise DataError(f"{path}: truncated header: {ndim} dimensions need {header} bytes, "
                        f"the file has {4 + len(dims)}")
    shape = tuple(int(d) for d in np.frombuffer(dims, ">u4"))
    dtype = _IDX_DTYPES[code]
    if math.prod(d for d in shape if d) * dtype.itemsize > sys.maxsize:
        raise DataError(f"{path}: dimensions {shape} are larger than any array can be")
    expected = math.prod(shape) * dtype.itemsize
    needs = f"shape {shape} of {dtype.name} needs {expected} bytes"
    if gzipped:
        check_inflatable(str(path), header + expected, size)
    elif size - header != expected:
        raise DataError(f"{path}: {'truncated' if size - header < expected else 'oversized'} "
                        f"body: {needs}, got {size - header}")
    try:
        out = np.empty(shape, dtype)
    except MemoryError:
        raise DataError(f"{path}: no memory for the array: {needs}") from None
    got = read_into(stream, out)
    if got != expected:
        raise DataError(f"{path}: {'truncated' if got < expected else 'oversized'} body: "
                        f"{needs}, got {got if got < expected else 'more'}")
    # in place, so a multi-byte type costs no second array
    return out.byteswap(inplace=True).view(dtype.newbyteorder("=")) \
        if dtype.byteorder == ">" else out


@attrs.frozen
class Mnist:
    """MNIST as found in a directory: ``(images, labels)`` pairs, or None where absent.

    Images are uint8 of shape (n, 28, 28), labels uint8 of shape (n,).
    """

    train: tuple[np.ndarray, np.ndarray] | None = attrs.field(converter=freeze)
    test: tuple[np.ndarray, np.ndarray] | None = attrs.field(converter=freeze)


_MNIST_FILES = {"train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
                "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}


def _find(directory: Path, stem: str) -> Path | None:
    for name in (stem + ".gz", stem, stem.replace("-idx", ".idx")):
        if (directory / name).is_file():
            return directory / name
    return None


def load_mnist(directory: str | os.PathLike) -> Mnist:
    """Load the MNIST train and/or test files found in ``directory`` (gzip or raw).

    Never downloads: when neither pair is there, the error lists the files to put there.
    """
    directory = Path(directory)
    splits: dict[str, tuple[np.ndarray, np.ndarray] | None] = {}
    for split, (image_stem, label_stem) in _MNIST_FILES.items():
        image_path, label_path = _find(directory, image_stem), _find(directory, label_stem)
        if image_path is None and label_path is None:
            splits[split] = None
            continue
        if image_path is None or label_path is None:
            missing = image_stem if image_path is None else label_stem
            raise DataError(f"{directory}: found half of the MNIST {split} set; "
                            f"{missing}(.gz) is missing")
        images, labels = read_idx(image_path), read_idx(label_path)
        if images.ndim != 3 or images.dtype != np.uint8 or labels.ndim != 1 \
                or labels.dtype != np.uint8 or len(images) != len(labels):
            raise DataError(f"{directory}: MNIST {split} files do not fit together: images "
                            f"{images.dtype}{images.shape}, labels {labels.dtype}{labels.shape}")
        check_labels(str(label_path), labels, 10)
        splits[split] = (images, labels)
    if splits["train"] is None and splits["test"] is None:
        wanted = ", ".join(f"{stem}.gz" for pair in _MNIST_FILES.values() for stem in pair)
        raise DataError(f"{directory}: no MNIST files found; put {wanted} (or the "
                        f"uncompressed files) there. fnn never downloads data.")
    return Mnist(**splits)


def scale_pixels(images: np.ndarray, dtype: DTypeLike = np.float32) -> np.ndarray:
    """uint8 pixels 0..255 as floats in [0, 1]."""
    return (np.asarray(images, dtype=dtype) / np.asarray(255, dtype=dtype)).astype(dtype, copy=False)


def load_digits() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's bundled 8x8 digits (1,797 images, no download): float32 pixels in
    [0, 1] of shape (1797, 64) and int64 labels. Needs scikit-learn (the examples extra)."""
    try:
        from sklearn.datasets import load_digits as sklearn_digits
    except ImportError:
        raise ImportError("load_digits needs scikit-learn: pip install -e '.[examples]' "
                          "(or pip install scikit-learn)") from None
    digits = sklearn_digits()
    return (digits.data / 16.0).astype(np.float32), digits.target.astype(np.int64)
