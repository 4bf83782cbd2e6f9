"""adagrad, rmsprop, adam and adamw against their formulas, on numbers worked by hand."""

import numpy as np
import pytest

from fnn import optim
from fnn.errors import TreeError
from fnn.layers import DenseParams
from fnn.testing import assert_trees_equal
from tests.optim.helpers import run


def test_adam_on_known_numbers():
    # lr = 0.1, b1 = 0.5, b2 = 0.75, eps = 0.5 (large, so that where it is added shows);
    # two coordinates, both starting at 1, with t = step + 1:
    #   m ← ½m + ½g, v ← ¾v + ¼g², m̂ = m/(1 − ½^t), v̂ = v/(1 − ¾^t), u = −0.1·m̂/(√v̂ + ½)
    # coordinate 0, g = 2, −2, 2:
    #   t=1: m = 1,    v = 1,     m̂ = 1/½ = 2,       v̂ = 1/¼ = 4,          u = −0.2/2.5 = −0.08
    #   t=2: m = −½,   v = 7/4,   m̂ = −½/¾ = −2/3,   v̂ = (7/4)/(7/16) = 4,  u = +2/75
    #   t=3: m = ¾,    v = 37/16, m̂ = ¾/(7/8) = 6/7, v̂ = (37/16)/(37/64) = 4, u = −6/175
    # coordinate 1, g = 2, 5, −4:
    #   t=1: as above,                                                     u = −0.08
    #   t=2: m = 3,    v = 7,     m̂ = 3/¾ = 4,       v̂ = 7/(7/16) = 16,     u = −0.4/4.5 = −4/45
    #   t=3: m = −½,   v = 37/4,  m̂ = −½/(7/8) = −4/7, v̂ = (37/4)/(37/64) = 16, u = +4/315
    # (the book's form, −lr·√(1−b2^t)/(1−b1^t)·m/(√v + eps), gives −1/15 at t=1 instead of −0.08)
    grads = [np.array([2.0, 2.0]), np.array([-2.0, 5.0]), np.array([2.0, -4.0])]
    history, state = run(optim.adam(0.1, b1=0.5, b2=0.75, eps=0.5), np.array([1.0, 1.0]), grads)
    np.testing.assert_allclose(history, [
        [0.92, 0.92],
        [0.92 + 2 / 75, 0.92 - 4 / 45],
        [0.92 + 2 / 75 - 6 / 175, 0.92 - 4 / 45 + 4 / 315],
    ], rtol=1e-14)
    np.testing.assert_allclose(state[0].mu, [0.75, -0.5], rtol=1e-14)
    np.testing.assert_allclose(state[0].nu, [37 / 16, 37 / 4], rtol=1e-14)
    assert state[0].count == 3


def test_adam_first_step_is_lr_times_the_sign_of_the_gradient():
    # At t = 1, m̂ = g and v̂ = g² exactly, so u = −lr·g/(|g| + eps) ≈ −lr·sign(g),
    # whatever the size of g: the bias correction at work with the default betas.
    g = np.array([1e-3, -5.0, 40.0])
    history, _ = run(optim.adam(0.01), np.zeros(3), [g])
    np.testing.assert_allclose(history[0], [-0.01, 0.01, -0.01], rtol=1e-5)


def test_adam_takes_a_schedule():
    # With a constant gradient m̂ = g and v̂ = g² at every step, so with eps ≈ 0 each
    # update is −lr(step): −0.1 at step 0, then −0.2 at step 1.
    history, state = run(optim.adam(lambda step: 0.1 * (step + 1), eps=1e-12),
                         np.array([0.0]), [np.array([3.0])] * 2)
    np.testing.assert_allclose(history, [[-0.1], [-0.3]], rtol=1e-10)
    assert state[0].count == 2 and state[1] == optim.ScaleByScheduleState(2)


def test_adam_refuses_a_state_for_other_params():
    transform = optim.adam()
    state = transform.init({"a": np.zeros(2)})
    with pytest.raises(TreeError, match=r"adam.*state made by init"):
        transform.update({"b": np.zeros(2)}, state)


@pytest.mark.parametrize("kwargs, message", [
    ({"b1": 1.0}, "b1 must be a number in"), ({"b2": -0.1}, "b2 must be a number in"),
    ({"eps": -1.0}, "eps must be"), ({"lr": 0.0}, "lr must be"),
])
def test_adam_refuses_bad_hyper_parameters(kwargs, message):
    with pytest.raises(ValueError, match=f"adam: {message}"):
        optim.adam(**kwargs)


def test_adagrad_on_known_numbers():
    # h ← h + g², u = −0.1·g/(√h + eps) with eps = 1 (outside the root); p0 = 1:
    #   g = 3:  h = 9,   u = −0.3/(3 + 1)   = −0.075
    #   g = 4:  h = 25,  u = −0.4/(5 + 1)   = −1/15
    #   g = 12: h = 169, u = −1.2/(13 + 1)  = −3/35
    grads = [np.array([3.0]), np.array([4.0]), np.array([12.0])]
    history, state = run(optim.adagrad(0.1, eps=1.0), np.array([1.0]), grads)
    np.testing.assert_allclose(history, [[0.925], [0.925 - 1 / 15], [0.925 - 1 / 15 - 3 / 35]],
                               rtol=1e-14)
    np.testing.assert_allclose(state[0].sum_of_squares, [169.0])


def test_rmsprop_on_known_numbers():
    # h ← ¾h + ¼g², u = −0.1·g/(√h + 1); two coordinates starting at 1:
    #   coordinate 0, g = 4, 2, 2: h = 4, ¾·4 + 1 = 4, 4;  u = −0.4/3, −0.2/3, −0.2/3
    #   coordinate 1, g = 2, 0, 0: h = 1, ¾, 9/16;         u = −0.2/2 = −0.1, 0, 0
    grads = [np.array([4.0, 2.0]), np.array([2.0, 0.0]), np.array([2.0, 0.0])]
    history, state = run(optim.rmsprop(0.1, decay=0.75, eps=1.0), np.array([1.0, 1.0]), grads)
    np.testing.assert_allclose(history, [
        [1 - 0.4 / 3, 0.9], [1 - 0.6 / 3, 0.9], [1 - 0.8 / 3, 0.9]], rtol=1e-14)
    np.testing.assert_allclose(state[0].nu, [4.0, 9 / 16], rtol=1e-14)


def test_adamw_decays_decoupled_and_only_where_masked():
    # The gradients and hyper-parameters of test_adam_on_known_numbers' coordinate 0,
    # whose Adam directions m̂/(√v̂ + eps) were 0.8, −4/15 and 6/7/2.5 = 12/35;
    # with weight_decay = 0.5, u = −0.1·(direction + 0.5·p), from p0 = 1:
    #   t=1: u = −0.1·(0.8 + 0.5)           = −0.13,  p1 = 0.87
    #   t=2: u = −0.1·(−4/15 + 0.435)       ,         p2 = 0.87 + 2/75 − 0.0435
    #   t=3: u = −0.1·(12/35 + 0.5·p2)      ,         p3 = 0.95·p2 − 6/175
    # The bias b is masked out (weights_only): it moves as plain Adam would.
    p2 = 0.87 + 2 / 75 - 0.0435
    params = DenseParams(np.array([1.0]), np.array([1.0]))
    grads = [DenseParams(np.array([g]), np.array([g])) for g in (2.0, -2.0, 2.0)]
    history, _ = run(optim.adamw(0.1, b1=0.5, b2=0.75, eps=0.5, weight_decay=0.5,
                                 mask=optim.weights_only), params, grads)
    np.testing.assert_allclose([h.w[0] for h in history], [0.87, p2, 0.95 * p2 - 6 / 175],
                               rtol=1e-14)
    np.testing.assert_allclose([h.b[0] for h in history],
                               [0.92, 0.92 + 2 / 75, 0.92 + 2 / 75 - 6 / 175], rtol=1e-14)


def test_adamw_without_decay_is_adam():
    params, grads = np.array([1.0, -2.0]), [np.array([0.3, -1.0]), np.array([2.0, 0.5])]
    (history, state), (adam_history, adam_state) = (
        run(optim.adamw(0.1, weight_decay=0.0), params, grads), run(optim.adam(0.1), params, grads))
    assert_trees_equal(history, adam_history)
    assert_trees_equal(state[0], adam_state[0])


def test_adamw_needs_the_params():
    transform = optim.adamw()
    with pytest.raises(ValueError, match=r"adamw: .*needs the params"):
        transform.update(np.ones(2), transform.init(np.ones(2)))
