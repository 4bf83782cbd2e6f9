"""The building blocks on their own, against their formulas on numbers worked by hand."""

import numpy as np
import pytest

import fnn
from fnn import optim
from fnn.errors import TreeError
from fnn.layers import DenseParams
from fnn.testing import assert_trees_equal
from tests.optim.helpers import run


def updates_of(transform, grads_per_step, params):
    """The updates of each step, the params held fixed."""
    state, out = transform.init(params), []
    for g in grads_per_step:
        u, state = transform.update(g, state, params)
        out.append(u)
    return out, state


def test_scale_by_learning_rate_carries_the_minus_sign_and_counts_only_for_a_schedule():
    constant = optim.scale_by_learning_rate(0.5)
    u, state = constant.update(np.array([2.0, -4.0]), constant.init(None))
    np.testing.assert_array_equal(u, [-1.0, 2.0])
    assert state == optim.EmptyState()
    # lr = 0.1·(count + 1): −0.1, −0.2, −0.3 for g = 1
    seen = []
    scheduled = optim.scale_by_learning_rate(lambda count: seen.append(count) or 0.1 * (count + 1))
    us, state = updates_of(scheduled, [np.array([1.0])] * 3, np.zeros(1))
    np.testing.assert_allclose(us, [[-0.1], [-0.2], [-0.3]], rtol=1e-15)
    assert seen == [0, 1, 2] and state == optim.ScaleByScheduleState(3)


def test_trace_is_the_velocity_and_nesterov_looks_ahead():
    # v ← ½v + u with u = 1, −2, 4: v = 1, −1.5, 3.25; Nesterov ½v + u = 1.5, −2.75, 5.625
    grads = [np.array([1.0]), np.array([-2.0]), np.array([4.0])]
    us, state = updates_of(optim.trace(0.5), grads, np.zeros(1))
    np.testing.assert_array_equal(np.concatenate(us), [1.0, -1.5, 3.25])
    np.testing.assert_array_equal(state.trace, [3.25])
    us, state = updates_of(optim.trace(0.5, nesterov=True), grads, np.zeros(1))
    np.testing.assert_array_equal(np.concatenate(us), [1.5, -2.75, 5.625])
    np.testing.assert_array_equal(state.trace, [3.25])


def test_scale_by_adam_leaves_out_the_learning_rate():
    # b1 = ½, b2 = ¾, eps = ½, g = 2 at t = 1: m̂ = 2, v̂ = 4, 2/(2 + ½) = 0.8 (test_adaptive's step)
    us, state = updates_of(optim.scale_by_adam(0.5, 0.75, 0.5), [np.array([2.0])], np.zeros(1))
    np.testing.assert_allclose(us[0], [0.8], rtol=1e-15)
    assert state.count == 1


@pytest.mark.parametrize("block, expected", [
    # h = 9, 3/(3 + 1) and h = 4·(1 − ½)... each at g = 3, eps = 1 on a zero state
    (optim.scale_by_rss(eps=1.0), 0.75),
    (optim.scale_by_rms(decay=0.75, eps=1.0), 3 / (1.5 + 1)),  # h = ¼·9, √h = 1.5
])
def test_rss_and_rms_on_known_numbers(block, expected):
    us, _ = updates_of(block, [np.array([3.0])], np.zeros(1))
    np.testing.assert_allclose(us[0], [expected], rtol=1e-15)


def test_add_decayed_weights_adds_rate_times_the_params_where_masked():
    params = DenseParams(np.array([[2.0]]), np.array([4.0]))
    grads = DenseParams(np.array([[1.0]]), np.array([1.0]))
    everywhere = optim.add_decayed_weights(0.5)
    u, _ = everywhere.update(grads, everywhere.init(params), params)
    assert (u.w[0, 0], u.b[0]) == (2.0, 3.0)
    weights = optim.add_decayed_weights(0.5, optim.weights_only)
    u, _ = weights.update(grads, weights.init(params), params)
    assert (u.w[0, 0], u.b[0]) == (2.0, 1.0)


MASK = (DenseParams(True, False), None, DenseParams(False, None))


def three_layers():
    rng = np.random.default_rng(3)
    return (DenseParams(rng.normal(size=(2, 3)), rng.normal(size=3)), None,
            DenseParams(rng.normal(size=(3, 1)), None))


@pytest.mark.parametrize("inner", [optim.scale_by_adam(), optim.clip_by_global_norm(0.1)],
                         ids=["per-leaf", "whole-tree"])
def test_masked_runs_the_transform_on_the_masked_leaves_alone(inner):
    params, grads = three_layers(), three_layers()
    transform = optim.masked(inner, MASK)
    state = transform.init(params)
    # the inner state holds nothing for the other leaves
    inner_state = state.inner_state
    if hasattr(inner_state, "mu"):
        assert inner_state.mu[0].b is None and inner_state.mu[2].w is None
    alone, alone_state = grads[0].w, inner.init(params[0].w)
    for _ in range(3):
        updates, state = transform.update(grads, state, params)
        alone, alone_state = inner.update(alone, alone_state, params[0].w)
        assert updates[0].w.tobytes() == alone.tobytes()
        assert updates[0].b.tobytes() == grads[0].b.tobytes()
        assert updates[2].w.tobytes() == grads[2].w.tobytes()
        assert updates[1] is None and updates[2].b is None
        grads = updates


def test_masked_per_leaf_matches_masked_whole_tree():
    # the fused (per-leaf) route and the general one give the same bytes
    params, grads = three_layers(), three_layers()
    fused = optim.masked(optim.adam(0.1), optim.weights_only)
    general = optim.masked(optim.chain(optim.adam(0.1), optim.clip_by_global_norm(1e9)),
                           optim.weights_only)
    a, _ = run(fused, params, [grads] * 3)
    b, _ = run(general, params, [grads] * 3)
    assert_trees_equal(a, b)


def test_freeze_keeps_the_masked_params_bit_for_bit_through_a_train_step():
    model = fnn.sequential(fnn.layers.dense(4), fnn.layers.relu(), fnn.layers.dense(2))
    frozen = (DenseParams(True, True), None, DenseParams(False, False))
    opt = optim.chain(optim.adam(0.1), optim.freeze(frozen))
    ts = fnn.init_train_state(model, opt, fnn.random.key(0), (3,))
    # a −0.0 parameter would turn into +0.0 under a +0.0 update
    w = ts.params[0].w.copy()
    w[0, 0] = -0.0
    ts = fnn.TrainState((DenseParams(w, ts.params[0].b), None, ts.params[2]), ts.state,
                        ts.opt_state, ts.key, 0)
    step = fnn.make_train_step(model, fnn.losses.mse(), opt)
    x, t = np.ones((5, 3), np.float32), np.zeros((5, 2), np.float32)
    new = ts
    for _ in range(3):
        new, _ = step(new, x, t)
    for before, after in [(ts.params[0].w, new.params[0].w), (ts.params[0].b, new.params[0].b)]:
        assert after.tobytes() == before.tobytes()
    assert not np.array_equal(new.params[2].w, ts.params[2].w)
    assert np.signbit(new.params[0].w[0, 0])


def test_set_to_zero_gives_negative_zeros():
    u, _ = optim.set_to_zero().update(np.ones(3, np.float32), optim.EmptyState())
    assert u.dtype == np.float32 and np.signbit(u).all() and not u.any()


def test_masked_refuses_a_mask_of_another_tree():
    params = three_layers()
    with pytest.raises(TreeError, match="masked: mask must be"):
        optim.masked(optim.scale_by_adam(), (True, None)).init(params)


def test_chain_fuses_per_leaf_blocks_and_keeps_the_others_apart():
    fused = optim.chain(optim.scale_by_adam(), optim.scale_by_learning_rate(0.1))
    assert isinstance(fused.update, optim.transform.Leafwise)
    mixed = optim.chain(optim.clip_by_global_norm(1.0), optim.scale_by_adam(),
                        optim.scale_by_learning_rate(0.1))
    assert not isinstance(mixed.update, optim.transform.Leafwise)
    params, grads = three_layers(), three_layers()
    a, state = run(mixed, params, [grads] * 3)
    b, _ = run(optim.chain(optim.clip_by_global_norm(1.0), optim.adam(0.1)), params, [grads] * 3)
    assert_trees_equal(a, b)
    assert len(state) == 3 and state[1].count == 3


def test_a_scale_after_a_waiting_decay_multiplies_both():
    # −3·(−2·g + 0.5·p) with g = 1, p = 2: 6 − 3 = 3; fused (the decay waits for the
    # second scale, which multiplies g's factor and the decay's) and in separate passes
    fused = optim.chain(optim.scale_by_learning_rate(2.0), optim.add_decayed_weights(0.5),
                        optim.scale_by_learning_rate(3.0))
    apart = optim.chain(optim.scale_by_learning_rate(2.0), optim.clip_by_global_norm(1e9),
                        optim.add_decayed_weights(0.5), optim.clip_by_global_norm(1e9),
                        optim.scale_by_learning_rate(3.0))
    for transform in (fused, apart):
        u, _ = transform.update(np.array([1.0]), transform.init(np.array([2.0])), np.array([2.0]))
        assert u[0] == 3.0
    new, _ = optim.update_and_apply(fused, np.array([1.0]), fused.init(np.array([2.0])),
                                    np.array([2.0]))
    assert new[0] == 5.0
