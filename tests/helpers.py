"""Models and states shared by several test modules."""

import numpy as np

import fnn
from fnn import layers


def small_mlp():
    return fnn.sequential(layers.dense(8), layers.leaky_relu(0.1), layers.dense(3))


def small_problem(seed=0, n=20, features=5, classes=3):
    rng = np.random.default_rng(seed)
    return (rng.normal(size=(n, features)).astype(np.float32),
            rng.integers(0, classes, size=n))


def all_arrays(tree):
    return [leaf for leaf in fnn.tree.leaves(tree) if isinstance(leaf, np.ndarray)]
