"""Schedules at their boundaries: step 0, the end of the warm-up, the last step, past the end."""

import numpy as np
import pytest

from fnn import optim
from fnn.optim import schedules
from tests.optim.helpers import run


def values(schedule, steps):
    return [schedule(step) for step in steps]


def test_constant():
    assert values(schedules.constant(0.3), [0, 1, 10**6]) == [0.3, 0.3, 0.3]


def test_exponential_decay():
    # 1·0.5^(step/10): 1 at 0, 1/√2 at 5, ½ at 10, 2^−2.5 at 25
    np.testing.assert_allclose(values(schedules.exponential_decay(1.0, 10, 0.5), [0, 5, 10, 25]),
                               [1.0, 0.70710678118654752, 0.5, 0.17677669529663688], rtol=1e-15)
    # staircase: the exponent is rounded down
    assert values(schedules.exponential_decay(1.0, 10, 0.5, staircase=True),
                  [0, 9, 10, 19, 20]) == [1.0, 1.0, 0.5, 0.5, 0.25]


def test_step_decay():
    # 0.1, times 0.1 from step 100 on and times 0.5 more from step 200 on
    schedule = schedules.step_decay(0.1, {200: 0.5, 100: 0.1})
    np.testing.assert_allclose(values(schedule, [0, 99, 100, 199, 200, 10**6]),
                               [0.1, 0.1, 0.01, 0.01, 0.005, 0.005], rtol=1e-15)
    assert schedules.step_decay(0.1, {})(5) == 0.1


def test_cosine_decay():
    # 1·(0.9·½(1 + cos(π·step/100)) + 0.1): 1, then ½(1 + 1/√2)·0.9 + 0.1 at 25,
    # 0.55 half way, alpha = 0.1 at the last step and after
    np.testing.assert_allclose(
        values(schedules.cosine_decay(1.0, 100, alpha=0.1), [0, 25, 50, 100, 101, 10**6]),
        [1.0, 0.86819805153394639, 0.55, 0.1, 0.1, 0.1], rtol=1e-14)
    assert schedules.cosine_decay(2.0, 10)(10) == 0.0


def test_linear_warmup():
    assert values(schedules.linear_warmup(1.0, 10, init_value=0.2),
                  [0, 5, 10, 11, 10**6]) == pytest.approx([0.2, 0.6, 1.0, 1.0, 1.0], rel=1e-15)
    assert schedules.linear_warmup(0.5, 0)(0) == 0.5


def test_warmup_cosine_decay():
    # up from 0 to 1 over 10 steps, then half a cosine over the 100 steps left, to 0.1
    schedule = schedules.warmup_cosine_decay(0.0, 1.0, warmup_steps=10, decay_steps=110,
                                             end_value=0.1)
    np.testing.assert_allclose(values(schedule, [0, 5, 9, 10, 60, 110, 111, 10**6]),
                               [0.0, 0.5, 0.9, 1.0, 0.55, 0.1, 0.1, 0.1], rtol=1e-14)
    assert schedules.warmup_cosine_decay(0.0, 1.0, 0, 4)(0) == 1.0


def test_an_optimizer_sees_step_zero_first():
    # sgd with lr = 0, ½, 1, 1 and g = 1: p = 0, −½, −1.5, −2.5
    history, _ = run(optim.sgd(schedules.linear_warmup(1.0, 2)), np.array([0.0]),
                     [np.array([1.0])] * 4)
    np.testing.assert_allclose(history, [[0.0], [-0.5], [-1.5], [-2.5]], rtol=1e-15)


@pytest.mark.parametrize("make, message", [
    (lambda: schedules.exponential_decay(1.0, 0, 0.5), "transition_steps must be an integer >= 1"),
    (lambda: schedules.cosine_decay(1.0, 10.5), "decay_steps must be an integer"),
    (lambda: schedules.warmup_cosine_decay(0.0, 1.0, 10, 10), "decay_steps must be an integer >= 11"),
    (lambda: schedules.step_decay(1.0, {-1: 0.5}), "boundary must be an integer >= 0"),
    (lambda: schedules.linear_warmup(1.0, -1), "warmup_steps must be"),
    (lambda: schedules.cosine_decay(-0.1, 10), "init_value must be a finite number >= 0"),
    (lambda: schedules.exponential_decay(float("nan"), 10, 0.5), "init_value"),
    (lambda: schedules.warmup_cosine_decay(0.0, float("inf"), 1, 10), "peak_value"),
])
def test_bad_arguments_are_refused(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_schedules_are_pure_python_floats():
    for schedule in (schedules.exponential_decay(1.0, 3, 0.5), schedules.cosine_decay(1.0, 5),
                     schedules.warmup_cosine_decay(0.0, 1.0, 2, 5), schedules.step_decay(1.0, {1: 2})):
        assert type(schedule(3)) is float and schedule(3) == schedule(3)
