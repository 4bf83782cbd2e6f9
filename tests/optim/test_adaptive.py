"""adagrad, rmsprop, adam and adamw against their formulas, on numbers worked by hand."""

import numpy as np
import pytest

from fnn import optim
from fnn.errors import TreeError
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
    np.testing.assert_allclose(state.mu, [0.75, -0.5], rtol=1e-14)
    np.testing.assert_allclose(state.nu, [37 / 16, 37 / 4], rtol=1e-14)
    assert state.step == 3


def test_adam_first_step_is_lr_times_the_sign_of_the_gradient():
    # At t = 1, m̂ = g and v̂ = g² exactly, so u = −lr·g/(|g| + eps) ≈ −lr·sign(g),
    # whatever the size of g: the bias correction at work with the default betas.
    g = np.array([1e-3, -5.0, 40.0])
    history, _ = run(optim.adam(0.01), np.zeros(3), [g])
    np.testing.assert_allclose(history[0], [-0.01, 0.01, -0.01], rtol=1e-5)


def test_adam_takes_a_schedule():
    # With a constant gradient m̂ = g and v̂ = g² at every step, so with eps = 0 each
    # update is −lr(step): −0.1 at step 0, then −0.2 at step 1.
    history, state = run(optim.adam(lambda step: 0.1 * (step + 1), eps=0.0),
                         np.array([0.0]), [np.array([3.0])] * 2)
    np.testing.assert_allclose(history, [[-0.1], [-0.3]], rtol=1e-14)
    assert state.step == 2


def test_adam_refuses_a_state_for_other_params():
    transform = optim.adam()
    state = transform.init({"a": np.zeros(2)})
    with pytest.raises(TreeError, match="adam.*state made by init"):
        transform.update({"b": np.zeros(2)}, state)


@pytest.mark.parametrize("kwargs, message", [
    ({"b1": 1.0}, "b1 must lie in"), ({"b2": -0.1}, "b2 must lie in"),
    ({"eps": -1.0}, "eps must be"), ({"lr": 0.0}, "lr must be"),
])
def test_adam_refuses_bad_hyper_parameters(kwargs, message):
    with pytest.raises(ValueError, match=f"adam: {message}"):
        optim.adam(**kwargs)
