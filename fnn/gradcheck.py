"""Numerical gradient checks by central differences, in float64.

Layers are checked on L = Σ y·g for a fixed random, non-uniform upstream
gradient g (an all-ones g hides errors, in batch norm for one), against the
input and every parameter leaf; losses against their predictions.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as np

from fnn import random, tree
from fnn.core import Layer, Loss
from fnn.errors import DTypeError, ShapeError

__all__ = ["numerical_grad", "relative_error", "layer_errors", "check_layer", "loss_error"]


def numerical_grad(f: Callable[[np.ndarray], float], x: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """(f(x + eps·eᵢ) − f(x − eps·eᵢ)) / (2 eps) for every element i of the float64 array x."""
    x = np.array(x, dtype=np.float64)
    grad = np.empty_like(x)
    flat, grad_flat = x.reshape(-1), grad.reshape(-1)
    for i in range(flat.size):
        original = flat[i]
        flat[i] = original + eps
        plus = f(x.copy())
        flat[i] = original - eps
        minus = f(x.copy())
        flat[i] = original
        grad_flat[i] = (plus - minus) / (2 * eps)
    return grad


def relative_error(analytic: np.ndarray, numeric: np.ndarray) -> float:
    """‖a − n‖ / (‖a‖ + ‖n‖), and 0 where both are zero."""
    analytic, numeric = np.asarray(analytic, np.float64), np.asarray(numeric, np.float64)
    if analytic.shape != numeric.shape:
        raise ShapeError(f"gradient shapes differ: analytic {analytic.shape}, "
                         f"numerical {numeric.shape}")
    scale = np.linalg.norm(analytic) + np.linalg.norm(numeric)
    return float(np.linalg.norm(analytic - numeric) / scale) if scale > 0 else 0.0


def _replace_leaf(params: Any, index: int, value: np.ndarray) -> Any:
    leaves, structure = tree.flatten(params)
    leaves[index] = value
    return tree.unflatten(structure, leaves)


def layer_errors(layer: Layer, x: np.ndarray, *, params: Any = None, state: Any = None,
                 key: random.Key | None = None, train: bool = True, eps: float = 1e-6,
                 seed: int = 0) -> dict[str, float]:
    """The relative error of ``backward`` against central differences, per input and leaf.

    ``x`` must be float64. Without ``params``, the layer is initialised from
    ``seed`` for ``x.shape[1:]`` in float64. Keys are fixed, so dropout masks
    are the same in every evaluation. Returns {"x": err, "params[0].w": err, ...}.
    """
    x = np.asarray(x)
    if x.dtype != np.float64:
        raise DTypeError(f"gradient checks run in float64, got x of dtype {x.dtype}")
    if params is None:
        params, init_state, _ = layer.init(random.key(seed), x.shape[1:], np.float64)
        state = init_state if state is None else state
    y, _, cache = layer.forward(params, state, x, key=key, train=train)
    upstream = random.normal(random.key(seed + 1), y.shape, np.float64)
    dx, grads = layer.backward(params, cache, upstream)

    def objective(p: Any, inputs: np.ndarray) -> float:
        return float(np.vdot(layer.forward(p, state, inputs, key=key, train=train)[0], upstream))

    def leaf_objective(i: int, v: np.ndarray) -> float:
        return objective(_replace_leaf(params, i, v), x)

    errors = {"x": relative_error(dx, numerical_grad(lambda v: objective(params, v), x, eps))}
    grad_leaves = tree.leaves(grads)
    for i, (path, leaf) in enumerate(tree.leaves_with_paths(params)):
        numeric = numerical_grad(functools.partial(leaf_objective, i), leaf, eps)
        errors["params" + ("" if path == "<root>" else path)] = relative_error(grad_leaves[i], numeric)
    return errors


def check_layer(layer: Layer, x: np.ndarray, **kwargs: Any) -> float:
    """The worst relative error of ``layer_errors`` (same arguments)."""
    return max(layer_errors(layer, x, **kwargs).values())


def loss_error(loss: Loss, y: np.ndarray, t: np.ndarray, *, eps: float = 1e-6) -> float:
    """The relative error of ``loss.backward`` against central differences in ``y``."""
    y = np.asarray(y)
    if y.dtype != np.float64:
        raise DTypeError(f"gradient checks run in float64, got y of dtype {y.dtype}")
    analytic = loss.backward(loss.forward(y, t)[1])
    return relative_error(analytic, numerical_grad(lambda v: loss.forward(v, t)[0], y, eps))
