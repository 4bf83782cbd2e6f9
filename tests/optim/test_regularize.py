"""add_weight_decay, clip_by_global_norm and weight-decay masks."""

import numpy as np
import pytest

from fnn import optim
from fnn.errors import TreeError
from fnn.layers import DenseParams
from tests.optim.helpers import run


def test_weight_decay_before_sgd_on_known_numbers():
    # g ← g + 0.5·p, then p ← p − 0.1·g, i.e. p ← 0.95·p − 0.1·g; g = [1, 0] each step:
    #   [1, 2] → [0.85, 1.9] → [0.7075, 1.805] → [0.572125, 1.71475]
    history, state = run(optim.chain(optim.add_weight_decay(0.5), optim.sgd(0.1)),
                         np.array([1.0, 2.0]), [np.array([1.0, 0.0])] * 3)
    np.testing.assert_allclose(history, [[0.85, 1.9], [0.7075, 1.805], [0.572125, 1.71475]],
                               rtol=1e-14)
    assert state == ((optim.EmptyState(),), (optim.EmptyState(),))


def mlp_tree():
    """Params shaped like sequential(dense, relu, dense): weights 1, biases 2."""
    layer = DenseParams(np.ones((2, 2)), np.full(2, 2.0))
    return (layer, None, layer)


@pytest.mark.parametrize("mask", [
    optim.weights_only,
    lambda path, leaf: leaf.ndim == 2,
    (DenseParams(True, False), None, DenseParams(True, False)),
])
def test_masks_leave_the_biases_alone(mask):
    params = mlp_tree()
    grads = optim.add_weight_decay(0.5, mask).update(params, (optim.EmptyState(),), params)[0]
    for layer in (grads[0], grads[2]):
        np.testing.assert_array_equal(layer.w, np.full((2, 2), 1.5))  # 1 + 0.5·1
        np.testing.assert_array_equal(layer.b, np.full(2, 2.0))       # untouched
    assert grads[1] is None


def test_a_predicate_sees_the_tree_paths():
    seen = []
    params = mlp_tree()
    optim.add_weight_decay(0.1, lambda path, leaf: seen.append(path)).update(
        params, (optim.EmptyState(),), params)
    assert seen == ["[0].w", "[0].b", "[2].w", "[2].b"]


def test_a_predicate_can_pick_a_layer():
    params = mlp_tree()
    grads = optim.add_weight_decay(1.0, lambda path, leaf: path.startswith("[2]")).update(
        params, (optim.EmptyState(),), params)[0]
    assert grads[0].w[0, 0] == 1.0 and grads[2].w[0, 0] == 2.0 and grads[2].b[0] == 4.0


def test_a_mask_tree_of_another_shape_is_refused():
    params = mlp_tree()
    with pytest.raises(TreeError, match="adamw: mask must be"):
        optim.adamw(mask=(True, None)).update(params, optim.adamw().init(params), params)


def test_weight_decay_needs_the_params():
    with pytest.raises(ValueError, match=r"add_weight_decay: .*needs the params"):
        optim.add_weight_decay(0.1).update(np.ones(2), (optim.EmptyState(),))


def test_clipping_scales_to_the_global_norm():
    # global norm √(3² + 4²) = 5 > 1: everything scaled by 1/5
    grads = (DenseParams(np.array([[3.0]]), np.array([4.0])), None)
    assert optim.global_norm(grads) == 5.0
    clipped, state = optim.clip_by_global_norm(1.0).update(grads, optim.EmptyState())
    np.testing.assert_allclose(clipped[0].w, [[0.6]], rtol=1e-15)
    np.testing.assert_allclose(clipped[0].b, [0.8], rtol=1e-15)
    assert clipped[1] is None and state == optim.EmptyState()
    np.testing.assert_array_equal(grads[0].w, [[3.0]])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_clipping_leaves_small_gradients_bit_identical(dtype):
    grads = {"a": np.array([0.1, -0.7, 1e-30], dtype), "b": np.array([[3.3]], dtype)}
    clipped, _ = optim.clip_by_global_norm(5.0).update(grads, optim.EmptyState())
    for key in grads:
        assert clipped[key].dtype == dtype
        assert clipped[key].tobytes() == grads[key].tobytes()


def test_clipping_comes_before_adam_in_a_chain():
    # Adam's first moment after one step is (1 − b1)·g of the gradient it saw:
    # 0.1·[0.6, 0.8] for the clipped [3, 4], not 0.1·[3, 4].
    transform = optim.chain(optim.clip_by_global_norm(1.0), optim.adam(0.1))
    params = np.zeros(2)
    _, (_, (adam_state, _)) = transform.update(np.array([3.0, 4.0]), transform.init(params), params)
    np.testing.assert_allclose(adam_state.mu, [0.06, 0.08], rtol=1e-14)
    np.testing.assert_allclose(adam_state.nu, [0.001 * 0.36, 0.001 * 0.64], rtol=1e-14)


@pytest.mark.parametrize("factory, value, message", [
    (optim.add_weight_decay, -1.0, "rate must be"),
    (optim.clip_by_global_norm, 0.0, "max_norm must be a positive"),
])
def test_bad_arguments_are_refused(factory, value, message):
    with pytest.raises(ValueError, match=message):
        factory(value)
