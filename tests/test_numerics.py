import math

import numpy as np

from fnn.numerics import erf, erfc


def test_erf_matches_math_erf_to_the_last_digits():
    rng = np.random.default_rng(0)
    # every range of Cody's approximation, its borders, and far out where erf is ±1
    x = np.concatenate([rng.normal(size=20000) * 3, np.linspace(-7, 7, 20001),
                        [0.46875, -0.46875, 4.0, -4.0, 26.0, 1e-300, 5e-324, 1e10, 1e300]])
    expected = np.array([math.erf(v) for v in x])
    assert np.all(np.abs(erf(x) - expected) <= 4 * np.spacing(np.abs(expected)))


def test_erf_at_special_values_and_dtypes():
    out = erf(np.array([0.0, -0.0, np.inf, -np.inf, np.nan]))
    np.testing.assert_array_equal(out, [0.0, -0.0, 1.0, -1.0, np.nan])
    assert np.signbit(out[1]) and out.dtype == np.float64
    assert erf(np.float32(0.5)).dtype == np.float64 and erf(np.float32(0.5)) == math.erf(0.5)


def test_erfc_matches_math_erfc_to_the_last_digits_in_both_tails():
    rng = np.random.default_rng(1)
    # far out on the right erfc is tiny where 1 − erf is 0; on the left it approaches 2
    x = np.concatenate([rng.normal(size=20000) * 4, np.linspace(-7, 27, 34001),
                        [0.46875, -0.46875, 4.0, -4.0, 26.5, 1e-300, 5e-324, -1e10]])
    expected = np.array([math.erfc(v) for v in x])
    assert np.all(np.abs(erfc(x) - expected) <= 8 * np.spacing(np.abs(expected)))
    out = erfc(np.array([np.inf, -np.inf, 30.0, np.nan]))
    np.testing.assert_array_equal(out, [0.0, 2.0, 0.0, np.nan])
