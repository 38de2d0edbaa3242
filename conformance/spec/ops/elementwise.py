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
from conformance.spec.opspec import Domain, OpSpec, Sample

POS = Domain(0.1, 3.0)
NONZERO = Domain(-3.0, 3.0, avoid=(0.0,), margin=0.3)


def _unary(draw: Any) -> Sample:
    return Sample((S.shape(draw),))


def _binary(draw: Any) -> Sample:
    return Sample(S.broadcast_pair(draw))


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _unary_spec(name: str, ref: Any, domain: Domain | None = None, kink: Any = None, smooth2: bool = True) -> OpSpec:
    return OpSpec(name, "elementwise", 1, f"M.{name}($x0)", _unary, ref,
                  domains=(domain,) if domain else (), kink=kink, torch_equivalent=f"torch.{name}", smooth2=smooth2)


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
    OpSpec("add", "elementwise", 2, "M.add($x0, $x1)", _binary, lambda a, b: a + b, torch_equivalent="torch.add"),
    OpSpec("sub", "elementwise", 2, "M.sub($x0, $x1)", _binary, lambda a, b: a - b, torch_equivalent="torch.sub"),
    OpSpec("mul", "elementwise", 2, "M.mul($x0, $x1)", _binary, lambda a, b: a * b, torch_equivalent="torch.mul"),
    OpSpec("div", "elementwise", 2, "M.div($x0, $x1)", _binary, lambda a, b: a / b,
           domains=(Domain(), NONZERO), torch_equivalent="torch.div"),
    OpSpec("pow", "elementwise", 2, "M.pow($x0, $x1)", _binary, lambda a, b: np.power(a, b),
           domains=(Domain(0.2, 2.5), Domain(-2.5, 2.5)), torch_equivalent="torch.pow",
           notes="tensor exponent; base kept > 0.2 so d/d(exponent) = a**b * log(a) is defined"),
    OpSpec("maximum", "elementwise", 2, "M.maximum($x0, $x1)", _binary, np.maximum, kink=_minmax_kink,
           torch_equivalent="torch.maximum", smooth2=True),
    OpSpec("minimum", "elementwise", 2, "M.minimum($x0, $x1)", _binary, np.minimum, kink=_minmax_kink,
           torch_equivalent="torch.minimum"),
    OpSpec("where", "elementwise", 2, "M.where($cond, $x0, $x1)", _where_sample,
           lambda a, b, cond: np.where(cond, a, b), torch_equivalent="torch.where",
           notes="condition is a constant bool tensor; gradients flow to both branches, masked"),
    OpSpec("clamp", "elementwise", 1, "M.clamp($x0, $lo, $hi)", _clamp_sample,
           lambda x, lo, hi: _clip(x, lo, hi), kink=_clamp_kink, torch_equivalent="torch.clamp"),
    _unary_spec("neg", lambda x: -x),
    _unary_spec("exp", np.exp),
    _unary_spec("log", np.log, POS),
    _unary_spec("sqrt", np.sqrt, POS),
    _unary_spec("sin", np.sin),
    _unary_spec("cos", np.cos),
    _unary_spec("tanh", np.tanh),
    _unary_spec("sigmoid", _sigmoid),
    _unary_spec("relu", lambda x: np.maximum(x, 0.0), kink=_abs_kink),
    _unary_spec("abs", np.abs, kink=_abs_kink),
]
