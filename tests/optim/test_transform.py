from collections.abc import Callable
from typing import NamedTuple

import attrs
import numpy as np
import pytest

import fnn
from fnn import optim
from fnn.errors import TreeError
from fnn.layers import DenseParams
from fnn.optim.transform import LeafStep, leafwise
from fnn.testing import assert_trees_equal


def test_apply_updates_adds_leafwise_into_read_only_arrays():
    params = {"a": DenseParams(np.ones((2, 2)), None), "b": np.array([1.0, 2.0])}
    updates = {"a": DenseParams(np.full((2, 2), 0.5), None), "b": np.array([-1.0, 1.0])}
    new = optim.apply_updates(params, updates)
    np.testing.assert_array_equal(new["a"].w, np.full((2, 2), 1.5))
    np.testing.assert_array_equal(new["b"], [0.0, 3.0])
    assert not new["b"].flags.writeable
    np.testing.assert_array_equal(params["b"], [1.0, 2.0])


def test_apply_updates_refuses_mismatched_trees():
    with pytest.raises(TreeError, match="apply_updates"):
        optim.apply_updates((np.ones(2),), (np.ones(2), np.ones(2)))


def test_chain_checks_its_state():
    with pytest.raises(TreeError, match="chain: expected a state tuple of 1"):
        optim.chain(optim.sgd(0.1)).update(np.ones(1), optim.EmptyState())
    with pytest.raises(TreeError, match="sgd: expected a state tuple of 1"):
        optim.chain(optim.sgd(0.1)).update(np.ones(1), (optim.EmptyState(),))


def test_update_and_apply_takes_python_scalar_leaves():
    params, grads = (np.array(1.0), 2.0), (0.5, 0.25)
    transform = optim.sgd(0.1)
    new, _ = optim.update_and_apply(transform, grads, transform.init(params), params)
    updates, _ = transform.update(grads, transform.init(params), params)
    assert_trees_equal(new, optim.apply_updates(params, updates))


@pytest.mark.parametrize("name", ["sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam",
                                  "adamw"])
def test_every_optimizer_takes_scalar_leaves_as_one_element_arrays(name):
    # A 0-d array, a numpy scalar and a Python float leaf must move as a (1,) array does.
    transform = getattr(optim, name)(0.1)
    params = (np.array(1.5, np.float32), np.float32(-2.0), 0.75)
    grads = (np.array(0.5, np.float32), np.float32(0.25), -1.25)
    arrays = tuple(np.reshape(np.asarray(p), (1,)) for p in params)
    state, array_state = transform.init(params), transform.init(arrays)
    for _ in range(3):
        updates, _ = transform.update(grads, state, params)
        new, state = optim.update_and_apply(transform, grads, state, params)
        assert_trees_equal(new, optim.apply_updates(params, updates))
        arrays, array_state = optim.update_and_apply(
            transform, tuple(np.reshape(np.asarray(g), (1,)) for g in grads), array_state, arrays)
        for scalar, array in zip(new, arrays, strict=True):
            assert np.shape(scalar) == () and np.asarray(scalar).dtype == array.dtype
            assert np.asarray(scalar).tobytes() == array.tobytes()
        params = new


def test_a_replaced_update_is_not_bypassed_by_the_fused_apply():
    # the fused path lives on the update object, so replacing update replaces it too
    params = (np.ones(3),)
    zeros = attrs.evolve(optim.adam(0.1), update=lambda g, s, p=None: (
        fnn.tree.map(np.zeros_like, g), s))
    new, _ = optim.update_and_apply(zeros, params, zeros.init(params), params)
    np.testing.assert_array_equal(new[0], np.ones(3))
    chained = optim.chain(zeros, optim.sgd(1.0))
    new, _ = optim.update_and_apply(chained, params, chained.init(params), params)
    np.testing.assert_array_equal(new[0], np.ones(3))


class PlainTransform(NamedTuple):
    """An optax-style pair without ``apply``."""

    init: Callable
    update: Callable


def test_transforms_without_apply_train_through_update():
    sgd = optim.sgd(0.5)
    plain = PlainTransform(sgd.init, sgd.update)
    params, grads = (np.ones(2),), (np.ones(2),)
    new, _ = optim.update_and_apply(plain, grads, plain.init(params), params)
    np.testing.assert_array_equal(new[0], [0.5, 0.5])
    new, _ = optim.update_and_apply(optim.chain(optim.momentum(0.1), plain), grads,
                                    optim.chain(optim.momentum(0.1), plain).init(params), params)
    np.testing.assert_array_equal(new[0], [1.05, 1.05])  # sgd negates momentum's -0.1·g
    model = fnn.sequential(fnn.layers.dense(2))
    step = fnn.make_train_step(model, fnn.losses.mse(), plain)
    ts = fnn.init_train_state(model, plain, fnn.random.key(0), (3,))
    x, t = np.ones((4, 3), np.float32), np.zeros((4, 2), np.float32)
    new_ts, _ = step(ts, x, t)
    _, grads, _ = fnn.value_and_grad(model, fnn.losses.mse())(ts.params, ts.state, x, t)
    updates, _ = sgd.update(grads, ts.opt_state, ts.params)
    assert new_ts.step == 1
    assert_trees_equal(new_ts.params, optim.apply_updates(ts.params, updates))


def test_a_leafwise_update_is_written_into_only_when_promised_fresh():
    held = np.full(3, -0.5)

    def prepare(grads, state, params):
        return LeafStep(lambda g: (held,), (), lambda: state, fresh=False)

    transform = leafwise("held", lambda params: optim.EmptyState(), prepare)
    params = (np.ones(3), np.full(3, 10.0))
    new, _ = optim.update_and_apply(transform, (np.zeros(3), np.zeros(3)),
                                    transform.init(params), params)
    np.testing.assert_array_equal(held, np.full(3, -0.5))
    np.testing.assert_array_equal(new[0], np.full(3, 0.5))
    np.testing.assert_array_equal(new[1], np.full(3, 9.5))


def test_leafless_trees_give_a_container_per_output():
    transform = optim.adam()
    new, state = optim.update_and_apply(transform, [], transform.init([]), [])
    assert new == [] and state[0].mu == [] and state[0].nu == []
    assert new is not state[0].mu and state[0].mu is not state[0].nu
