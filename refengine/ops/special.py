"""Special functions: erf, erfc, lgamma, digamma, polygamma.

numpy has none of them, and refengine depends on numpy only, so erf/erfc/lgamma
map the C library's ``math`` functions over the elements and digamma/polygamma
follow torch's own algorithms (recurrence up to x >= 10, then the asymptotic
series; reflection for negative x) so values agree with torch to rounding.
Each derivative is the next function of the family (lgamma' = digamma,
digamma' = polygamma(1), polygamma(n)' = polygamma(n + 1)), so every order of
derivative exists, as in torch.
"""
from __future__ import annotations

import math

import numpy as np

from refengine.function import ArrayFunction
from refengine.ops.common import dual, is_var, method
from refengine.ops.pointwise import as_float, make_unary, register

_exp = dual(np.exp, "exp")
_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)


def _elementwise(fn):
    """``fn`` (a float -> float of ``math``) over an array, computed in float64."""
    u = np.frompyfunc(fn, 1, 1)

    def run(x):
        return np.asarray(u(np.asarray(x, np.float64)), np.float64).astype(x.dtype, copy=False)
    return run


def _lgamma1(v: float) -> float:
    try:
        return math.lgamma(v)
    except ValueError:  # the poles 0, -1, -2, ...: torch answers +inf
        return math.inf


np_erf = _elementwise(math.erf)
np_erfc = _elementwise(math.erfc)
np_lgamma = _elementwise(_lgamma1)

# torch's calc_digamma (aten/src/ATen/native/Math.h): its constants, so results match to rounding
_PSI_10 = 2.25175258906672110764
_DIGAMMA_A = (8.33333333333333333333E-2, -2.10927960927960927961E-2, 7.57575757575757575758E-3,
              -4.16666666666666666667E-3, 3.96825396825396825397E-3, -8.33333333333333333333E-3,
              8.33333333333333333333E-2)


def np_digamma(x):
    """digamma in float64: -inf at +0 (+inf at -0), nan at negative integers, as torch."""
    dt = x.dtype
    x = np.array(x, np.float64, copy=True, ndmin=0)
    out = np.empty_like(x)
    with np.errstate(all="ignore"):
        neg = x < 0
        xr = np.where(neg, 1 - x, x)              # reflection: psi(x) = psi(1 - x) - pi / tan(pi x)
        corr = np.where(neg, np.pi / np.tan(np.pi * np.modf(x)[0]), 0.0)
        res = np.zeros_like(x)
        xs = xr.copy()
        small = xs < 10
        while np.any(small):                       # psi(x) = psi(x + 1) - 1 / x
            res = np.where(small, res - 1 / xs, res)
            xs = np.where(small, xs + 1, xs)
            small = xs < 10
        z = 1 / (xs * xs)
        poly = np.zeros_like(x)
        for c in _DIGAMMA_A:
            poly = poly * z + c
        y = np.where(xs < 1e17, z * poly, 0.0)
        out = res + np.log(xs) - 0.5 / xs - y
        out = np.where(xs == 10, res + _PSI_10, out)
        out = out - corr
        out = np.where(neg & (x == np.trunc(x)), np.nan, out)
        out = np.where(x == 0, np.copysign(np.inf, -x), out)
        out = np.where(np.isnan(x), np.nan, out)
        out = np.where(x == np.inf, np.inf, out)
    return out.astype(dt, copy=False)


# Bernoulli numbers B2, B4, ..., B16 for the asymptotic series of polygamma
_B2K = (1 / 6, -1 / 30, 1 / 42, -1 / 30, 5 / 66, -691 / 2730, 7 / 6, -3617 / 510)


def np_trigamma(x):
    """polygamma(1, x) by torch's calc_trigamma (reflection below 0.5, six recurrence steps, series):
    +inf at 0 but, like torch, a huge finite value at the negative integers (sin(pi x) != 0)."""
    dt = x.dtype
    x = np.array(x, np.float64, copy=True, ndmin=0)
    with np.errstate(all="ignore"):
        refl = x < 0.5
        s = np.sin(np.pi * x)
        res = np.where(refl, -(np.pi * np.pi) / (s * s), 0.0)
        xs = np.where(refl, 1 - x, x)
        for _ in range(6):
            res = res + 1 / (xs * xs)
            xs = xs + 1
        ixx = 1 / (xs * xs)
        res = res + (1 + 1 / (2 * xs) + ixx * (1. / 6 - ixx * (1. / 30 - ixx * (1. / 42)))) / xs
        out = np.where(refl, -res, res)
    return out.astype(dt, copy=False)


def np_polygamma(n: int, x):
    """polygamma(n, x): digamma, trigamma, and for n >= 2 (-1)^(n+1) n! zeta(n + 1, x) by
    recurrence to x >= 20 and the asymptotic series; (-1)^(n+1) inf at the poles 0, -1, ... as torch."""
    if n == 0:
        return np_digamma(x)
    if n == 1:
        return np_trigamma(x)
    dt = x.dtype
    x = np.array(x, np.float64, copy=True, ndmin=0)
    with np.errstate(all="ignore"):
        acc = np.zeros_like(x)
        xs = x.copy()
        low = xs < 20
        while np.any(low & np.isfinite(xs)):
            acc = np.where(low, acc + xs ** -(n + 1), acc)
            xs = np.where(low, xs + 1, xs)
            low = xs < 20
        # sum_k>=0 (x+k)^-(n+1) ~ x^-n / n + x^-(n+1) / 2 + sum_j B2j (n+1)...(n+2j-1) / (2j)! x^-(n+2j)
        tail = xs ** -n / n + 0.5 * xs ** -(n + 1)
        for j, b in enumerate(_B2K, 1):
            tail = tail + b * math.prod(range(n + 1, n + 2 * j)) / math.factorial(2 * j) * xs ** -(n + 2 * j)
        sign = (-1) ** (n + 1)
        out = sign * math.factorial(n) * (acc + tail)
        out = np.where((x <= 0) & (x == np.trunc(x)), sign * np.inf, out)
        out = np.where(np.isnan(x), np.nan, out)
        out = np.where(x == np.inf, np.nan, out)  # torch's zeta(n + 1, inf) is nan; -inf is a pole
    return out.astype(dt, copy=False)


def _polygamma(n, x):
    return polygamma(n, x) if is_var(x) else np_polygamma(n, x)


_digamma = dual(np_digamma, "digamma")

Erf = make_unary("erf", "ErfBackward0", np_erf, lambda a, r: _TWO_OVER_SQRT_PI * _exp(-(a * a)))
Erfc = make_unary("erfc", "ErfcBackward0", np_erfc, lambda a, r: -_TWO_OVER_SQRT_PI * _exp(-(a * a)))
Lgamma = make_unary("lgamma", "LgammaBackward0", np_lgamma, lambda a, r: _digamma(a))
Digamma = make_unary("digamma", "DigammaBackward0", np_digamma, lambda a, r: _polygamma(1, a))

register(globals(), "erf", Erf, "The error function (torch.erf).")
register(globals(), "erfc", Erfc, "The complementary error function ``1 - erf(x)``, accurate for large x.")
register(globals(), "lgamma", Lgamma, "``log|Gamma(x)|`` (torch.lgamma); +inf at the poles.")
register(globals(), "digamma", Digamma, "``d/dx lgamma(x)`` (torch.digamma); -inf at 0, nan at negative integers.")


class Polygamma(ArrayFunction):
    node_name = "PolygammaBackward0"

    @staticmethod
    def forward(ctx, a, n=1):
        x = as_float(a)
        ctx.n = n
        ctx.save_for_backward(a)
        return np_polygamma(n, x)

    @staticmethod
    def backward(ctx, g):
        (a,) = ctx.saved_tensors
        return g * _polygamma(ctx.n + 1, a)


def polygamma(n, input):
    """The n-th derivative of digamma (torch.polygamma(n, input)); n >= 0."""
    if not isinstance(n, (int, np.integer)) or isinstance(n, bool):
        raise TypeError(f"polygamma(): argument 'n' must be int, not {type(n).__name__}")
    if n < 0:
        raise RuntimeError("polygamma(n, x) does not support negative n.")
    return Polygamma.apply(input, n=int(n))  # n == 0 too: torch's node is PolygammaBackward0 then


@method("polygamma")
def _polygamma_method(input, n):
    """``x.polygamma(n)`` (torch's method puts n second)."""
    return polygamma(n, input)
