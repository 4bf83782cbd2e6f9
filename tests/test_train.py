import numpy as np
import pytest

import fnn
from fnn import layers, losses, optim, random
from fnn.errors import DataError, NonFiniteError, ShapeError
from fnn.testing import assert_trees_equal
from tests.helpers import all_arrays, small_mlp, small_problem


@pytest.fixture
def setup():
    model, opt = small_mlp(), optim.momentum(0.05)
    ts = fnn.init_train_state(model, opt, random.key(0), (5,))
    step = fnn.make_train_step(model, losses.softmax_cross_entropy(), opt)
    return model, ts, step


def test_init_train_state(setup):
    _model, ts, _ = setup
    assert ts.step == 0 and ts.state == (None, None, None)
    assert ts.params[0].w.shape == (5, 8) and ts.opt_state[0] == optim.EmptyState()
    assert not any(np.any(v) for v in all_arrays(ts.opt_state[1].trace))
    assert all(not a.flags.writeable for a in all_arrays(ts))


def test_step_is_pure_and_returns_read_only_records(setup):
    _, ts, step = setup
    x, t = small_problem()
    before = [a.copy() for a in all_arrays(ts)] + [x.copy(), t.copy()]
    new_ts, metrics = step(ts, x, t)
    after = [*all_arrays(ts), x, t]
    assert all(a.tobytes() == b.tobytes() and a.dtype == b.dtype for a, b in zip(before, after, strict=True))
    assert all(not a.flags.writeable for a in all_arrays(new_ts))
    assert new_ts.step == 1 and new_ts.key != ts.key
    assert all(np.any(v) for v in all_arrays(new_ts.opt_state[1].trace))
    again_ts, again_metrics = step(ts, x, t)
    assert_trees_equal(again_ts, new_ts)
    assert again_metrics == metrics


def test_training_lowers_the_loss(setup):
    _, ts, step = setup
    x, t = small_problem()
    first = step(ts, x, t)[1].loss
    for _ in range(50):
        ts, metrics = step(ts, x, t)
    assert metrics.loss < 0.5 * first


def test_step_matches_value_and_grad_and_optimizer_by_hand(setup):
    model, ts, step = setup
    x, t = small_problem()
    loss, grads, _ = fnn.value_and_grad(model, losses.softmax_cross_entropy())(
        ts.params, ts.state, x, t)
    updates, _ = optim.momentum(0.05).update(grads, ts.opt_state, ts.params)
    new_ts, metrics = step(ts, x, t)
    assert metrics.loss == loss
    assert_trees_equal(new_ts.params, optim.apply_updates(ts.params, updates))


@pytest.mark.parametrize("reads_key", [True, False])
def test_the_step_splits_its_key_into_the_next_key_and_the_models(reads_key):
    seen = []

    def forward(params, state, x, *, key=None, train=False):
        seen.append(key)
        return x, state, None

    recorder = fnn.Layer("recorder", layers.identity().init, forward, layers.identity().backward,
                         uses_key=reads_key)
    model, opt = fnn.sequential(layers.dense(3), recorder), optim.sgd(0.1)
    ts = fnn.init_train_state(model, opt, random.key(0), (5,))
    new_ts, _ = fnn.make_train_step(model, losses.softmax_cross_entropy(), opt)(
        ts, *small_problem())
    next_key, step_key = random.split(ts.key)
    assert new_ts.key == next_key
    # a model that reads no key is handed none, and the next key is the same
    assert seen == [random.split(step_key, 2)[1] if reads_key else None]


def test_value_and_grad_matches_numerical_gradients(rng):
    model = fnn.sequential(layers.dense(4), layers.tanh(), layers.dense(3))
    params, state, _ = model.init(random.key(0), (2,), np.float64)
    x, t = rng.normal(size=(6, 2)), rng.integers(0, 3, 6)
    f = fnn.value_and_grad(model, losses.softmax_cross_entropy())
    _, grads, _ = f(params, state, x, t)
    w1 = np.array(params[0].w)

    def loss_at(w):
        p = (fnn.layers.DenseParams(w, params[0].b), *params[1:])
        return f(p, state, x, t)[0]

    err = fnn.gradcheck.relative_error(grads[0].w, fnn.gradcheck.numerical_grad(loss_at, w1))
    assert err < 1e-6


def test_float32_end_to_end(setup):
    _, ts, step = setup
    new_ts, _ = step(ts, *small_problem())
    assert {a.dtype for a in all_arrays(new_ts.params) + all_arrays(new_ts.opt_state)} \
        == {np.dtype(np.float32)}


def test_bad_batches_are_refused(setup):
    _, ts, step = setup
    x, t = small_problem()
    with pytest.raises(ShapeError, match=r"same number of samples.*\(20, 5\).*\(19,\)"):
        step(ts, x, t[:-1])
    with pytest.raises(DataError, match="non-empty"):
        step(ts, x[:0], t[:0])
    with pytest.raises(ShapeError, match=r"dense\(8\).*\(batch, 5\).*\(20, 4\)"):
        step(ts, x[:, :4], t)


def test_non_finite_loss_raises_with_the_step_number(setup):
    _, ts, step = setup
    x, t = small_problem()
    x[0, 0] = np.nan
    with pytest.raises(NonFiniteError, match="train step 0: the loss is nan"):
        step(ts, x, t)


def test_predict_in_batches_equals_predict_at_once(setup):
    model, ts, _ = setup
    x, _ = small_problem(n=23)
    np.testing.assert_array_equal(fnn.predict(model, ts, x, batch_size=5),
                                  fnn.predict(model, ts, x))
    assert fnn.predict(model, ts, x).shape == (23, 3)
