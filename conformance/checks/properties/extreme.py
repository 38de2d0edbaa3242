"""Thorough profile only: elementwise derivatives at extreme arguments vs mpmath (50 digits).

Finite differences cannot see errors in the tails (exp near overflow, sigmoid/tanh in
saturation, log/sqrt near 0 and huge): there the reference is a high-precision
derivative.  The bar is PyTorch's own accuracy: the engine's relative error may not
exceed max(4 ulp, 2 x torch's error at the same point) (conformance/spec/tolerances.py), so an engine that is as good as
torch passes and a naive formula (1 - tanh^2 where torch does better, exp overflow in
sigmoid') fails.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np
from hypothesis import strategies as st

from conformance.checks import oracles as O
from conformance.checks.properties.base import Evidence, prop
from conformance.spec.ops import REGISTRY
from conformance.spec.programs import Node, Program
from conformance.spec.tolerances import MPMATH_TORCH_FACTOR


def _program(op: str, x: float) -> Program:
    return Program([Node(value=np.array([x]), requires_grad=True), Node(op, (0,)),
                    Node("sum", (1,), {"dim": None, "keepdim": False})], 2, "float64", None, op)


def _strategy(ops: Sequence[str], dtype: str, available: frozenset[str] | None = None) -> Any:
    extreme = REGISTRY[ops[0]].extreme
    assert extreme is not None, ops[0]  # `applies` keeps other ops out
    return st.sampled_from(extreme.points).map(lambda x: _program(ops[0], x))


def _rel(g: float, d: float) -> float:
    if d == 0.0:
        return abs(g)
    return abs(g - d) / abs(d)


def _has_extreme(op: str) -> bool:
    return REGISTRY[op].extreme is not None


@prop("mpmath_extreme", family="gradients", oracles={"mpmath", "torch-float64"}, helper_ops={"sum"},
      profiles={"thorough"}, dtypes=("float64",), strategy=_strategy, applies=_has_extreme, cost=0.05)
def _check(A: Any, p: Program) -> Evidence:
    """Elementwise derivatives at extreme arguments are as accurate as torch's, against 50-digit mpmath
    (thorough profile).

    The bound is relative: max(the table's rtol floor, MPMATH_TORCH_FACTOR x torch's own error).
    """
    x = float(p.nodes[0].value[0])
    d = O.mpmath_derivative(p.focus, x)
    _, g = p.backward(A)
    _, tg = O.torch_grads(p)
    ge = float(g[0][0]) if g[0] is not None else float("nan")
    gt = float(tg[0][0])
    err, terr = _rel(ge, d), _rel(gt, d)
    bound = max(O.tolerance_for(p, "mpmath").rtol, MPMATH_TORCH_FACTOR * terr)
    ok = bool(err <= bound)
    msg = "" if ok else (f"d{p.focus}/dx at x={x!r}: got {ge!r}, expected {d!r} (rel err {err:.2g} > tol {bound:.2g}, "
                         f"oracle mpmath; torch {gt!r}, rel err {terr:.2g})")
    return Evidence(ok, msg, {"x": x, "exact": d, "torch": gt}, {"x": x, "engine": ge}, abs(ge - d), err,
                    ["mpmath"], p)
