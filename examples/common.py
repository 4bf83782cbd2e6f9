"""What the example scripts share: their command line and the MNIST images they read."""

import argparse
import sys
from pathlib import Path

import numpy as np

import fnn

DEFAULT_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "mnist"
# The agreed split of the MNIST test set: train on the first 8,000 images, test on the rest.
MNIST_FILES = ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")
TRAIN_IMAGES = 8000


def parser(doc: str, *, data: bool = False) -> argparse.ArgumentParser:
    """A parser whose --help shows the script's whole docstring; with ``data``, a --data option."""
    p = argparse.ArgumentParser(description=doc,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    if data:
        p.add_argument("--data", type=Path, default=DEFAULT_DATA,
                       help=f"a directory holding {' and '.join(MNIST_FILES)} (or the "
                            f"uncompressed files); default: {DEFAULT_DATA}")
    return p


def mnist_test_files(directory: Path) -> tuple[np.ndarray, np.ndarray]:
    """The MNIST test set as uint8 images (n, 28, 28) and labels; exits with a message naming
    the files to put in ``directory`` when they are not there."""
    directory = Path(directory)
    if not any(directory.glob("t10k-*")):  # damaged files raise fnn's DataError instead
        problem = "holds no MNIST test set" if directory.is_dir() else "does not exist"
        sys.exit(f"{Path(sys.argv[0]).name}: {directory} {problem}.\n"
                 f"The examples read {' and '.join(MNIST_FILES)} (gzip or raw, never "
                 f"downloaded): put them there or pass --data DIR.")
    return fnn.data.load_mnist(directory).test


def mnist_test_set(directory: Path) -> tuple[np.ndarray, np.ndarray]:
    """``mnist_test_files`` as (n, 1, 28, 28) float32 images in [0, 1] and int64 labels."""
    images, labels = mnist_test_files(directory)
    return fnn.data.scale_pixels(images).reshape(-1, 1, 28, 28), labels.astype(np.int64)
