import numpy as np
import pytest

from fnn import optim
from fnn.errors import TreeError
from fnn.layers import DenseParams
from tests.optim.helpers import run


def test_sgd_on_known_numbers():
    # p ← p − 0.1·g, worked by hand: [1, 2] → [0.95, 2.1] → [0.85, 2.0] → [1.05, 2.0]
    grads = [np.array([0.5, -1.0]), np.array([1.0, 1.0]), np.array([-2.0, 0.0])]
    history, state = run(optim.sgd(0.1), np.array([1.0, 2.0]), grads)
    np.testing.assert_allclose(history, [[0.95, 2.1], [0.85, 2.0], [1.05, 2.0]], rtol=1e-14)
    assert state == (optim.EmptyState(),)


def test_momentum_on_known_numbers():
    # v ← 0.9·v − 0.1·g with g = [0.5, −1] every step, p ← p + v; by hand:
    # v1 = [−0.05, 0.1],  p1 = [0.95, 2.1]
    # v2 = [−0.095, 0.19], p2 = [0.855, 2.29]
    # v3 = [−0.1355, 0.271], p3 = [0.7195, 2.561]
    g = np.array([0.5, -1.0])
    history, state = run(optim.momentum(0.1, 0.9), np.array([1.0, 2.0]), [g, g, g])
    np.testing.assert_allclose(history, [[0.95, 2.1], [0.855, 2.29], [0.7195, 2.561]], rtol=1e-14)
    np.testing.assert_allclose(state[1].trace, [-0.1355, 0.271], rtol=1e-13)


def test_momentum_defaults_are_the_books():
    # lr = 0.01, momentum = 0.9: v1 = −0.01·g, v2 = 0.9·v1 − 0.01·g = −0.019·g
    g = np.array([1.0])
    history, _ = run(optim.momentum(), np.array([0.0]), [g, g])
    np.testing.assert_allclose(history, [[-0.01], [-0.029]], rtol=1e-14)


def test_schedules_are_evaluated_at_the_step_count():
    seen = []
    def lr(step):
        return seen.append(step) or 0.1 * (step + 1)
    history, _ = run(optim.sgd(lr), np.array([0.0]), [np.array([1.0])] * 3)
    assert seen == [0, 1, 2]
    np.testing.assert_allclose(history, [[-0.1], [-0.3], [-0.6]], rtol=1e-14)


def test_states_are_frozen_records_with_read_only_arrays():
    params = (DenseParams(np.ones((2, 2)), np.zeros(2)), None)
    state = optim.momentum().init(params)
    _updates, state = optim.momentum().update(
        (DenseParams(np.ones((2, 2)), np.ones(2)), None), state, params)
    assert not state[1].trace[0].w.flags.writeable and state[1].trace[1] is None
    with pytest.raises(AttributeError):
        state[1].trace = None


def test_float32_stays_float32():
    params = np.ones(3, np.float32)
    for transform in (optim.sgd(0.1), optim.momentum(0.1)):
        updates, _ = transform.update(np.ones(3, np.float32), transform.init(params), params)
        assert optim.apply_updates(params, updates).dtype == np.float32


def test_chain_applies_in_order():
    double = optim.Transform(lambda p: None, lambda g, s, p=None: (g * 2, s))
    history, state = run(optim.chain(double, optim.sgd(0.1)), np.array([1.0]), [np.array([1.0])])
    np.testing.assert_allclose(history, [[0.8]])
    assert state[1] == (optim.EmptyState(),)


def test_state_for_another_tree_is_refused():
    transform = optim.momentum()
    state = transform.init((np.zeros(2), np.zeros(3)))
    with pytest.raises(TreeError, match=r"momentum.*state made by init"):
        transform.update((np.zeros(2),), state)


@pytest.mark.parametrize("lr", [0.0, -1.0, float("nan"), "0.1"])
def test_bad_learning_rates_are_refused(lr):
    with pytest.raises(ValueError, match="lr must be a positive number"):
        optim.sgd(lr)


def test_nesterov_on_known_numbers():
    # v ← 0.5·v − 0.1·g; updates = 0.5·v − 0.1·g (new v), i.e. 0.25·v_old − 0.15·g; by hand:
    #   g = 2:  v1 = −0.2,            u1 = −0.1 − 0.2 = −0.3,      p1 = 0.7
    #   g = 2:  v2 = −0.1 − 0.2 = −0.3, u2 = −0.15 − 0.2 = −0.35,  p2 = 0.35
    #   g = −2: v3 = −0.15 + 0.2 = 0.05, u3 = 0.025 + 0.2 = 0.225, p3 = 0.575
    # (the book's code, p += 0.25·v_new − 0.15·g, would give u1 = −0.35 already)
    grads = [np.array([2.0]), np.array([2.0]), np.array([-2.0])]
    history, state = run(optim.nesterov(0.1, 0.5), np.array([1.0]), grads)
    np.testing.assert_allclose(history, [[0.7], [0.35], [0.575]], rtol=1e-14)
    np.testing.assert_allclose(state[1].trace, [0.05], rtol=1e-13)


@pytest.mark.parametrize("factory", [optim.momentum, optim.nesterov])
@pytest.mark.parametrize("value", [1.0, -0.1, "0.9"])
def test_bad_momentum_is_refused(factory, value):
    with pytest.raises(ValueError, match="momentum must be a number in"):
        factory(0.1, value)
