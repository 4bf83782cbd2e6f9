import math

import numpy as np
import pytest

from fnn import initializers as init
from fnn import random


def test_fans_follow_the_fan_in_fan_out_convention():
    assert init.fans((7,)) == (7, 7)
    assert init.fans((784, 500)) == (784, 500)
    assert init.fans((5, 5, 3, 30)) == (75, 750)


def test_zeros():
    w = init.zeros(random.key(0), (3, 2), np.float64)
    assert w.dtype == np.float64 and not w.any()


@pytest.mark.parametrize("factory, expected_std", [
    (lambda: init.normal(0.01), lambda fi, fo: 0.01),
    (init.glorot_normal, lambda fi, fo: math.sqrt(2 / (fi + fo))),
    (init.he_normal, lambda fi, fo: math.sqrt(2 / fi)),
    (init.glorot_uniform, lambda fi, fo: math.sqrt(6 / (fi + fo)) / math.sqrt(3)),
    (init.he_uniform, lambda fi, fo: math.sqrt(6 / fi) / math.sqrt(3)),
])
def test_scale_matches_the_formula(factory, expected_std):
    shape = (400, 300)
    w = factory()(random.key(1), shape, np.float32)
    assert w.shape == shape and w.dtype == np.float32
    assert abs(w.std() / expected_std(*shape) - 1) < 0.02
    assert abs(w.mean()) < 0.05 * expected_std(*shape)


@pytest.mark.parametrize("factory", [init.glorot_uniform, init.he_uniform])
def test_uniform_limits(factory):
    w = factory()(random.key(2), (50, 60), np.float64)
    fi, fo = init.fans((50, 60))
    limit = math.sqrt(6 / (fi + fo)) if factory is init.glorot_uniform else math.sqrt(6 / fi)
    assert np.abs(w).max() <= limit and np.abs(w).max() > 0.95 * limit


def test_initialize_rejects_an_uncalled_factory_with_a_hint():
    with pytest.raises(TypeError, match=r"glorot_uniform\(\), not glorot_uniform"):
        init.initialize("dense(3) w_init", init.glorot_uniform, random.key(0), (2, 3), np.float32)
