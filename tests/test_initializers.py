import math

import numpy as np
import pytest

from fnn import initializers as init
from fnn import random
from fnn.errors import ConfigError


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
    (lambda: init.variance_scaling(0.5, "fan_out"), lambda fi, fo: math.sqrt(0.5 / fo)),
    (lambda: init.variance_scaling(3.0, "fan_avg", "uniform"),
     lambda fi, fo: math.sqrt(3.0 / ((fi + fo) / 2))),
])
def test_scale_matches_the_formula(factory, expected_std):
    shape = (400, 300)
    w = factory()(random.key(1), shape, np.float32)
    assert w.shape == shape and w.dtype == np.float32
    assert abs(w.std() / expected_std(*shape) - 1) < 0.02
    assert abs(w.mean()) < 0.05 * expected_std(*shape)


@pytest.mark.parametrize("factory, shape, limit", [
    (init.glorot_uniform, (50, 60), math.sqrt(6 / (50 + 60))),
    (init.he_uniform, (50, 60), math.sqrt(6 / 50)),
    # PyTorch's default, on a conv2d weight (kh, kw, in, out): U(±1/√fan_in), fan_in = 3·3·16
    (lambda: init.variance_scaling(1 / 3, "fan_in", "uniform"), (3, 3, 16, 32),
     1 / math.sqrt(3 * 3 * 16)),
])
def test_uniform_limits(factory, shape, limit):
    w = factory()(random.key(2), shape, np.float64)
    assert np.abs(w).max() <= limit and np.abs(w).max() > 0.95 * limit


def test_initialize_rejects_an_uncalled_factory_with_a_hint():
    with pytest.raises(TypeError, match=r"glorot_uniform\(\), not glorot_uniform"):
        init.initialize("dense(3) w_init", init.glorot_uniform, random.key(0), (2, 3), np.float32)


NAMED = [  # each factory, its distribution, and its std (normal) or limit (uniform)
    (init.he_normal, "normal", lambda fi, fo: math.sqrt(2 / fi)),
    (init.glorot_normal, "normal", lambda fi, fo: math.sqrt(2 / (fi + fo))),
    (init.he_uniform, "uniform", lambda fi, fo: math.sqrt(6 / fi)),
    (init.glorot_uniform, "uniform", lambda fi, fo: math.sqrt(6 / (fi + fo))),
]


@pytest.mark.parametrize("factory, distribution, scale", NAMED)
@pytest.mark.parametrize("shape", [(30, 20), (7,), (3, 3, 5, 8), (13, 6)])  # (13, 6): odd fan sum
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_named_factories_draw_the_bytes_of_their_formula(factory, distribution, scale, shape,
                                                         dtype):
    # The formulas as these factories computed them before they became variance_scaling's
    # cases: saved runs and snapshots keep their initial weights.
    s = scale(*init.fans(shape))
    expected = (init.normal(s)(random.key(4), shape, dtype) if distribution == "normal"
                else random.uniform(random.key(4), shape, -s, s, dtype))
    assert factory()(random.key(4), shape, dtype).tobytes() == expected.tobytes()


@pytest.mark.parametrize("args, message", [
    ((0.0,), "scale must be a positive, finite number, got 0.0"),
    ((float("nan"),), "scale must be a positive, finite number, got nan"),
    ((True,), "scale must be a positive, finite number, got True"),
    ((1.0, "fan_sum"), "expected mode in .*got 'fan_sum'"),
    ((1.0, "fan_in", "truncated_normal"), "expected distribution in .*got 'truncated_normal'"),
])
def test_variance_scaling_rejects_bad_settings(args, message):
    with pytest.raises(ConfigError, match=rf"variance_scaling: {message}"):
        init.variance_scaling(*args)
