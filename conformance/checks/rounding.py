"""Rounding bounds: how far an op evaluated in a low-precision dtype may land from float64, derived, never tuned.

The half-precision properties (``properties/half.py``) run a program whose leaves are exactly
representable in float16 or bfloat16 and compare the engine with float64 at *those* inputs, so the
rounding of the inputs themselves is no error of the engine.  What an engine computing in the dtype
may lose is then set by two numbers: the dtype's unit roundoff ``u`` (one rounding to nearest moves a
value by at most ``u`` times its size: float16 2^-11, bfloat16 2^-8) and the op's conditioning at the
drawn inputs, measured on the float64 reference:

* forward: an implementation that is stable in the usual (mixed forward-backward) sense returns
  ``f(x + dx) + dy`` with ``|dx| <= c u |x|`` and ``|dy| <= c u |y|`` componentwise (Higham,
  *Accuracy and Stability of Numerical Algorithms*, ch. 1), so
  ``|y_engine - y| <= c u (|y| + |J| |x| + s)`` to first order, ``J`` the Jacobian of the output in
  the inputs (central differences of the float64 reference, one column per input element), ``s`` the
  size of the formula's own terms, at least 1 (``forward_bound``);
* gradients: the engine forms ``g = J^T v`` from the cotangent ``v`` and saved forward values, so
  ``|g_engine - g| <= c u (|g| + |v|^T |J| + |H_v| |x| + max|v| s)``: rounding the products and
  their sum, rounding the inputs and the forward values the formula reuses (``H_v``, the Jacobian of
  ``g`` in the inputs: central differences of torch's float64 gradient), and rounding terms the
  formula adds up where they cancel (``s``: the op's ``formula_scale``, 1 by default; tanh's
  ``v (1 - y^2)`` near saturation).

``c`` is ``HALF_ROUNDINGS`` (conformance.spec.tolerances), the same for every op; values below the
dtype's smallest subnormal are indistinguishable from zero, so that much absolute error is allowed
too.  Accumulation -- a sum of a long input rounding every partial sum in the dtype -- fits these
bounds (recursive summation is stable: ``n u sum|x|`` is its bound), so reductions are held to
torch's own error instead (``accumulation_allowance``).
"""
from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np

from conformance.checks import oracles as O
from conformance.spec.dtypes import smallest_subnormal, unit_roundoff
from conformance.spec.ops import REGISTRY
from conformance.spec.programs import Program
from conformance.spec.tolerances import ACCUMULATION_TORCH_FACTOR, HALF_ROUNDINGS

EPS64 = float(np.finfo(np.float64).eps)


def _step(x: np.ndarray) -> np.ndarray:
    return EPS64 ** (1.0 / 3.0) * np.maximum(1.0, np.abs(x))


def jacobians(p: Program) -> dict[int, np.ndarray]:
    """d output / d leaf for every leaf: (output size, leaf size), central differences of the float64 forward."""
    out: dict[int, np.ndarray] = {}
    size = int(np.size(p.evaluate()[p.output]))
    for i in p.leaves:
        x = p.nodes[i].value
        J = np.zeros((size, x.size))
        h = _step(x).reshape(-1)
        for k in range(x.size):
            xp, xm = x.copy().reshape(-1), x.copy().reshape(-1)
            xp[k] += h[k]
            xm[k] -= h[k]
            yp = p.evaluate({i: xp.reshape(x.shape)})[p.output]
            ym = p.evaluate({i: xm.reshape(x.shape)})[p.output]
            J[:, k] = (np.reshape(yp, -1) - np.reshape(ym, -1)) / (xp[k] - xm[k])
        out[i] = J
    return out


def forward_bound(p: Program, y: np.ndarray, J: dict[int, np.ndarray]) -> np.ndarray:
    """Per output element: c u (|y| + |J| |x| + s) + c * smallest subnormal (see the module doc); with ``J``
    left out (``{}``), a smaller bound: what lies within it lies within the whole bound too.

    ``s`` (the op's ``formula_scale``, at least 1): the formula's own terms are taken at a scale of at
    least 1, as every comparison of the harness measures errors on a scale of at least 1 (``compare``'s
    max(1, max|expected|)).  A formula may round an intermediate of size 1 where its result cancels to far
    less: log_softmax's sum of exponentials has largest term exp(0) = 1, and torch rounds that sum to the
    dtype, which moves a result of -0.018 by u whatever its size (found by the torch ci run, seed 0)."""
    u, c = unit_roundoff(p.dtype), HALF_ROUNDINGS
    cond = sum(np.abs(J[i]) @ np.abs(p.nodes[i].value).reshape(-1) for i in J) if J else 0.0
    terms = np.abs(y).reshape(-1) + cond + _formula_scale(p, forward=True)
    return (c * u * terms + c * smallest_subnormal(p.dtype)).reshape(np.shape(y))


def _torch_grads_at(p: Program, leaf: int, value: np.ndarray) -> dict[int, np.ndarray | None]:
    nodes = list(p.nodes)
    nodes[leaf] = replace(nodes[leaf], value=value)
    return O.torch_grads(replace(p, nodes=nodes))[1]


def gradient_hessians(p: Program) -> dict[int, dict[int, np.ndarray]]:
    """``H[j][i]``: d grad(leaf j) / d leaf i, (size j, size i), central differences of torch's float64 gradient.

    A leaf on the edge of its op's domain (binary_cross_entropy's target of exactly 0 or 1) has a one-sided
    difference there, on the side torch accepts."""
    H: dict[int, dict[int, np.ndarray]] = {j: {} for j in p.grad_leaves}
    at_x: list[dict[int, np.ndarray | None]] = []  # torch's gradient at the program's own inputs, when needed
    for i in p.leaves:
        x = p.nodes[i].value
        h = _step(x).reshape(-1)
        cols: dict[int, list[np.ndarray]] = {j: [] for j in H}
        for k in range(x.size):
            sides = []
            for sign in (1.0, -1.0):
                moved = x.copy().reshape(-1)
                moved[k] += sign * h[k]
                try:
                    sides.append((_torch_grads_at(p, i, moved.reshape(x.shape)), sign * h[k]))
                except O.OracleError:
                    if sign < 0 and not sides:
                        raise  # torch refuses both sides: nothing to difference
            if len(sides) == 1:  # one side lies outside the domain: difference with the point itself
                if not at_x:
                    at_x.append(O.torch_grads(p)[1])
                sides.append((at_x[0], 0.0))
            (gp, hp), (gm, hm) = sides
            for j in H:
                a, b = gp.get(j), gm.get(j)
                zero = np.zeros(p.nodes[j].value.size)
                cols[j].append(zero if a is None or b is None else (np.reshape(a, -1) - np.reshape(b, -1)) / (hp - hm))
        for j in H:
            H[j][i] = np.stack(cols[j], axis=1) if cols[j] else np.zeros((p.nodes[j].value.size, 0))
    return H


def gradient_bounds(p: Program, g: dict[int, np.ndarray | None], J: dict[int, np.ndarray],
                    H: dict[int, dict[int, np.ndarray]]) -> dict[int, np.ndarray]:
    """Per gradient element of each leaf requiring grad: c u (|g| + |v|^T |J| + |H_v| |x| + max|v| s) + c tiny.

    Every term is non-negative, so a bound with ``J`` and ``H`` left out (``{}``: the costly ones) is
    smaller: what lies within it lies within the whole bound too."""
    u, c, tiny = unit_roundoff(p.dtype), HALF_ROUNDINGS, smallest_subnormal(p.dtype)
    y = p.evaluate()[p.output]
    v = np.ones(np.size(y)) if p.cotangent is None else np.abs(p.cotangent).reshape(-1)
    s = _formula_scale(p)
    out: dict[int, np.ndarray] = {}
    for j in p.grad_leaves:
        shape = p.nodes[j].value.shape
        gj = np.zeros(shape) if g.get(j) is None else np.abs(g[j])
        terms = gj.reshape(-1) + (v @ np.abs(J[j]) if j in J else 0.0)
        terms = terms + sum(np.abs(H[j][i]) @ np.abs(p.nodes[i].value).reshape(-1) for i in H.get(j, {}))
        terms = terms + (float(np.max(v)) if v.size else 0.0) * s
        out[j] = (c * u * terms + c * tiny).reshape(shape)
    return out


def _formula_scale(p: Program, forward: bool = False) -> float:
    """The largest ``formula_scale`` of the program's ops at their inputs (1 where an op declares none);
    ``forward``: of their forward formulas (``forward_scale`` where an op declares one)."""
    vals = p.evaluate()
    scale = 1.0
    for n in p.nodes:
        spec = REGISTRY.get(n.op) if n.op is not None else None
        if spec is None:
            continue
        declared = (spec.forward_scale or spec.formula_scale) if forward else spec.formula_scale
        if declared is not None:
            scale = max(scale, float(declared([vals[k] for k in n.inputs], n.params)))
    return scale


def accumulation_allowance(dtype: str, y: np.ndarray, torch_error: float) -> float:
    """The largest error a reduction of a long input may make: ``ACCUMULATION_TORCH_FACTOR`` times torch's own
    error on the same inputs, plus ``c`` roundings of the largest result (no floor of 1: a mean is small)."""
    u, c = unit_roundoff(dtype), HALF_ROUNDINGS
    top = float(np.max(np.abs(y))) if np.size(y) else 0.0
    return ACCUMULATION_TORCH_FACTOR * torch_error + c * u * top + c * smallest_subnormal(dtype)


def worst(expected: np.ndarray, observed: np.ndarray, bound: np.ndarray, where: str) -> tuple[str, float, float] | None:
    """None when ``|observed - expected| <= bound`` everywhere, else (message, max abs error, its bound)."""
    e = np.asarray(expected, dtype=np.float64)
    o = np.asarray(observed, dtype=np.float64)
    if o.shape != e.shape:
        return f"{where}: got shape {o.shape}, expected {e.shape}", float("inf"), 0.0
    if not o.size:
        return None
    diff = np.abs(o - e)
    diff = np.where(np.isnan(diff), np.inf, diff)
    off = diff > bound
    if not np.any(off):
        return None
    k = np.unravel_index(int(np.argmax(np.where(off, diff / np.maximum(bound, 1e-300), -1.0))), o.shape)
    at = f"{where}[{', '.join(str(int(i)) for i in k)}]" if o.ndim else where
    n_off = int(np.count_nonzero(off))
    more = f"; {n_off} of {o.size} elements out of bound" if n_off > 1 else ""
    return (f"{at}: got {o[k]:.6g}, float64 at the rounded inputs {e[k]:.6g} (error {diff[k]:.2g} > bound "
            f"{bound[k]:.2g}{more})", float(diff[k]), float(bound[k]))


def as_float64(a: Any) -> np.ndarray:
    return np.asarray(a, dtype=np.float64)
