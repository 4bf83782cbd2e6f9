"""Numerics shared by layers and losses."""

from __future__ import annotations

import numpy as np

__all__ = ["erf", "erfc", "logistic", "logistic_tail", "logistic_from_tail"]


def logistic_tail(x: np.ndarray) -> np.ndarray:
    """e^−|x| as a new array: in (0, 1], so nothing built from it overflows.

    With e = e^−|x| and r = 1/(1 + e): σ(|x|) = r, σ(−|x|) = e·r and σ'(x) = e·r²,
    each within a few ulps over the whole range (no 1 − σ, which loses the tail).
    """
    e = np.abs(x)
    np.negative(e, out=e)
    np.exp(e, out=e)
    return e


def logistic_from_tail(x: np.ndarray, e: np.ndarray) -> np.ndarray:
    """σ(x) as a new array from ``e = logistic_tail(x)``: 1/(1 + e) where x ≥ 0, e/(1 + e) elsewhere."""
    y = e + 1
    np.divide(1, y, out=y)
    np.multiply(y, e, out=y, where=x < 0)
    return y


def logistic(x: np.ndarray) -> np.ndarray:
    """σ(x) = 1 / (1 + e^−x) as a new array, within a few ulps for x of any size (never overflows)."""
    return logistic_from_tail(x, logistic_tail(x))


# W. J. Cody's rational approximations (Math. Comp. 23, 1969; his CALERF routine), in
# three ranges of |x|: erf itself below 0.46875, erfc·e^(x²) up to 4 and, above, in 1/x².
_ERF_A = (3.16112374387056560e00, 1.13864154151050156e02, 3.77485237685302021e02,
          3.20937758913846947e03, 1.85777706184603153e-1)
_ERF_B = (2.36012909523441209e01, 2.44024637934444173e02, 1.28261652607737228e03,
          2.84423683343917062e03)
_ERFC_C = (5.64188496988670089e-1, 8.88314979438837594e00, 6.61191906371416295e01,
           2.98635138197400131e02, 8.81952221241769090e02, 1.71204761263407058e03,
           2.05107837782607147e03, 1.23033935479799725e03, 2.15311535474403846e-8)
_ERFC_D = (1.57449261107098347e01, 1.17693950891312499e02, 5.37181101862009858e02,
           1.62138957456669019e03, 3.29079923573345963e03, 4.36261909014324716e03,
           3.43936767414372164e03, 1.23033935480374942e03)
_ERFC_P = (3.05326634961232344e-1, 3.60344899949804439e-1, 1.25781726111229246e-1,
           1.60837851487422766e-2, 6.58749161529837803e-4, 1.63153871373020978e-2)
_ERFC_Q = (2.56852019228982242e00, 1.87295284992346047e00, 5.27905102951428412e-1,
           6.05183413124413191e-2, 2.33520497626869185e-3)
_ONE_OVER_SQRT_PI = 0.56418958354775628695


def _ratio(z: np.ndarray, num: tuple[float, ...], den: tuple[float, ...]) -> np.ndarray:
    """Cody's P(z)/Q(z): num[-1] leads the numerator, Q is monic, both Horner's rule."""
    top, bottom = num[-1] * z, z.copy()
    for a, b in zip(num[:-2], den[:-1], strict=True):
        top += a
        top *= z
        bottom += b
        bottom *= z
    top += num[-2]
    bottom += den[-1]
    top /= bottom
    return top


def _erfc_tail(y: np.ndarray) -> np.ndarray:
    """erfc(y) for y > 0.46875, from Cody's two outer ranges."""
    y = np.minimum(y, 27.3)  # erfc(27.3) rounds to 0 even among subnormals: inf needs no case
    out = np.empty_like(y)
    mid = y <= 4.0
    out[mid] = _ratio(y[mid], _ERFC_C, _ERFC_D)
    far = y[~mid]
    inv_sq = 1 / (far * far)
    out[~mid] = (_ONE_OVER_SQRT_PI - inv_sq * _ratio(inv_sq, _ERFC_P, _ERFC_Q)) / far
    # Undo the e^(y²) scaling; y² split as a 1/16-grid square plus the rest, as Cody does,
    # so the rounding of y² is not magnified by the exponential.
    grid = np.trunc(y * 16) / 16
    out *= np.exp(-grid * grid) * np.exp(-(y - grid) * (y + grid))
    return out


def _erf_near(z: np.ndarray) -> np.ndarray:
    """erf(z) for |z| <= 0.46875, Cody's first range."""
    return z * _ratio(z * z, _ERF_A, _ERF_B)


def erf(x: np.ndarray) -> np.ndarray:
    """The error function, element by element, as a new float64 array.

    numpy has none; this is W. J. Cody's rational approximation (the one behind
    most C libraries' erf), accurate to a few units in the last place of float64
    (tested against ``math.erf``).
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.abs(x)
    out = np.empty_like(x)
    near = y <= 0.46875
    out[near] = _erf_near(x[near])
    tail = ~near
    erf_tail = 1 - _erfc_tail(y[tail])
    out[tail] = np.copysign(erf_tail, x[tail])
    return out


def erfc(x: np.ndarray) -> np.ndarray:
    """1 − erf(x), element by element, as a new float64 array, from the same approximation:
    a few ulps everywhere, also far out where 1 − erf(x) would cancel to 0 (x ≳ 6)."""
    x = np.asarray(x, dtype=np.float64)
    out = np.empty_like(x)
    near = np.abs(x) <= 0.46875
    out[near] = 1 - _erf_near(x[near])
    tail = ~near
    upper = _erfc_tail(np.abs(x[tail]))
    out[tail] = np.where(x[tail] > 0, upper, 2 - upper)
    return out
