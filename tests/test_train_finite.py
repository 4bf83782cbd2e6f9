"""A train step never returns a state holding NaN or inf: overflowing updates, optimizer
moments and batch statistics raise NonFiniteError and leave the state before the step."""

import numpy as np
import pytest

import fnn
from fnn import checkpoint, layers, losses, optim, random, tree
from fnn.errors import NonFiniteError

pytestmark = pytest.mark.filterwarnings("ignore:overflow:RuntimeWarning",
                                        "ignore:invalid value:RuntimeWarning")


def attempt(model, loss, optimizer, x, t, *, check_finite=True):
    """(the state before, the error the step raised or None, the state it returned)."""
    ts = fnn.init_train_state(model, optimizer, random.key(0), x.shape[1:])
    before = checkpoint.digest(ts)
    step = fnn.make_train_step(model, loss, optimizer, check_finite=check_finite)
    try:
        new_ts, _ = step(ts, x, t)
    except NonFiniteError as error:
        assert checkpoint.digest(ts) == before  # nothing of the old state was touched
        assert all(np.isfinite(leaf).all() for leaf in tree.leaves(ts.params))
        assert "the state before this step is unchanged" in str(error)
        return error, None
    return None, new_ts


def dense_case():
    x = np.full((4, 3), 2.0, np.float32)
    return fnn.sequential(layers.dense(2)), losses.mse(), x, np.full((4, 2), -3.0, np.float32)


@pytest.mark.parametrize("optimizer, where", [
    (optim.sgd(1e39), "params[0].w"),
    (optim.adam(1e38), "params[0].w"),
    (optim.momentum(1e39), "params[0].w"),
], ids=["sgd 1e39", "adam 1e38", "momentum 1e39"])
def test_an_update_that_overflows_float32_raises_naming_the_parameter(optimizer, where):
    model, loss, x, t = dense_case()
    error, _ = attempt(model, loss, optimizer, x, t)
    assert error is not None and f"the new {where}" in str(error)


def test_an_optimizer_moment_that_overflows_raises_naming_it():
    # inputs of 1e20 give gradients of 1e20, whose squares overflow adam's second moment
    # (the update itself, m / sqrt(inf), stays finite)
    model = fnn.sequential(layers.dense(3))
    x = np.full((2, 4), 1e20, np.float32)
    error, _ = attempt(model, losses.softmax_cross_entropy(), optim.adam(1e-3), x, np.array([0, 1]))
    assert error is not None and "the new opt_state" in str(error), error


def test_batch_norm_statistics_that_overflow_raise_naming_them():
    model = fnn.sequential(layers.batch_norm(), layers.dense(2))
    x = np.array([[3e19], [-3e19], [1e19], [-1e19]], np.float32)
    error, _ = attempt(model, losses.softmax_cross_entropy(), optim.sgd(0.1), x,
                       np.array([0, 1, 0, 1]))
    assert error is not None and "the new state[0]" in str(error), error


def test_check_finite_false_skips_the_checks():
    model, loss, x, t = dense_case()
    error, new_ts = attempt(model, loss, optim.sgd(1e39), x, t, check_finite=False)
    assert error is None and not np.isfinite(new_ts.params[0].w).all()


def test_finite_states_whose_squares_overflow_pass():
    # parameters of 1e30 are finite though their squares are not: the exact check decides
    model, loss, _, _ = dense_case()
    ts = fnn.init_train_state(model, optim.sgd(1e-40), random.key(0), (3,))
    big = (layers.DenseParams(np.full((3, 2), 1e30, np.float32), np.zeros(2, np.float32)),)
    x = np.zeros((4, 3), np.float32)
    step = fnn.make_train_step(model, loss, optim.sgd(1e-40))
    new_ts, _ = step(fnn.TrainState(big, ts.state, ts.opt_state, ts.key), x, np.zeros((4, 2), np.float32))
    np.testing.assert_array_equal(new_ts.params[0].w, big[0].w)


@pytest.mark.parametrize("bad", [np.inf, -np.inf, np.nan])
@pytest.mark.parametrize("partner", [0.0, -np.inf, 1e30], ids=["zeros", "-inf", "huge"])
def test_a_non_finite_leaf_is_found_whatever_the_leaf_it_is_dotted_with(bad, partner):
    # the check dots leaves of one shape in pairs (a·b): inf·0 is NaN, inf·-inf is -inf;
    # the params come first, so the error names them
    from fnn.train import check_finite_state
    good = np.zeros(4, np.float32)
    a = np.array([1.0, bad, 2.0, 3.0], np.float32)
    b = np.array([5.0, partner, 7.0, 8.0], np.float32)
    with pytest.raises(NonFiniteError, match=r"the new params\[1\]"):
        check_finite_state(3, (good, a), None, (good, b))
    # finite leaves whose products overflow float32 pass
    check_finite_state(3, (good, np.full(4, 1e30, np.float32)), None,
                       (np.full(4, -1e30, np.float32),))


@pytest.mark.parametrize("optimizer", [
    optim.chain(optim.clip_by_global_norm(1e30), optim.sgd(1e39)),
    optim.inject_hyperparams(optim.adam)(1e38),
], ids=["clip then sgd", "inject_hyperparams(adam)"])
def test_an_overflow_outside_the_per_leaf_pass_raises(optimizer):
    # the optimizer pass dots the leaves it makes only for a per-leaf transform; others
    # (a chain with a global clip, a wrapper) leave the whole check to the step
    model, loss, x, t = dense_case()
    error, _ = attempt(model, loss, optimizer, x, t)
    assert error is not None and "params[0].w" in str(error), error
