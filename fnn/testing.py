"""Helpers for testing code built on fnn (and fnn itself)."""

from __future__ import annotations

from typing import Any

import numpy as np

from fnn import gradcheck, tree
from fnn.core import Layer, Loss

__all__ = ["assert_trees_equal", "assert_layer_gradients", "assert_loss_gradient"]


def assert_trees_equal(actual: Any, expected: Any) -> None:
    """Same structure, and every leaf equal to the bit (same dtype and shape too)."""
    tree.map(lambda a, b: a, actual, expected)  # raises TreeError where the structures differ
    for (path, a), b in zip(tree.leaves_with_paths(actual), tree.leaves(expected)):
        a_arr, b_arr = np.asarray(a), np.asarray(b)
        assert a_arr.dtype == b_arr.dtype and a_arr.shape == b_arr.shape, \
            f"{path}: {a_arr.dtype}{a_arr.shape} != {b_arr.dtype}{b_arr.shape}"
        assert a_arr.tobytes() == b_arr.tobytes(), f"{path}: {a_arr} != {b_arr}"


def assert_layer_gradients(layer: Layer, x: np.ndarray, *, tol: float = 1e-6, **kwargs: Any) -> None:
    """Every relative error of ``gradcheck.layer_errors`` (same keywords) is below ``tol``."""
    errors = gradcheck.layer_errors(layer, np.asarray(x, dtype=np.float64), **kwargs)
    bad = {path: err for path, err in errors.items() if not err < tol}
    assert not bad, f"{layer.name}: gradient errors above {tol}: {bad} (all: {errors})"


def assert_loss_gradient(loss: Loss, y: np.ndarray, t: np.ndarray, *, tol: float = 1e-6) -> None:
    """``loss.backward`` matches central differences to ``tol`` (relative)."""
    error = gradcheck.loss_error(loss, np.asarray(y, dtype=np.float64), t)
    assert error < tol, f"{loss.name}: gradient error {error} above {tol}"
