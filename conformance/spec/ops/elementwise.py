"""Elementwise ops: unary maths, binary broadcasting arithmetic, clamp, where.

Domains keep log/sqrt inputs > 0.1 and divisors / pow bases away from 0; kinks
(relu/abs at 0, clamp bounds, maximum/minimum ties) are reported as distances so
samples within the finite-difference reach are discarded.
"""
from __future__ import annotations

from typing import Any

import numpy as np
from hypothesis import strategies as st

from conformance.spec import shapes as S
from conformance.spec.opspec import Domain, Extreme, OpSpec, Sample

POS = Domain(0.1, 3.0)
NONZERO = Domain(-3.0, 3.0, avoid=(0.0,), margin=0.3)


def _unary(draw: Any) -> Sample:
    return Sample((S.shape(draw),))


def _binary(draw: Any) -> Sample:
    return Sample(S.broadcast_pair(draw))


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _unary_spec(name: str, ref: Any, domain: Domain | None = None, kink: Any = None, smooth2: bool = True,
                extreme: Extreme | None = None, stable: tuple[tuple[Domain, ...], ...] = (),
                formula_scale: Any = None) -> OpSpec:
    return OpSpec(name=name, family="elementwise", arity=1, template=f"M.{name}($x0)", sample=_unary, reference=ref,
                  domains=(domain,) if domain else (), kink=kink, torch_equivalent=f"torch.{name}", smooth2=smooth2,
                  extreme=extreme, stable=stable, formula_scale=formula_scale)


def _from_output(xs: list[np.ndarray], p: dict) -> float:
    """tanh's and sigmoid's derivatives are formed from the output, 1 - y^2 and y (1 - y): where the op
    saturates, terms of size 1 cancel to a derivative of 1e-8, and their rounding stays at the terms' size
    (jax's forward and reverse modes round 1 - y^2 differently: <v, J u> parted by 6e-9 relative on
    tanh(sinh(x)) at x = -2.96, ci --seed 0)."""
    return 1.0


#: saturating ops far out (exp(-x) overflows at -710 in float64, -89 in float32) and near 0 (`stability`)
SATURATING_STABLE = ((Domain(-500.0, -40.0),), (Domain(40.0, 500.0),), (Domain(-1e-6, 1e-6),))
#: pow with large exponents (results up to ~1e30: finite in float32), and bases near 1 with huge ones
POW_STABLE = ((Domain(0.5, 2.0), Domain(-100.0, 100.0)), (Domain(0.9, 1.1), Domain(-200.0, 200.0)))


def _abs_kink(xs: list[np.ndarray], p: dict) -> float:
    return float(np.min(np.abs(xs[0]))) if xs[0].size else float("inf")


def _clamp_sample(draw: Any) -> Sample:
    lo = draw(st.sampled_from([None, -1.5, -0.5, 0.0]))
    hi = draw(st.sampled_from([None, 0.5, 1.0, 2.0])) if lo is not None else draw(st.sampled_from([0.5, 1.0, 2.0]))
    return Sample((S.shape(draw),), {"lo": lo, "hi": hi})


def _clamp_kink(xs: list[np.ndarray], p: dict) -> float:
    d = float("inf")
    for b in (p["lo"], p["hi"]):
        if b is not None and xs[0].size:
            d = min(d, float(np.min(np.abs(xs[0] - b))))
    return d


def _minmax_kink(xs: list[np.ndarray], p: dict) -> float:
    if xs[0] is xs[1]:  # the same tensor twice: maximum(x, x) is x, smooth everywhere
        return float("inf")
    diff = xs[0] - xs[1]
    return float(np.min(np.abs(diff))) if diff.size else float("inf")


def _where_sample(draw: Any) -> Sample:
    a, b = S.broadcast_pair(draw)
    cshape = np.broadcast_shapes(a, b)
    seed = draw(st.integers(0, 2**16))
    cond = np.random.default_rng(seed).random(cshape) < 0.5
    return Sample((a, b), {"cond": np.asarray(cond)})


def _clip(x: np.ndarray, lo: Any, hi: Any) -> np.ndarray:
    return np.clip(x, -np.inf if lo is None else lo, np.inf if hi is None else hi)


SPECS = [
    OpSpec(name="add", family="elementwise", arity=2, template="M.add($x0, $x1)", sample=_binary,
           reference=lambda a, b: a + b, torch_equivalent="torch.add"),
    OpSpec(name="sub", family="elementwise", arity=2, template="M.sub($x0, $x1)", sample=_binary,
           reference=lambda a, b: a - b, torch_equivalent="torch.sub"),
    OpSpec(name="mul", family="elementwise", arity=2, template="M.mul($x0, $x1)", sample=_binary,
           reference=lambda a, b: a * b, torch_equivalent="torch.mul"),
    OpSpec(name="div", family="elementwise", arity=2, template="M.div($x0, $x1)", sample=_binary,
           reference=lambda a, b: a / b, domains=(Domain(), NONZERO), torch_equivalent="torch.div"),
    OpSpec(name="pow", family="elementwise", arity=2, template="M.pow($x0, $x1)", sample=_binary,
           reference=lambda a, b: np.power(a, b), domains=(Domain(0.2, 2.5), Domain(-2.5, 2.5)),
           torch_equivalent="torch.pow", stable=POW_STABLE,
           notes="tensor exponent; base kept > 0.2 so d/d(exponent) = a**b * log(a) is defined"),
    OpSpec(name="maximum", family="elementwise", arity=2, template="M.maximum($x0, $x1)", sample=_binary,
           reference=np.maximum, kink=_minmax_kink, torch_equivalent="torch.maximum", smooth2=True),
    OpSpec(name="minimum", family="elementwise", arity=2, template="M.minimum($x0, $x1)", sample=_binary,
           reference=np.minimum, kink=_minmax_kink, torch_equivalent="torch.minimum"),
    OpSpec(name="where", family="elementwise", arity=2, template="M.where($cond, $x0, $x1)", sample=_where_sample,
           reference=lambda a, b, cond: np.where(cond, a, b), torch_equivalent="torch.where",
           notes="condition is a constant bool tensor; gradients flow to both branches, masked"),
    OpSpec(name="clamp", family="elementwise", arity=1, template="M.clamp($x0, $lo, $hi)", sample=_clamp_sample,
           reference=lambda x, lo, hi: _clip(x, lo, hi), kink=_clamp_kink, torch_equivalent="torch.clamp"),
    _unary_spec("neg", lambda x: -x),
    # extreme: derivatives at arguments where naive formulas lose precision or overflow (thorough profile)
    _unary_spec("exp", np.exp, extreme=Extreme(derivative=lambda mp, x: mp.exp(x),
                                               points=(-700.0, -50.0, 50.0, 700.0))),
    _unary_spec("log", np.log, POS, extreme=Extreme(derivative=lambda mp, x: 1 / x,
                                                    points=(1e-300, 1e-30, 1e30, 1e300))),
    _unary_spec("sqrt", np.sqrt, POS, extreme=Extreme(derivative=lambda mp, x: 1 / (2 * mp.sqrt(x)),
                                                      points=(1e-300, 1e-30, 1e30, 1e300))),
    _unary_spec("sin", np.sin, extreme=Extreme(derivative=lambda mp, x: mp.cos(x), points=(1e-8, 1e5, 1e10))),
    _unary_spec("cos", np.cos, extreme=Extreme(derivative=lambda mp, x: -mp.sin(x), points=(1e-8, 1e5, 1e10))),
    _unary_spec("tanh", np.tanh, extreme=Extreme(derivative=lambda mp, x: mp.sech(x) ** 2,
                                                 points=(-30.0, -1e-8, 1e-8, 20.0, 30.0)),
                stable=SATURATING_STABLE, formula_scale=_from_output),
    _unary_spec("sigmoid", _sigmoid, extreme=Extreme(derivative=lambda mp, x: mp.exp(-x) / (1 + mp.exp(-x)) ** 2,
                                                     points=(-700.0, -40.0, -1e-8, 40.0, 700.0)),
                stable=SATURATING_STABLE, formula_scale=_from_output),
    _unary_spec("relu", lambda x: np.maximum(x, 0.0), kink=_abs_kink),
    _unary_spec("abs", np.abs, kink=_abs_kink),
]
