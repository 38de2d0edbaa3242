"""Oracles: where the expected numbers come from.  Pure functions of a Program and numbers.

(a) ``numerical_grads``: central differences of the float64 numpy forward, step
    derived from float64 precision and each input's scale; the full gradient for
    small inputs, signed random projections (plus the full gradient on failure) for
    large ones.  ``numerical_hvp``: second derivatives (Hessian-vector products) by
    a four-point stencil.
(b) ``torch_grads``: PyTorch in float64 running the same program; two analytic
    float64 gradients agree to ~1e-10, so small systematic errors show.
(c) ``forward_reference``: the numpy reference value of the output.
(d) ``mpmath_derivative`` (thorough profile): high-precision derivatives of
    elementwise ops at extreme arguments.

``compare`` turns expected/observed arrays into evidence (max abs/rel errors, ok).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from conformance.spec.programs import Program

EPS64 = float(np.finfo(np.float64).eps)
FULL_LIMIT = 256  # leaves with more elements use projections first
N_PROJECTIONS = 6

# tolerances (atol, rtol); atol is scaled by max(1, max|expected|) -- see compare()
TOL_NUMERICAL = {"float64": (1e-6, 1e-6), "float32": (2e-3, 2e-3)}
TOL_TORCH = {"float64": (1e-10, 1e-10), "float32": (1e-5, 1e-5)}
TOL_SECOND = {"float64": (1e-4, 1e-4)}


@dataclass
class Comparison:
    ok: bool
    max_abs: float
    max_rel: float
    message: str = ""


def compare(expected: dict[Any, np.ndarray | None], observed: dict[Any, np.ndarray | None],
            atol: float, rtol: float) -> Comparison:
    """Elementwise ``|o - e| <= atol * scale + rtol * |e|``, scale = max(1, max|e| over all keys).

    A None where an array is expected (or the reverse), a shape mismatch or a NaN fails.
    """
    finite = [np.max(np.abs(e)) for e in expected.values() if e is not None and e.size]
    scale = max([1.0] + [float(f) for f in finite if np.isfinite(f)])
    max_abs, max_rel, bad = 0.0, 0.0, []
    for k, e in expected.items():
        o = observed.get(k)
        if (e is None) != (o is None):
            want, got = ("None" if e is None else "an array"), ("None" if o is None else "an array")
            bad.append(f"{k}: expected {want}, got {got}")
            continue
        if e is None:
            continue
        o = np.asarray(o, dtype=np.float64)
        if o.shape != e.shape:
            bad.append(f"{k}: shape {o.shape} != expected {e.shape}")
            continue
        if not o.size:
            continue
        diff = np.abs(o - e)
        diff = np.where(np.isnan(o) & ~np.isnan(e), np.inf, diff)
        max_abs = max(max_abs, float(np.nanmax(diff)))
        max_rel = max(max_rel, float(np.nanmax(diff)) / max(float(np.max(np.abs(e))), 1e-300))
        if np.any(diff > atol * scale + rtol * np.abs(e)):
            bad.append(f"{k}: max abs error {float(np.nanmax(diff)):.3g}{_nonfinite(o, e)}")
    return Comparison(not bad, max_abs, max_rel, "; ".join(bad))


def _nonfinite(o: np.ndarray, e: np.ndarray) -> str:
    """' (observed nan at (0, 1), inf at (2,))' where the engine gave NaN/inf but finite values were due."""
    where = np.argwhere(~np.isfinite(o) & np.isfinite(e))
    if not len(where):
        return ""
    shown = ", ".join(f"{o[tuple(i)]} at {tuple(int(x) for x in i)}" for i in where[:4])
    more = f" and {len(where) - 4} more" if len(where) > 4 else ""
    return f" (observed {shown}{more} where finite values were expected)"


# -- (a) numerical --------------------------------------------------------------------------
def _step(x: np.ndarray, order: int) -> np.ndarray:
    """Step per element: eps^(1/3) for first derivatives, eps^(1/4) for second, times max(1, |x|)."""
    base = EPS64 ** (1.0 / 3.0) if order == 1 else EPS64 ** 0.25
    return base * np.maximum(1.0, np.abs(x))


def numerical_grads(p: Program, leaves: list[int] | None = None, full: bool = False,
                    rng: np.random.Generator | None = None) -> dict[int, np.ndarray]:
    """Gradient of ``p.objective`` w.r.t. each leaf by central differences.

    Small leaves get every coordinate; larger ones (unless ``full``) get signed random
    projections whose directional derivatives are stored as ``('proj', leaf)`` entries
    alongside the directions, for ``projected_check``.
    """
    leaves = p.grad_leaves if leaves is None else leaves
    out: dict[int, np.ndarray] = {}
    base = {i: p.nodes[i].value for i in leaves}
    for i in leaves:
        x = base[i]
        if x.size > FULL_LIMIT and not full:
            continue
        g = np.zeros_like(x)
        h = _step(x, 1)
        for k in np.ndindex(*x.shape) if x.ndim else [()]:
            xp, xm = x.copy(), x.copy()
            xp[k] += h[k]
            xm[k] -= h[k]
            g[k] = (p.objective({i: xp}) - p.objective({i: xm})) / (xp[k] - xm[k])
        out[i] = g
    return out


def projected_derivatives(p: Program, leaf: int, directions: list[np.ndarray]) -> list[float]:
    """Directional derivatives of the objective along each direction (for large leaves)."""
    x = p.nodes[leaf].value
    h = float(EPS64 ** (1.0 / 3.0) * max(1.0, float(np.max(np.abs(x)))))
    return [(p.objective({leaf: x + h * d}) - p.objective({leaf: x - h * d})) / (2 * h) for d in directions]


def numerical_hvp(p: Program, leaves: list[int], w: dict[int, np.ndarray]) -> dict[int, np.ndarray]:
    """(Hessian of the objective) @ w, restricted to ``leaves``, by the four-point stencil
    [f(x+h e_i+h w) - f(x+h e_i-h w) - f(x-h e_i+h w) + f(x-h e_i-h w)] / (4 h^2)."""
    hs = max(float(np.max(_step(p.nodes[i].value, 2))) if p.nodes[i].value.size else 0.0 for i in leaves)
    base = {i: p.nodes[i].value for i in leaves}

    def f(shift_leaf: int | None, idx: Any, a: float, b: float) -> float:
        vals = {i: np.array(base[i] + b * hs * w[i]) for i in leaves}
        if shift_leaf is not None:
            vals[shift_leaf] = vals[shift_leaf].copy()
            vals[shift_leaf][idx] += a * hs
        return p.objective(vals)

    out: dict[int, np.ndarray] = {}
    for i in leaves:
        r = np.zeros_like(base[i])
        for k in np.ndindex(*base[i].shape) if base[i].ndim else [()]:
            r[k] = (f(i, k, 1, 1) - f(i, k, 1, -1) - f(i, k, -1, 1) + f(i, k, -1, -1)) / (4 * hs * hs)
        out[i] = r
    return out


# -- (b) torch float64 ----------------------------------------------------------------------
_TORCH: list[Any] = []


def torch_adapter() -> Any:
    """The torch float64 oracle engine (imported lazily, built once)."""
    if not _TORCH:
        from conformance.engines.torch import TorchAdapter
        _TORCH.append(TorchAdapter("cpu"))
    return _TORCH[0]


def torch_grads(p: Program) -> tuple[np.ndarray, dict[int, np.ndarray | None]]:
    """Output and leaf grads of ``p`` computed by torch in float64 (on the program's rounded values)."""
    A = torch_adapter()
    ts, grads = p.backward(A, dtype="float64")
    return A.to_numpy(ts[p.output]), grads


# -- (c) forward ----------------------------------------------------------------------------
def forward_reference(p: Program) -> np.ndarray:
    return p.evaluate()[p.output]


# -- (d) mpmath -----------------------------------------------------------------------------
#: closed-form derivatives, evaluated in 50-digit arithmetic (numerical mpmath.diff steps
#: would leave the domain at 1e-300)
MPMATH_FUNCS: dict[str, Callable[[Any, Any], Any]] = {
    "exp": lambda mp, x: mp.exp(x), "log": lambda mp, x: 1 / x, "sqrt": lambda mp, x: 1 / (2 * mp.sqrt(x)),
    "sin": lambda mp, x: mp.cos(x), "cos": lambda mp, x: -mp.sin(x), "tanh": lambda mp, x: mp.sech(x) ** 2,
    "sigmoid": lambda mp, x: mp.exp(-x) / (1 + mp.exp(-x)) ** 2,
}
#: extreme but representable arguments where naive formulas lose precision or overflow
MPMATH_POINTS: dict[str, list[float]] = {
    "exp": [-700.0, -50.0, 50.0, 700.0], "log": [1e-300, 1e-30, 1e30, 1e300],
    "sqrt": [1e-300, 1e-30, 1e30, 1e300], "sin": [1e-8, 1e5, 1e10], "cos": [1e-8, 1e5, 1e10],
    "tanh": [-30.0, -1e-8, 1e-8, 20.0, 30.0], "sigmoid": [-700.0, -40.0, -1e-8, 40.0, 700.0],
}


def mpmath_derivative(op: str, x: float) -> float:
    """d op / dx at x, to 50 digits, rounded to float64."""
    import mpmath

    with mpmath.workdps(50):
        return float(MPMATH_FUNCS[op](mpmath, mpmath.mpf(x)))
