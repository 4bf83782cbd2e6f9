"""What every optimizer promises: purity, frozen states, float32 kept, any parameter tree."""

import attrs
import numpy as np
import pytest

from fnn import optim
from fnn.errors import DTypeError, TreeError
from fnn.layers import DenseParams
from fnn.testing import assert_trees_equal
from tests.helpers import all_arrays

OPTIMIZERS = {
    "sgd": lambda: optim.sgd(0.1),
    "momentum": lambda: optim.momentum(0.1),
    "nesterov": lambda: optim.nesterov(0.1),
    "adagrad": lambda: optim.adagrad(0.1),
    "rmsprop": lambda: optim.rmsprop(0.1),
    "adam": lambda: optim.adam(optim.schedules.cosine_decay(0.1, 10)),
    "adamw": lambda: optim.adamw(0.1, mask=optim.weights_only),
    "clip, decay, momentum": lambda: optim.chain(optim.clip_by_global_norm(1.0),
                                                 optim.add_weight_decay(1e-3),
                                                 optim.momentum(0.1)),
    "masked adam": lambda: optim.masked(optim.adam(0.1), optim.weights_only),
    "masked clip": lambda: optim.chain(optim.masked(optim.clip_by_global_norm(0.1),
                                                    optim.weights_only), optim.sgd(0.1)),
    "adam, freeze": lambda: optim.chain(optim.adam(0.1), optim.freeze(optim.weights_only)),
    "inject adam": lambda: optim.inject_hyperparams(optim.adam)(
        optim.schedules.cosine_decay(0.1, 10)),
    "multi_steps": lambda: optim.multi_steps(optim.nesterov(0.1), 2),
    # waiting terms under a mask, a scale after them, then a leaf function
    "blocks": lambda: optim.chain(optim.scale_by_rms(), optim.scale_by_learning_rate(
        optim.schedules.cosine_decay(0.1, 10)), optim.add_decayed_weights(1e-2, optim.weights_only),
        optim.scale_by_learning_rate(0.5), optim.trace(0.5, nesterov=True)),
}


def params_and_grads(dtype=np.float64):
    """A sequential-shaped tree: two dense layers around a parameterless one (None)."""
    rng = np.random.default_rng(0)

    def dense(n_in, n_out, bias=True):
        return DenseParams(rng.normal(size=(n_in, n_out)).astype(dtype),
                           rng.normal(size=n_out).astype(dtype) if bias else None)

    return (dense(3, 4), None, dense(4, 2, bias=False)), (dense(3, 4), None, dense(4, 2, bias=False))


@pytest.fixture(params=sorted(OPTIMIZERS))
def transform(request):
    return OPTIMIZERS[request.param]()


def state_records(state):
    """The records of a state, inside any nest of chain tuples."""
    if isinstance(state, tuple):
        return [r for s in state for r in state_records(s)]
    return [state]


def two_steps(transform, params, grads):
    state = transform.init(params)
    updates, state = transform.update(grads, state, params)
    params = optim.apply_updates(params, updates)
    return transform.update(grads, state, params)


def test_update_is_pure(transform):
    params, grads = params_and_grads()
    copies = [a.copy() for a in all_arrays((params, grads))]
    first, second = two_steps(transform, params, grads), two_steps(transform, params, grads)
    assert_trees_equal(first, second)
    for before, after in zip(copies, all_arrays((params, grads)), strict=True):
        np.testing.assert_array_equal(before, after)


def test_states_and_updates_are_frozen_and_keep_the_tree(transform):
    params, grads = params_and_grads()
    updates, state = two_steps(transform, params, grads)
    records = state_records(state)
    assert records and all(attrs.has(type(r)) for r in records)
    assert all(r.count == 2 for r in records if hasattr(r, "count"))
    for array in all_arrays((updates, state)):
        assert not array.flags.writeable
    assert updates[1] is None and updates[2].b is None
    with pytest.raises(AttributeError):
        records[0].count = 0


def test_float32_stays_float32(transform):
    params, grads = params_and_grads(np.float32)
    updates, state = two_steps(transform, params, grads)
    assert {a.dtype for a in all_arrays((updates, state))} == {np.dtype(np.float32)}


@pytest.mark.parametrize("transform", [
    optim.nesterov(np.float64(0.1), np.float64(0.9)),
    optim.rmsprop(np.float64(0.1), np.float64(0.9), np.float64(1e-8)),
    optim.adamw(np.float64(0.1), np.float64(0.9), np.float64(0.99), np.float64(1e-8),
                np.float64(0.1)),
    optim.chain(optim.clip_by_global_norm(np.float64(0.1)), optim.add_weight_decay(np.float64(0.1)),
                optim.adagrad(np.float64(0.1), np.float64(1e-7))),
], ids=["nesterov", "rmsprop", "adamw", "chain"])
def test_float64_numpy_hyper_parameters_keep_float32(transform):
    test_float32_stays_float32(transform)


def test_init_on_an_empty_tree(transform):
    updates, state = transform.update(None, transform.init(None), None)
    assert updates is None and not all_arrays(state)


def test_grads_shaped_unlike_the_state_are_refused(transform):
    params, grads = params_and_grads()
    state = transform.init(params)
    if all_arrays(state):  # a state that holds arrays knows the tree it was made for
        with pytest.raises(TreeError, match="state made by init"):
            transform.update(grads[:2], state, params)


def updated_then_applied(transform, params, grads, steps=3):
    state = transform.init(params)
    for _ in range(steps):
        updates, state = transform.update(grads, state, params)
        params = optim.apply_updates(params, updates)
    return params, state


def applied_at_once(transform, params, grads, steps=3):
    state = transform.init(params)
    for _ in range(steps):
        params, state = optim.update_and_apply(transform, grads, state, params)
    return params, state


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_update_and_apply_gives_the_bytes_of_update_then_apply_updates(transform, dtype):
    params, grads = params_and_grads(dtype)
    assert hasattr(transform.update, "apply")  # every optimizer here takes the one-pass route
    assert_trees_equal(applied_at_once(transform, params, grads),
                       updated_then_applied(transform, params, grads))


def test_update_and_apply_is_pure_and_returns_frozen_arrays(transform):
    params, grads = params_and_grads(np.float32)
    copies = [a.copy() for a in all_arrays((params, grads))]
    new_params, state = applied_at_once(transform, params, grads)
    assert_trees_equal((new_params, state), applied_at_once(transform, params, grads))
    for before, after in zip(copies, all_arrays((params, grads)), strict=True):
        np.testing.assert_array_equal(before, after)
    for array in all_arrays((new_params, state)):
        assert not array.flags.writeable and array.dtype == np.float32
    # the new params share no memory with the state (the update was written in place)
    for p in all_arrays(new_params):
        assert not any(np.shares_memory(p, s) for s in all_arrays(state))


def test_update_and_apply_refuses_what_apply_updates_refuses(transform):
    params, grads = params_and_grads(np.float32)
    state = transform.init(params)
    if all_arrays(state):
        with pytest.raises(TreeError, match="state made by init"):
            optim.update_and_apply(transform, grads[:2], state, params)
    wide = optim.sgd(0.1)
    with pytest.raises(DTypeError, match="float64 update would turn a float32 parameter"):
        optim.update_and_apply(wide, params_and_grads(np.float64)[1], wide.init(params), params)


def test_a_transform_without_apply_goes_through_update_and_apply_updates():
    params, grads = params_and_grads()
    clip = optim.clip_by_global_norm(0.5)
    assert not hasattr(clip.update, "apply") and not hasattr(optim.chain().update, "apply")
    assert_trees_equal(applied_at_once(clip, params, grads),
                       updated_then_applied(clip, params, grads))
    assert_trees_equal(applied_at_once(optim.chain(optim.momentum(0.1), clip), params, grads),
                       updated_then_applied(optim.chain(optim.momentum(0.1), clip), params, grads))
