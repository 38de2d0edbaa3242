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
    elementwise ops at extreme arguments (``OpSpec.extreme``).

``compare`` turns expected/observed arrays into evidence (max abs/rel errors, ok, and a
message naming the worst element); the tolerance of each (oracle, dtype) comes from
``conformance.spec.tolerances`` (an op may override it on its OpSpec).
"""
from __future__ import annotations

import functools
import math
import warnings
from dataclasses import dataclass
from typing import Any, Callable, TypeVar

import numpy as np

from conformance.spec.ops import REGISTRY
from conformance.spec.programs import Program
from conformance.spec.tolerances import Tol, tolerance

EPS64 = float(np.finfo(np.float64).eps)
F = TypeVar("F", bound=Callable[..., Any])


class OracleError(Exception):
    """An oracle itself failed (numpy's reference or torch raised on the harness's own copy of a
    program): a harness fault, never the engine's.  The original exception is ``__cause__``."""


def _oracle(fn: F) -> F:
    """Mark ``fn`` as an oracle: whatever it raises becomes an OracleError naming it."""
    @functools.wraps(fn)
    def call(*args: Any, **kwargs: Any) -> Any:
        try:
            with warnings.catch_warnings():  # torch's own notices (kl_div's 'mean') are not the engine's
                warnings.simplefilter("ignore", UserWarning)
                return fn(*args, **kwargs)
        except OracleError:
            raise
        except Exception as e:  # noqa: BLE001 - re-raised as the harness's own error
            raise OracleError(f"oracle {fn.__name__} raised {type(e).__name__}: {e}") from e
    return call  # type: ignore[return-value]
FULL_LIMIT = 256  # leaves with more elements use projections first
N_PROJECTIONS = 6


@dataclass
class Comparison:
    ok: bool
    max_abs: float
    max_rel: float
    message: str = ""  # one part per failing key: "v0[1, 2]: got 0.31, expected 0.62 (abs err ... oracle ...)"


def tolerance_for(p: Program, oracle: str, dtype: str | None = None) -> Tol:
    """The tolerance for ``p``'s results against ``oracle``: its focus op's override, else the table's."""
    spec = REGISTRY.get(p.focus) if isinstance(p.focus, str) else None
    dt = dtype or p.dtype
    return spec.tolerance(oracle, dt) if spec is not None else tolerance(oracle, dt)


def compare(expected: dict[Any, np.ndarray | None], observed: dict[Any, np.ndarray | None],
            tol: Tol, oracle: str, slack: dict[Any, np.ndarray] | None = None) -> Comparison:
    """Elementwise ``|o - e| <= atol * scale + rtol * |e| (+ slack)``, scale = max(1, max|e| over all keys).

    ``slack``: per key, how far the oracle's own value may be off (``difference_rounding``).

    A None where an array is expected (or the reverse), a shape mismatch or a NaN fails.
    Each failing key is described by its worst element (the largest error among those out of
    tolerance), the numbers, the tolerance there and ``oracle``, as gradcheck does.
    """
    atol, rtol = tol
    largest = {k: float(np.max(np.abs(e))) for k, e in expected.items() if e is not None and e.size}
    scale = max([1.0] + [f for f in largest.values() if math.isfinite(f)])
    max_abs, max_rel, bad = 0.0, 0.0, []
    for k, e in expected.items():
        o = observed.get(k)
        if (e is None) != (o is None):
            bad.append(f"{k}: got {_what(o)}, expected {_what(e)} (oracle {oracle})")
            continue
        if e is None:
            continue
        o = np.asarray(o, dtype=np.float64)
        if o.shape != e.shape:
            bad.append(f"{k}: got shape {o.shape}, expected shape {e.shape} (oracle {oracle})")
            continue
        if not o.size:
            continue
        diff = np.abs(o - e)
        diff = np.where(np.isnan(o) & ~np.isnan(e), np.inf, diff)
        worst = float(np.nanmax(diff))
        max_abs = max(max_abs, worst)
        max_rel = max(max_rel, worst / max(largest[k], 1e-300))
        allowed = atol * scale + rtol * np.abs(e) + (slack[k] if slack and k in slack else 0.0)
        off = diff > allowed
        if np.any(off):
            bad.append(_worst(k, o, e, diff, allowed, off, oracle) + _nonfinite(o, e))
    return Comparison(not bad, max_abs, max_rel, "; ".join(bad))


def _what(v: Any) -> str:
    return "None" if v is None else f"an array of shape {np.shape(v)}"


def _worst(k: Any, o: np.ndarray, e: np.ndarray, diff: np.ndarray, allowed: np.ndarray, off: np.ndarray,
           oracle: str) -> str:
    """'v0[1, 2]: got 0.31, expected 0.62 (abs err 0.31 > tol 1.6e-06, oracle torch-float64)'."""
    flat = int(np.argmax(np.where(off, diff, -1.0)))  # off excludes NaN differences (NaN > x is False)
    idx = np.unravel_index(flat, o.shape)
    where = f"{k}[{', '.join(str(int(i)) for i in idx)}]" if o.ndim else str(k)
    got, want = _pair(float(o[idx]), float(e[idx]))
    n_off = int(np.count_nonzero(off))
    more = f"; {n_off} of {o.size} elements out of tolerance" if n_off > 1 else ""
    return (f"{where}: got {got}, expected {want} (abs err {float(diff[idx]):.2g} > tol {float(allowed[idx]):.2g}, "
            f"oracle {oracle}{more})")


def _pair(got: float, want: float) -> tuple[str, str]:
    """Both numbers with the fewest significant digits (at least 2) that tell them apart."""
    for digits in range(2, 18):
        a, b = f"{got:.{digits}g}", f"{want:.{digits}g}"
        if a != b:
            return a, b
    return repr(got), repr(want)


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


def step(x: np.ndarray) -> np.ndarray:
    """The central-difference step ``numerical_grads`` takes for each element of leaf value ``x``."""
    return _step(x, 1)


@_oracle
def difference_rounding(p: Program) -> float:
    """How far each difference ``f(x + h) - f(x - h)`` of ``p.objective`` may be off by rounding alone.

    Each evaluation ends in a float64 sum of the terms ``c_j y_j`` (or ``y_j``), rounded by up to
    ``eps * sum |c_j y_j|``; a difference quotient divides two such errors by ``2 h``.  Where the terms
    are large and the derivative small (an output of 1e9 whose gradient is 1e-2) that is more than the
    table's tolerance: central differences cannot tell the answer that finely, whatever the engine did.
    A lower bound (the ops before the sum round too), so a wrong gradient still shows."""
    y = np.asarray(p.evaluate()[p.output], dtype=np.float64)
    terms = y if p.cotangent is None else p.cotangent * y
    return 2.0 * EPS64 * float(np.sum(np.abs(terms)))


@_oracle
def numerical_grads(p: Program, leaves: list[int] | None = None, full: bool = False,
                    rng: np.random.Generator | None = None) -> dict[int, np.ndarray]:
    """Gradient of ``p.objective`` w.r.t. each leaf by central differences.

    Small leaves get every coordinate; larger ones (unless ``full``) get signed random
    projections whose directional derivatives are stored as ``('proj', leaf)`` entries
    alongside the directions, for ``projected_check``.
    """
    leaves = p.grad_leaves if leaves is None else leaves
    out: dict[int, np.ndarray] = {}
    unmoved: list[np.ndarray] | None = None  # the nodes a moved leaf does not reach keep these values
    for i in leaves:
        x = p.nodes[i].value
        if x.size > FULL_LIMIT and not full:
            continue
        unmoved = p.evaluate() if unmoved is None else unmoved
        g = np.zeros_like(x)
        h = _step(x, 1)
        for k in np.ndindex(*x.shape) if x.ndim else [()]:
            xp, xm = x.copy(), x.copy()
            xp[k] += h[k]
            xm[k] -= h[k]
            g[k] = (p.objective({i: xp}, unmoved) - p.objective({i: xm}, unmoved)) / (xp[k] - xm[k])
        out[i] = g
    return out


@_oracle
def projected_derivatives(p: Program, leaf: int, directions: list[np.ndarray]) -> list[float]:
    """Directional derivatives of the objective along each direction (for large leaves)."""
    x = p.nodes[leaf].value
    h = float(EPS64 ** (1.0 / 3.0) * max(1.0, float(np.max(np.abs(x)))))
    unmoved = p.evaluate()
    return [(p.objective({leaf: x + h * d}, unmoved) - p.objective({leaf: x - h * d}, unmoved)) / (2 * h)
            for d in directions]


@_oracle
def numerical_jvp(p: Program, u: dict[int, np.ndarray], wider: float = 1.0) -> np.ndarray:
    """``J u`` of the output by central differences of the float64 forward, every leaf moved along ``u`` at once.

    The step is ``projected_derivatives``'s: eps^(1/3) times the size of the largest moved value
    (times ``wider``)."""
    x = {i: p.nodes[i].value for i in u}
    h = _jvp_step(p, u) * wider
    plus = p.evaluate({i: x[i] + h * u[i] for i in u})[p.output]
    minus = p.evaluate({i: x[i] - h * u[i] for i in u})[p.output]
    return np.asarray((plus - minus) / (2 * h))


def _jvp_step(p: Program, u: dict[int, np.ndarray]) -> float:
    return float(EPS64 ** (1.0 / 3.0) * max([1.0] + [float(np.max(np.abs(p.nodes[i].value)))
                                                      for i in u if p.nodes[i].value.size]))


@_oracle
def jvp_uncertainty(p: Program, u: dict[int, np.ndarray], exp: np.ndarray) -> np.ndarray:
    """How far each element of ``numerical_jvp``'s J u (``exp``) may be off: its rounding -- each
    evaluation of an output element y rounds it by at least eps |y| (as in ``difference_rounding``),
    the quotient divides the two errors by 2 h; an output of 2e9 along a derivative of 0.8: 0.04 --
    or, where larger, how far it moves at twice the step (rounding amplified by the ops before the
    output, and truncation, are what a step change shows)."""
    y = np.abs(np.asarray(p.evaluate()[p.output], dtype=np.float64))
    rounding = 2.0 * EPS64 * y / (2.0 * _jvp_step(p, u))
    return np.maximum(rounding, np.abs(numerical_jvp(p, u, wider=2.0) - exp))


@_oracle
def numerical_hvp(p: Program, leaves: list[int], w: dict[int, np.ndarray],
                  wider: float = 1.0) -> dict[int, np.ndarray]:
    """(Hessian of the objective) @ w, restricted to ``leaves``, by the four-point stencil
    [f(x+h e_i+t w) - f(x+h e_i-t w) - f(x-h e_i+t w) + f(x-h e_i-t w)] / (4 h t).

    h is element i's own second-order step (eps^(1/4) max(1, |x_i|)); t, the step along w (which moves
    every leaf), is the smallest of the leaves' steps.  One step for both, taken from the largest leaf,
    was as coarse for a leaf of size 1 as for one of size 256 beside it (a solve whose singular values
    were drawn up to 256: its reflection leaves' HVP off by 5e-4 relative, torch and refengine alike).
    ``wider`` multiplies both steps."""
    steps, t = _hvp_steps(p, leaves, wider)
    base = {i: p.nodes[i].value for i in leaves}

    def f(shift_leaf: int | None, idx: Any, a: float, b: float) -> float:
        vals = {i: np.array(base[i] + b * t * w[i]) for i in leaves}
        if shift_leaf is not None:
            vals[shift_leaf] = vals[shift_leaf].copy()
            vals[shift_leaf][idx] += a
        return p.objective(vals)

    out: dict[int, np.ndarray] = {}
    for i in leaves:
        r = np.zeros_like(base[i])
        for k in np.ndindex(*base[i].shape) if base[i].ndim else [()]:
            h = float(steps[i][k])
            r[k] = (f(i, k, h, 1) - f(i, k, h, -1) - f(i, k, -h, 1) + f(i, k, -h, -1)) / (4 * h * t)
        out[i] = r
    return out


def _hvp_steps(p: Program, leaves: list[int], wider: float = 1.0) -> tuple[dict[int, np.ndarray], float]:
    """``numerical_hvp``'s steps: each element's own h, and t along w."""
    steps = {i: _step(p.nodes[i].value, 2) * wider for i in leaves}
    return steps, min((float(np.min(s)) for s in steps.values() if s.size), default=EPS64 ** 0.25 * wider)


@_oracle
def hvp_uncertainty(p: Program, leaves: list[int], w: dict[int, np.ndarray],
                    exp: dict[int, np.ndarray]) -> dict[int, np.ndarray]:
    """How far each element of ``numerical_hvp`` (``exp``) may be off: its rounding -- the stencil is two
    differences of the objective, each off by at least ``difference_rounding``, over 4 h t -- or, where
    larger, how far it moves at twice the steps.  An svd whose objective is 2.4e8 (singular values drawn
    up to the module's COND_MAX) moved its HVP by ~20 between steps of 1.2e-4 and 3e-4, where the
    final sum's rounding alone accounts for 3.6; torch and refengine agreed to 1e-8 with the wider step."""
    steps, t = _hvp_steps(p, leaves)
    r = difference_rounding(p)
    wide = numerical_hvp(p, leaves, w, wider=2.0)
    return {i: np.maximum(2.0 * r / (4.0 * steps[i] * t), np.abs(wide[i] - exp[i])) for i in leaves}


# -- (b) torch float64 ----------------------------------------------------------------------
_TORCH: list[Any] = []


def torch_adapter() -> Any:
    """The torch float64 oracle engine (imported lazily, built once)."""
    if not _TORCH:
        from conformance.engines.torch import TorchAdapter
        _TORCH.append(TorchAdapter("cpu"))
    return _TORCH[0]


@_oracle
def torch_grads(p: Program) -> tuple[np.ndarray, dict[int, np.ndarray | None]]:
    """Output and leaf grads of ``p`` computed by torch in float64 (on the program's rounded values)."""
    A = torch_adapter()
    ts, grads = p.backward(A, dtype="float64")
    return A.to_numpy(ts[p.output]), grads


# -- (c) forward ----------------------------------------------------------------------------
@_oracle
def forward_reference(p: Program) -> np.ndarray:
    return p.evaluate()[p.output]


# -- (d) mpmath -----------------------------------------------------------------------------
@_oracle
def mpmath_derivative(op: str, x: float) -> float:
    """d op / dx at x, to 50 digits, rounded to float64 (the closed form of ``OpSpec.extreme``)."""
    import mpmath  # deferred: only the thorough profile's mpmath_extreme needs it

    extreme = REGISTRY[op].extreme
    if extreme is None:
        raise KeyError(f"op {op} declares no mpmath derivative (OpSpec.extreme)")
    with mpmath.workdps(50):
        return float(extreme.derivative(mpmath, mpmath.mpf(x)))
