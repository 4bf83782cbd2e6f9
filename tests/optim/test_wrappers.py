"""inject_hyperparams, hyperparams and multi_steps, on known numbers and against the plain optimizers."""

import numpy as np
import pytest

import fnn
from fnn import layers, losses, optim, random
from fnn.errors import ConfigError
from fnn.layers import DenseParams
from fnn.testing import assert_trees_equal
from tests.optim.helpers import run


def schedule(count):
    return 0.1 / (count + 1)


def test_injected_adam_records_the_learning_rate_of_the_last_update():
    params, grads = np.array([1.0, -2.0]), [np.array([0.5, 1.0])] * 3
    transform = optim.inject_hyperparams(optim.adam)(lr=schedule, b1=0.8)
    state = transform.init(params)
    assert optim.hyperparams(state) == {"lr": 0.1, "b1": 0.8, "b2": 0.999, "eps": 1e-8}
    for count in range(3):
        _, state = transform.update(grads[count], state, params)
        assert optim.hyperparams(state)["lr"] == 0.1 / (count + 1)  # what this update used
        assert state.count == count + 1
    history, _ = run(transform, params, grads)
    plain, _ = run(optim.adam(schedule, b1=0.8), params, grads)
    assert_trees_equal(history, plain)


def test_hyperparams_are_found_anywhere_in_a_chain_and_through_a_train_step():
    opt = optim.chain(optim.clip_by_global_norm(1.0),
                      optim.inject_hyperparams(optim.adamw)(lr=schedule, mask=optim.weights_only))
    model = fnn.sequential(layers.dense(2))
    ts = fnn.init_train_state(model, opt, random.key(0), (3,))
    step = fnn.make_train_step(model, losses.mse(), opt)
    x, t = np.ones((4, 3), np.float32), np.zeros((4, 2), np.float32)
    for count in range(2):
        ts, _ = step(ts, x, t)
        found = optim.hyperparams(ts.opt_state)
        assert found["lr"] == 0.1 / (count + 1) and found["weight_decay"] == 1e-2
        assert "mask" not in found
    assert optim.hyperparams(optim.adam().init(np.ones(2))) == {}


def test_two_injected_states_with_one_name_are_refused():
    opt = optim.chain(optim.inject_hyperparams(optim.sgd)(0.1),
                      optim.inject_hyperparams(optim.sgd)(0.2))
    with pytest.raises(ConfigError, match="'lr'"):
        optim.hyperparams(opt.init(np.ones(1)))


def test_an_injected_chain_with_a_whole_tree_transform_runs_it():
    def clipped_sgd(lr, max_norm):
        return optim.chain(optim.clip_by_global_norm(max_norm), optim.sgd(lr))

    transform = optim.inject_hyperparams(clipped_sgd)(lr=0.5, max_norm=lambda count: 1.0 + count)
    # g = [3, 4], norm 5: clipped to norm 1 then 2, times −0.5
    history, state = run(transform, np.zeros(2), [np.array([3.0, 4.0])] * 2)
    np.testing.assert_allclose(history, [[-0.3, -0.4], [-0.9, -1.2]], rtol=1e-15)
    assert optim.hyperparams(state) == {"lr": 0.5, "max_norm": 2.0}


def test_multi_steps_on_known_numbers():
    # k = 3, sgd(0.1): two updates of −0.0, then −0.1 · mean(1, 2, 6) = −0.3; then again
    transform = optim.multi_steps(optim.sgd(0.1), 3)
    params, state = np.array([1.0]), transform.init(np.array([1.0]))
    seen = []
    for g in [1.0, 2.0, 6.0, 3.0, 3.0, 0.0]:
        u, state = transform.update(np.array([g]), state, params)
        seen.append(u[0])
    np.testing.assert_allclose(seen, [0.0, 0.0, -0.3, 0.0, 0.0, -0.2], rtol=1e-15)
    assert np.signbit(seen[0]) and np.signbit(seen[4])
    assert state.count == 6 and not state.grads_sum.any()


def mlp():
    return fnn.sequential(layers.dense(6), layers.tanh(), layers.dense(3))


@pytest.mark.parametrize("make", [lambda: optim.adam(0.05), lambda: optim.momentum(0.1),
                                  lambda: optim.chain(optim.clip_by_global_norm(0.5),
                                                      optim.nesterov(0.1))],
                         ids=["adam", "momentum", "clip, nesterov"])
def test_k_micro_batches_make_the_step_of_their_union(make):
    k, micro = 4, 5
    rng = np.random.default_rng(0)
    x = rng.normal(size=(k * micro, 3))
    t = rng.integers(0, 3, size=k * micro)
    model, loss = mlp(), losses.softmax_cross_entropy()
    accumulated, plain = optim.multi_steps(make(), k), make()
    ts_acc = fnn.init_train_state(model, accumulated, random.key(0), (3,), np.float64)
    ts_one = fnn.init_train_state(model, plain, random.key(0), (3,), np.float64)
    step_acc = fnn.make_train_step(model, loss, accumulated)
    step_one = fnn.make_train_step(model, loss, plain)
    for _ in range(3):  # three union steps, twelve micro-batches
        start = ts_acc.params
        for i in range(k):
            ts_acc, _ = step_acc(ts_acc, x[i * micro:(i + 1) * micro], t[i * micro:(i + 1) * micro])
            if i < k - 1:
                assert_trees_equal(ts_acc.params, start)  # bit for bit until the k-th
        ts_one, _ = step_one(ts_one, x, t)
        for a, b in zip(fnn.tree.leaves(ts_acc.params), fnn.tree.leaves(ts_one.params), strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


def test_multi_steps_refuses_a_bad_k():
    with pytest.raises(ValueError, match="multi_steps: k must be an integer >= 1"):
        optim.multi_steps(optim.sgd(0.1), 0)


def test_multi_steps_of_one_is_the_optimizer():
    params = DenseParams(np.ones((2, 2)), np.zeros(2))
    grads = [DenseParams(np.full((2, 2), g), np.full(2, -g)) for g in (0.5, 1.5)]
    assert_trees_equal(run(optim.multi_steps(optim.adam(0.1), 1), params, grads)[0],
                       run(optim.adam(0.1), params, grads)[0])


def test_a_run_resumed_from_a_checkpoint_equals_the_uninterrupted_run(tmp_path):
    opt = optim.multi_steps(optim.inject_hyperparams(optim.adam)(lr=schedule), 2)
    model, loss = mlp(), losses.softmax_cross_entropy()
    step = fnn.make_train_step(model, loss, opt)
    rng = np.random.default_rng(1)
    batches = [(rng.normal(size=(4, 3)).astype(np.float32), rng.integers(0, 3, size=4))
               for _ in range(6)]
    ts = fnn.init_train_state(model, opt, random.key(0), (3,))
    for xb, tb in batches[:3]:
        ts, _ = step(ts, xb, tb)
    fnn.checkpoint.save(tmp_path / "run.npz", ts)
    resumed = fnn.checkpoint.load(tmp_path / "run.npz",
                                  like=fnn.init_train_state(model, opt, random.key(5), (3,)))
    assert_trees_equal(resumed, ts)
    for xb, tb in batches[3:]:
        ts, _ = step(ts, xb, tb)
        resumed, _ = step(resumed, xb, tb)
    assert_trees_equal(resumed, ts)
    assert optim.hyperparams(resumed.opt_state) == optim.hyperparams(ts.opt_state)
