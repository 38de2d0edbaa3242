"""More elementwise ops (issue 16): unary maths and binary broadcasting ops.

Same conventions as ``elementwise.py``: domains keep inputs a margin away from poles and
branch points (tan's poles at pi/2 + k*pi, asin/acos/atanh inside (-1, 1), acosh > 1,
logarithms > 0, rsqrt/reciprocal away from 0); references are float64 numpy (math.erf /
math.erfc through np.vectorize: scipy is not a dependency).
"""
from __future__ import annotations

from dataclasses import replace

import math
from typing import Any

import numpy as np
from hypothesis import strategies as st

from conformance.spec import shapes as S
from conformance.spec.opspec import Domain, OpSpec, Sample

FAMILY = "elementwise_more"
POS = Domain(0.1, 3.0)
NONZERO = Domain(-3.0, 3.0, avoid=(0.0,), margin=0.3)
UNIT = Domain(-0.9, 0.9)  # inside (-1, 1), 0.1 from the branch points
TAN = Domain(-3.0, 3.0, avoid=(-math.pi / 2, math.pi / 2), margin=0.25)  # poles of tan in [-3, 3]


def _unary(draw: Any) -> Sample:
    return Sample((S.shape(draw),))


def _binary(draw: Any) -> Sample:
    return Sample(S.broadcast_pair(draw))


def _unary_spec(name: str, ref: Any, domain: Domain | None = None, notes: str = "") -> OpSpec:
    return OpSpec(name=name, family=FAMILY, arity=1, template=f"M.{name}($x0)", sample=_unary, reference=ref,
                  domains=(domain,) if domain else (), torch_equivalent=f"torch.{name}", notes=notes)


def _binary_spec(name: str, ref: Any, domains: tuple[Domain, ...] = (), notes: str = "") -> OpSpec:
    return OpSpec(name=name, family=FAMILY, arity=2, template=f"M.{name}($x0, $x1)", sample=_binary, reference=ref,
                  domains=domains, torch_equivalent=f"torch.{name}", notes=notes)


_erf = np.vectorize(math.erf, otypes=[np.float64])
_erfc = np.vectorize(math.erfc, otypes=[np.float64])

SPECS = [
    # -- unary, smooth on their domains
    _unary_spec("tan", np.tan, TAN),
    _unary_spec("asin", np.arcsin, UNIT),
    _unary_spec("acos", np.arccos, UNIT),
    _unary_spec("atan", np.arctan),
    _unary_spec("sinh", np.sinh),
    _unary_spec("cosh", np.cosh),
    _unary_spec("asinh", np.arcsinh),
    _unary_spec("acosh", np.arccosh, Domain(1.1, 3.0)),
    _unary_spec("atanh", np.arctanh, UNIT),
    _unary_spec("log1p", np.log1p, Domain(-0.9, 3.0)),
    _unary_spec("expm1", np.expm1),
    _unary_spec("log2", np.log2, POS),
    _unary_spec("log10", np.log10, POS),
    _unary_spec("exp2", np.exp2),
    _unary_spec("rsqrt", lambda x: 1.0 / np.sqrt(x), POS),
    _unary_spec("reciprocal", lambda x: 1.0 / x, NONZERO),
    _unary_spec("square", lambda x: x * x),
    _unary_spec("erf", lambda x: _erf(x), notes="reference: math.erf through np.vectorize"),
    _unary_spec("erfc", lambda x: _erfc(x), notes="reference: math.erfc through np.vectorize"),
]

# -- binary, broadcasting like add/mul (gradients summed back to each input's shape)
SPECS += [
    # y kept away from 0: atan2's branch cut (x < 0, y = 0) and its singular origin
    _binary_spec("atan2", np.arctan2, (NONZERO, Domain()), notes="atan2(y, x): y = $x0 kept 0.3 from 0"),
    # one side kept away from 0, so the pair never nears the origin, where hypot is not differentiable
    _binary_spec("hypot", np.hypot, (NONZERO, Domain())),
    _binary_spec("logaddexp", np.logaddexp),
    _binary_spec("xlogy", lambda x, y: x * np.log(y), (Domain(), POS), notes="x * log(y), y > 0.1"),
]


# -- special functions: lgamma and digamma have poles at 0, -1, -2, ...; kept 0.2 away
GAMMA = Domain(-3.0, 3.0, avoid=(-3.0, -2.0, -1.0, 0.0), margin=0.2)
_lgamma = np.vectorize(math.lgamma, otypes=[np.float64])  # log|Gamma(x)|, as torch.lgamma
# asymptotic series of digamma: ln x - 1/(2x) - sum_k B_2k / (2k x^2k), k = 1..7
_PSI_COEF = (1 / 12, -1 / 120, 1 / 252, -1 / 240, 1 / 132, -691 / 32760, 1 / 12)


def _digamma1(x: float) -> float:
    """digamma in float64, independent of refengine's: reflection below 0.5, recurrence up to x >= 10,
    then the asymptotic series (truncation < 1e-16 there); agrees with 50-digit mpmath to ~1e-15."""
    if x < 0.5:
        return _digamma1(1.0 - x) - math.pi / math.tan(math.pi * x)
    acc = 0.0
    while x < 10.0:
        acc -= 1.0 / x
        x += 1.0
    inv2 = 1.0 / (x * x)
    s, p = 0.0, inv2
    for c in _PSI_COEF:
        s += c * p
        p *= inv2
    return acc + math.log(x) - 0.5 / x - s


_digamma = np.vectorize(_digamma1, otypes=[np.float64])

#: torch 2.13's float64 trigamma (digamma's derivative) is a low-precision series (pytorch/pytorch#4399): measured
#: against mpmath.psi(1, x) on 30,000 points of [-5, 10] plus the simple numbers hypothesis draws (k/8), at least
#: 0.05 from the poles, its relative error reaches 4.9e-10 (x = 1.135) and its absolute error 1.5e-9 (x = 0.5),
#: both over the table's 1e-10.  Twice each, as atol (on compare's scale >= 1: a program's sum of such terms keeps
#: their absolute errors while its value cancels) and rtol vs torch; a wrong derivative is off by O(1).  Found by
#: jax and HIPS autograd, whose exact trigamma failed against it.
DIGAMMA_TORCH_TOL = {("torch-float64", "float64"): (3e-9, 1e-9)}

SPECS += [
    _unary_spec("lgamma", lambda x: _lgamma(x), GAMMA, notes="reference: math.lgamma through np.vectorize"),
    replace(_unary_spec("digamma", lambda x: _digamma(x), GAMMA, notes="reference: reflection + recurrence + series; "
                        "torch's float64 gradient (trigamma) is up to 1.5e-9 off, so vs torch atol 3e-9, rtol 1e-9"),
            tol=DIGAMMA_TORCH_TOL),
]


# -- activations, through M.nn.functional
F = "M.nn.functional"


def _kink_at(xs: list[np.ndarray], points: tuple[float, ...]) -> float:
    if not xs[0].size:
        return float("inf")
    return min(float(np.min(np.abs(xs[0] - p))) for p in points)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _act_spec(name: str, ref: Any, params: dict[str, list[Any]] | None = None, kink: Any = None,
              notes: str = "") -> OpSpec:
    params = params or {}
    args = "".join(f", {k}=${k}" for k in params)

    def sample(draw: Any) -> Sample:
        return Sample((S.shape(draw),), {k: draw(st.sampled_from(v)) for k, v in params.items()})

    return OpSpec(name=name, family=FAMILY, arity=1, template=f"{F}.{name}($x0{args})", sample=sample,
                  reference=ref, kink=kink, torch_equivalent=f"torch.nn.functional.{name}", notes=notes)


def _gelu(x: np.ndarray, approximate: str) -> np.ndarray:
    if approximate == "tanh":
        return 0.5 * x * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x ** 3)))
    return 0.5 * x * (1.0 + _erf(x / math.sqrt(2.0)))


SPECS += [
    # beta * x stays below torch's default threshold 20 on [-3, 3], so the switch to x is never reached
    _act_spec("softplus", lambda x, beta: np.logaddexp(0.0, beta * x) / beta, {"beta": [1.0, 0.5, 2.0]}),
    _act_spec("silu", lambda x: x * _sigmoid(x)),
    _act_spec("elu", lambda x, alpha: np.where(x > 0, x, alpha * np.expm1(np.minimum(x, 0.0))),
              {"alpha": [1.0, 0.5, 2.0]}, kink=lambda xs, p: _kink_at(xs, (0.0,))),
    _act_spec("leaky_relu", lambda x, negative_slope: np.where(x > 0, x, negative_slope * x),
              {"negative_slope": [0.01, 0.2]}, kink=lambda xs, p: _kink_at(xs, (0.0,))),
    _act_spec("hardtanh", lambda x, min_val, max_val: np.clip(x, min_val, max_val),
              {"min_val": [-1.0, -2.0], "max_val": [1.0, 0.5]},
              kink=lambda xs, p: _kink_at(xs, (p["min_val"], p["max_val"]))),
    _act_spec("logsigmoid", lambda x: -np.logaddexp(0.0, -x)),
    _act_spec("gelu", _gelu, {"approximate": ["none", "tanh"]}),
]
