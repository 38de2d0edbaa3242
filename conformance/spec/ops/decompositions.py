"""Decompositions (issue 16): solve, qr, eigh and svd, checked through gauge-invariant outputs on matrices whose
condition number (solve, qr) or spread-to-gap ratio (eigh, svd) is drawn per sample and bounded by construction.

**The matrices.**  Every template builds its matrix from the op's leaves, so its conditioning is known whatever
values hypothesis draws (simple numbers 0, 1, -1, 2 ... included):

    A = x0 + H(x1)[:, :k] diag(s) H(x3)[:k, :]          (eigh: A = H(x1) diag(d) H(x1) + x0 + x0^T)

``H(v) = I - 2 v v^T / (v . v)`` is a Householder reflection (orthogonal and symmetric for any v != 0; |v_i| >= 0.5
here), written with ``diag``, ``outer`` and ``sum`` only, so the singular values of the middle term are exactly
``s`` and its singular vectors are dense (a reflection of the unit vectors), not axis-aligned.  x0 is a small dense
perturbation, |x0_ij| <= eps: it carries the batch dims, and its gradient is the op's whole input gradient gA (a
leaf x0 requiring grad compares every entry of gA, not only the directions the reflections can reach).  By
Weyl's inequality every singular value (eigenvalue) of A is within ||x0||_2 <= ||x0||_F <= sqrt(mn) eps (eigh:
2 n eps) of the middle term's, and eps is chosen per op so that this is at most 1/4:

* solve (n x n), qr (m x n, m >= n): s = x2 drawn in [1, kappa], kappa log-uniform on a grid
  10^(j/4), 1 <= kappa <= COND_MAX; so sigma_min(A) >= 0.75 and cond_2(A) <= (kappa + 0.25) / 0.75.
* svd (m x n, any): s = cumsum(x2), x2 in [1, 1 + w], so the singular values are >= 1 and >= 1 apart; the
  spread over the gap, rho = k (1 + w) (w = 0 when rho < k), is drawn the same way (1 .. COND_MAX).
  With the perturbation: sigma_min >= 0.75,
  gaps >= 0.5 (the gap to 0 counts: for m != n the vector backward divides by sigma too).
* eigh (n x n, symmetric): d = cumsum(x2) - shift, x2 in [1, 1 + w] with rho = n (1 + w) drawn as for svd:
  eigenvalues >= 1 apart, of both signs (shift: a quarter of the spread's ends);
  eps = 1/(8n), so ||x0 + x0^T||_2 <= 1/4 and the measured gap is >= 0.5.

``kink`` measures it again on the actual inputs -- max(1, ||A||_2) / min(1, gap), the gap being sigma_min for
solve and qr (so cond_2(A) when sigma_min <= 1 <= ||A||), the smallest eigenvalue gap for eigh, the smallest gap
between singular values, 0 included, for svd -- and discards a sample above LIMIT like a kink (``_gate``, the norm
layers' rule in nn_more.py).  By construction the measure is at most BOUND = 2 (COND_MAX + 1/4) = LIMIT, so the
gate never fires on what the templates build (tests/test_spec_ops_decompositions.py measures it over many draws);
it guards inputs they did not build.  ``formula_scale`` starts from the same measured number: the derivative formulas
(A^{-1} dA X; skew(V^T gV) / (l_j - l_i); the SVD's 1 / (s_j^2 - s_k^2) and 1 / s) add terms that large per
unit tangent, and rounding follows them (jvp_vjp_transpose, half-precision bounds); ``_scale`` multiplies in
the reflections' cancelling 4 |t| / |v| terms, times the middle values and the output's size.

**Why COND_MAX = 10^2.5, and the float32 tolerance.**  Two oracles limit how ill-conditioned a sample may be,
neither of them tunable per example:

* central differences (step h = eps64^(1/3) ~ 6e-6 times max(1, |x|)) move a reflection leaf by h, which moves A
  by ~h ||A|| and its smallest singular directions by ~h cond; their truncation error relative to the
  derivative is then ~(h cond)^2 / 6, which stays below the numerical oracle's 1e-6 for cond <= ~400 (a bound
  from the step, not a measured failure; torch passes grad_vs_numerical at ci with COND_MAX = 10^2.5).
* a float32 engine's solve / QR / eigenvectors carry a relative error ~ c u32 cond (u32 = 2^-24; backward-stable
  LAPACK kernels, Higham ch. 9, 19; Davis-Kahan for vectors), plus the reflections' cancelling 1 / |v| terms
  (exactly along v: for n = 1, H(v) = -1 and the v-gradient is 0 made of terms of size ||A|| / |v|), which the
  table's float32 torch-float64 tolerance (1e-5) covers only up to a measure of ~10.  Measured on torch's CPU
  kernels over the registry's own samples (tests/test_spec_ops_decompositions.py::
  test_float32_error_follows_the_condition, 400 draws per op; compare's scale max(1, max|expected|) over every
  leaf): output and gradient errors <= 7.7 (solve), 12.8 (qr), 14.4 (eigh), 15.2 (svd) u32 times the measure.
  So these ops' float32 tolerance vs torch-float64 is derived from the bound, F32_ROUNDINGS = 32 (twice the
  largest measured) times u32 LIMIT, 1.2e-3 for atol and rtol alike (the numerical oracle's float32 2e-3 is
  larger still); float64 keeps the table's 1e-10 (measure u64 < 1e-13).  A wrong backward is off by O(1) of
  the gradient and still fails in both dtypes (the broken-engine test there).

**Outputs (gauge-invariant).**  Eigen- and singular vectors are defined up to each column's sign (and QR up to
the signs of R's diagonal), and engines are free to pick either; every output is invariant to that choice and
differentiates through the vectors' backward, not only the values':

* solve: X = solve(A, B), B a vector (n,) or batch + (n, r): no gauge.
* qr: cat([Q S, S R], -2) with S = diag(sign(diag R)): the unique QR with positive diag(R) (m >= n).
* eigh: cat([w[None], V * V], -2): the eigenvalues, then the squared eigenvectors (each column's sign cancels);
  the gradient of V * V is 2 V * G, so gV reaches the skew(V^T gV) / (l_j - l_i) terms.
* svd: U diag(S^2) Vh (reduced): invariant to flipping u_k and v_k together; exercises gS, gU, gVh and for
  m != n the (I - U U^T) gU / S and gVh (I - V Vh) / S terms.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np
from hypothesis import strategies as st

from conformance.spec.opspec import Domain, OpSpec, Sample
from conformance.spec.tolerances import tolerance

FAMILY = "decompositions"

#: the largest drawn condition number (solve, qr) or spread-to-gap ratio (eigh, svd): 10^(j/4), j = 0..10
GRID = 10
COND_MAX = 10.0 ** (GRID / 4)
#: by construction the measure (kink, formula_scale) is at most this: max(1, ||A||) <= COND_MAX + 1/4 over a
#: sigma_min >= 3/4 (solve, qr) or a gap >= 1/2 (eigh, svd; spread rho <= COND_MAX, or 1..4 when rho < k)
BOUND = 2.0 * (COND_MAX + 0.25)
#: a sample measured above this is discarded like a kink: never one the templates built (tests measure it)
LIMIT = BOUND
#: float32 error vs torch float64, in units of u32 * LIMIT (measured <= 15.2 u32 measure; see the module doc)
F32_ROUNDINGS = 32.0
U32 = 2.0 ** -24
F32 = F32_ROUNDINGS * U32 * LIMIT
TOL = {("torch-float64", "float32"): (max(F32, tolerance("torch-float64", "float32").atol),) * 2}

VEC = Domain(-2.0, 2.0, avoid=(0.0,), margin=0.5)  # Householder vectors: |v_i| >= 0.5
VALS = Domain(-2.0, 2.0)


def _batch(draw: Any) -> tuple[int, ...]:
    return tuple(draw(st.lists(st.integers(1, 3), max_size=1)))


def _kappa(draw: Any) -> float:
    """A condition number, log-uniform on the grid 10^(j/4), 1 .. COND_MAX (shrinks to 1)."""
    return 10.0 ** (draw(st.integers(0, GRID)) / 4)


def _pert(m: int, n: int, per: float = 0.25) -> Domain:
    """The perturbation's domain: ||x0||_F <= sqrt(mn) eps = per."""
    eps = per / math.sqrt(m * n)
    return Domain(-eps, eps)


# -- numpy: the same matrices ---------------------------------------------------------------------
def _hh(v: np.ndarray) -> np.ndarray:
    if v.shape[-1] == 1:  # H = -1 (see _hh_t)
        return -np.ones((1, 1))
    return np.eye(v.shape[-1]) - 2.0 * np.outer(v, v) / float(v @ v)


def _middle(u: np.ndarray, s: np.ndarray, v: np.ndarray, k: int) -> np.ndarray:
    return (_hh(u)[:, :k] * s) @ _hh(v)[:k, :]


def _matrix(x0: np.ndarray, u: np.ndarray, s: np.ndarray, v: np.ndarray, k: int) -> np.ndarray:
    return x0 + _middle(u, s, v, k)


def _sym(x0: np.ndarray, u: np.ndarray, steps: np.ndarray, shift: float) -> np.ndarray:
    h = _hh(u)
    return x0 + np.swapaxes(x0, -1, -2) + (h * (np.cumsum(steps) - shift)) @ h


# -- templates: the same, with the engine's ops ---------------------------------------------------------
def _hh_t(v: str) -> str:
    """H(v) = I - 2 v v^T / v.v; for a v of length 1 the constant -1 it is, written diag(v * 0 - 1).

    The formula's v-gradient is then exactly 0 made of terms of size 4 |t| / |v| times the output's
    sensitivity to H, which cancel: in float32 they leave a few 1e-3 next to a middle value of 60, an
    error of rounding that no comparison on the scale of the (zero) gradient can tell from a bug (H11 in
    docs/findings.md: jax's svd vjp float32 at ci).  v * 0 keeps v a leaf of the program with gradient 0."""
    return (f"(M.diag({v} * 0 - 1) if {v}.shape[-1] == 1 else "
            f"M.diag({v} * 0 + 1) - 2 * M.outer({v}, {v}) / ({v} * {v}).sum())")


_A = f"($x0 + M.matmul({_hh_t('$x1')}[:, :$k] * $x2, {_hh_t('$x3')}[:$k, :]))"
_SVD_A = f"($x0 + M.matmul({_hh_t('$x1')}[:, :$k] * M.cumsum($x2, 0), {_hh_t('$x3')}[:$k, :]))"
_SYM_A = (f"($x0 + $x0.transpose(-2, -1) + M.matmul({_hh_t('$x1')} * (M.cumsum($x2, 0) - $shift), "
          f"{_hh_t('$x1')}))")


# -- measured conditioning (kink and formula_scale) ---------------------------------------------------
def _measure(a: np.ndarray, values: np.ndarray, with_zero: bool) -> float:
    """max(1, ||A||_2) / min(1, the smallest gap between ``values``), 0 counted as a value with ``with_zero``
    (solve, qr: values = singular values, so this is cond_2(A) where sigma_min <= 1 <= ||A||)."""
    if a.size == 0:
        return 1.0
    v = np.sort(np.abs(values) if with_zero else values, axis=-1)
    if with_zero:
        v = np.concatenate([np.zeros(v.shape[:-1] + (1,)), v], axis=-1)
    gap = float(np.min(np.diff(v, axis=-1))) if v.shape[-1] > 1 else float("inf")
    norm = float(np.max(np.linalg.norm(a, 2, axis=(-2, -1))))
    return float("inf") if gap <= 0 else max(1.0, norm) / min(1.0, gap)


def _solve_measure(xs: list[np.ndarray], p: dict) -> float:
    a = _matrix(xs[0], xs[1], xs[2], xs[3], p["k"])
    return _measure(a, np.linalg.svd(a, compute_uv=False)[..., -1:], with_zero=True)


_qr_measure = _solve_measure


def _eigh_measure(xs: list[np.ndarray], p: dict) -> float:
    a = _sym(xs[0], xs[1], xs[2], p["shift"])
    return _measure(a, np.linalg.eigvalsh(a), with_zero=False)


def _svd_measure(xs: list[np.ndarray], p: dict) -> float:
    a = _matrix(xs[0], xs[1], np.cumsum(xs[2]), xs[3], p["k"])
    return _measure(a, np.linalg.svd(a, compute_uv=False), with_zero=True)


def _scale(measure: Any, middle: Any, vecs: tuple[int, ...], reflections: int = 1) -> Any:
    """``formula_scale``: the size, per unit tangent, of the terms the template and the op form and cancel.

    The measure covers the op's own formula (1 / gap, 1 / sigma).  The reflections add theirs:
    d(2 v v^T / v.v) along t is two terms of size 4 |t| / |v| that cancel exactly along v (for n = 1, H(v) = -1
    and its v-tangent is 0 made of them), scaled by the middle values (max |middle|) and, at the output,
    by its own size (max(1, ||A||): U diag(S^2) Vh is quadratic in A).  Found by svd's jvp_vjp_transpose at
    quick seed 3 (n = 1: forward 1.6e-17 against exactly 0, over a bound that left the reflections out)."""
    def scale(xs: list[np.ndarray], p: dict) -> float:
        m = np.abs(middle(xs, p))
        mid = float(np.max(m)) if m.size else 0.0
        vmin = min((float(np.linalg.norm(xs[i])) for i in vecs), default=1.0)
        refl = 1.0 + reflections * 8.0 * mid / max(vmin, 1e-300)
        norm = max(1.0, mid + 0.25)  # ||A|| <= max |middle| + ||x0|| (x0's norm <= 1/4 by construction)
        return measure(xs, p) * refl * norm
    return scale


def _gate(measure: Any) -> Any:
    """The measured number as a kink distance: below KINK_MARGIN (discarded) exactly when it exceeds LIMIT."""
    def kink(xs: list[np.ndarray], p: dict) -> float:
        # programs imports the registry, so not at module level
        from conformance.spec.programs import KINK_MARGIN
        c = measure(xs, p)
        return 0.0 if not np.isfinite(c) else KINK_MARGIN * LIMIT / max(c, 1.0)
    return kink


#: the middle values the reflections scale (x2, or the cumsum of steps) and the reflection vectors' input positions
_SOLVE_SCALE = _scale(_solve_measure, lambda xs, p: xs[2], (1, 3))
_QR_SCALE = _scale(_qr_measure, lambda xs, p: xs[2], (1, 3))
_EIGH_SCALE = _scale(_eigh_measure, lambda xs, p: np.cumsum(xs[2]) - p["shift"], (1,), reflections=2)
_SVD_SCALE = _scale(_svd_measure, lambda xs, p: np.cumsum(xs[2]), (1, 3))


# -- samples -------------------------------------------------------------------------------------
def _solve_sample(draw: Any) -> Sample:
    n = draw(st.integers(1, 4))
    batch = _batch(draw)
    kappa = _kappa(draw)
    vector = draw(st.booleans())
    # a matrix B carries A's batch dims: torch reads a B of shape batch + (n,) as a batch of vectors
    b = (n,) if vector else batch + (n, draw(st.integers(1, 3)))
    return Sample((batch + (n, n), (n,), (n,), (n,), b), {"k": n},
                  domains=(_pert(n, n), VEC, Domain(1.0, kappa), VEC, VALS))


def _qr_sample(draw: Any) -> Sample:
    n = draw(st.integers(1, 4))
    m = n + draw(st.integers(0, 2))
    kappa = _kappa(draw)
    return Sample((_batch(draw) + (m, n), (m,), (n,), (n,)), {"k": n},
                  domains=(_pert(m, n), VEC, Domain(1.0, kappa), VEC))


def _steps(k: int, rho: float) -> Domain:
    """Gaps of the cumsum in [1, 1 + w]: the spread k (1 + w) over the gap 1 is at most rho."""
    return Domain(1.0, 1.0 + max(rho / max(k, 1) - 1.0, 0.0))


def _eigh_sample(draw: Any) -> Sample:
    n = draw(st.integers(1, 4))
    rho = _kappa(draw)
    steps = _steps(n, rho)
    shift = float(round(n * (steps.lo + steps.hi) / 4, 2))  # eigenvalues of both signs
    return Sample((_batch(draw) + (n, n), (n,), (n,)), {"shift": shift},
                  domains=(Domain(-1.0 / (8 * n), 1.0 / (8 * n)), VEC, steps))


def _svd_sample(draw: Any) -> Sample:
    m, n = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    k = min(m, n)
    rho = _kappa(draw)
    return Sample((_batch(draw) + (m, n), (m,), (k,), (n,)), {"k": k},
                  domains=(_pert(m, n), VEC, _steps(k, rho), VEC))


# -- references -------------------------------------------------------------------------------------
def _solve_ref(x0, u, s, v, b, *, k):
    a = _matrix(x0, u, s, v, k)
    if b.ndim == 1:
        return np.linalg.solve(a, np.broadcast_to(b[:, None], a.shape[:-1] + (1,)))[..., 0]
    shape = np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    return np.linalg.solve(np.broadcast_to(a, shape + a.shape[-2:]), np.broadcast_to(b, shape + b.shape[-2:]))


def _qr_ref(x0, u, s, v, *, k):
    q, r = np.linalg.qr(_matrix(x0, u, s, v, k))
    sg = np.sign(np.diagonal(r, 0, -2, -1))
    return np.concatenate([q * sg[..., None, :], r * sg[..., :, None]], axis=-2)


def _eigh_ref(x0, u, steps, *, shift):
    w, vec = np.linalg.eigh(_sym(x0, u, steps, shift))
    return np.concatenate([w[..., None, :], vec * vec], axis=-2)


def _svd_ref(x0, u, steps, v, *, k):
    uu, s, vh = np.linalg.svd(_matrix(x0, u, np.cumsum(steps), v, k), full_matrices=False)
    return (uu * (s * s)[..., None, :]) @ vh


NOTE = "matrix built from the leaves with a drawn, bounded condition (module doc)"
SPECS = [
    OpSpec(name="solve", family=FAMILY, arity=5, template=f"M.linalg.solve({_A}, $x4)", sample=_solve_sample,
           reference=_solve_ref, domains=(_pert(4, 4), VEC, Domain(1.0, COND_MAX), VEC, VALS),
           kink=_gate(_solve_measure), formula_scale=_SOLVE_SCALE, tol=TOL, torch_equivalent="torch.linalg.solve",
           notes=f"X = solve(A, B), B a vector or batch of matrices; {NOTE}: cond_2(A) <= 1.34 kappa"),
    OpSpec(name="qr", family=FAMILY, arity=4,
           template=(f"(lambda Q, R: (lambda sg: M.cat([Q * sg.unsqueeze(-2), R * sg.unsqueeze(-1)], -2))"
                     f"(M.sign(M.diagonal(R, 0, -2, -1))))(*M.linalg.qr({_A}))"),
           sample=_qr_sample, reference=_qr_ref, domains=(_pert(6, 4), VEC, Domain(1.0, COND_MAX), VEC),
           kink=_gate(_qr_measure), formula_scale=_QR_SCALE, tol=TOL, torch_equivalent="torch.linalg.qr",
           notes=f"reduced QR of m x n, m >= n; output [Q S; S R], S = sign(diag R): the gauge with diag(R) > 0; "
                 f"{NOTE}: cond_2(A) <= 1.34 kappa"),
    OpSpec(name="eigh", family=FAMILY, arity=3,
           template=f"(lambda w, V: M.cat([w.unsqueeze(-2), V * V], -2))(*M.linalg.eigh({_SYM_A}))",
           sample=_eigh_sample, reference=_eigh_ref, domains=(Domain(-1 / 32, 1 / 32), VEC, _steps(4, COND_MAX)),
           kink=_gate(_eigh_measure), formula_scale=_EIGH_SCALE, tol=TOL, torch_equivalent="torch.linalg.eigh",
           notes="output [eigenvalues; V * V] (sign-invariant per column); symmetric A = H diag(d) H + x0 + x0^T, "
                 "eigenvalue gaps >= 0.5 measured, spread / gap drawn up to COND_MAX (module doc)"),
    OpSpec(name="svd", family=FAMILY, arity=4,
           template=(f"(lambda U, S, Vh: M.matmul(U * (S * S).unsqueeze(-2), Vh))"
                     f"(*M.linalg.svd({_SVD_A}, full_matrices=False))"),
           sample=_svd_sample, reference=_svd_ref, domains=(_pert(4, 4), VEC, _steps(4, COND_MAX), VEC),
           kink=_gate(_svd_measure), formula_scale=_SVD_SCALE, tol=TOL, torch_equivalent="torch.linalg.svd",
           notes="output U diag(S^2) Vh of the reduced SVD (invariant to flipping u_k, v_k together); singular "
                 "values >= 0.75 and >= 0.5 apart, measured; spread / gap drawn up to COND_MAX (module doc)"),
]


# -- the same ops for numpy-style peers (jax, HIPS autograd, TensorFlow, Paddle) ----------------------------------
def numpy_style_ops(xp: Any, solve: Any, qr: Any, eigh: Any, svd: Any) -> dict[str, Any]:
    """{op: f(inputs, params)}: the templates' matrices and outputs written with a numpy-style module ``xp``
    (``diag``, ``outer``, ``sum``, ``cumsum(x, axis)``, ``matmul``, ``swapaxes``, ``sign``, ``diagonal``,
    ``concatenate``, ``expand_dims``, ``broadcast_to``) and the engine's own decompositions: ``solve(A, B)`` of
    matrices, ``qr(A) -> (Q, R)`` reduced, ``eigh(A) -> (w, V)``, ``svd(A) -> (U, S, Vh)`` reduced.  Only
    the call conventions are the engine's; the construction and the gauge-invariant output are the registry's."""
    def hh(v: Any) -> Any:  # as _hh_t
        if v.shape[-1] == 1:
            return xp.diag(v * 0 - 1)
        return xp.diag(v * 0 + 1) - 2 * xp.outer(v, v) / xp.sum(v * v)

    def mat(i: list[Any], s: Any, k: int) -> Any:
        return i[0] + xp.matmul(hh(i[1])[:, :k] * s, hh(i[3])[:k, :])

    def solve_op(i: list[Any], p: dict[str, Any]) -> Any:
        a, b = mat(i, i[2], p["k"]), i[4]
        if len(b.shape) == 1:  # a vector: solved as one column of each matrix of the batch
            col = xp.broadcast_to(xp.expand_dims(b, -1), tuple(a.shape[:-1]) + (1,))
            return solve(a, col)[..., 0]
        return solve(a, b)

    def qr_op(i: list[Any], p: dict[str, Any]) -> Any:
        q, r = qr(mat(i, i[2], p["k"]))
        sg = xp.sign(xp.diagonal(r, 0, -2, -1))
        return xp.concatenate([q * xp.expand_dims(sg, -2), r * xp.expand_dims(sg, -1)], -2)

    def eigh_op(i: list[Any], p: dict[str, Any]) -> Any:
        h = hh(i[1])
        a = i[0] + xp.swapaxes(i[0], -2, -1) + xp.matmul(h * (xp.cumsum(i[2], 0) - p["shift"]), h)
        w, v = eigh(a)
        return xp.concatenate([xp.expand_dims(w, -2), v * v], -2)

    def svd_op(i: list[Any], p: dict[str, Any]) -> Any:
        u, s, vh = svd(mat(i, xp.cumsum(i[2], 0), p["k"]))
        return xp.matmul(u * xp.expand_dims(s * s, -2), vh)

    return {"solve": solve_op, "qr": qr_op, "eigh": eigh_op, "svd": svd_op}
