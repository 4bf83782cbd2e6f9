import os
from pathlib import Path

import numpy as np
import pytest

import fnn

MNIST_DIR = Path(os.environ.get("FNN_MNIST_DIR",
                                Path(__file__).resolve().parents[1].parent / "shared/data/mnist"))


@pytest.fixture(scope="session")
def mnist():
    """The shared MNIST test set as (float32 images (n, 784), int64 labels); skips when absent."""
    if not (MNIST_DIR / "t10k-images-idx3-ubyte.gz").exists():
        pytest.skip(f"MNIST data not found in {MNIST_DIR} (set FNN_MNIST_DIR)")
    images, labels = fnn.data.load_mnist(MNIST_DIR).test
    return fnn.data.scale_pixels(images).reshape(len(images), -1), labels.astype(np.int64)


@pytest.fixture
def rng():
    """A seeded generator for test inputs (never numpy's global one)."""
    return np.random.default_rng(1234)
