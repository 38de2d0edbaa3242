"""Forward mode: the engine's Jacobian-vector products, against finite differences and against its reverse mode.

Forward mode is asked through ``Adapter.jvp``: the engine runs the program's ops itself with a
tangent ``u`` attached to every leaf that requires grad, and hands back the output's tangent
``J u``.  Three rules:

* ``jvp``: ``J u`` equals central differences of the float64 numpy forward along ``u`` (the
  oracle and tolerance of ``grad_vs_numerical``);
* ``jvp_vjp_transpose``: ``<v, J u>`` (forward mode) equals ``<J^T v, u>`` (reverse mode, the
  program's cotangent ``v``) to rounding.  It needs no oracle at all -- neither torch nor finite
  differences -- so it judges every op, at the precision of the engine's own arithmetic: a
  forward rule that disagrees with the backward rule of the same op shows, however small;
* ``jvp_of_grad``: forward-over-reverse, the tangent of the gradient (``H u``), equals the
  numerical Hessian-vector product -- for engines with both forward mode and higher order.

Leaves that do not require grad carry no tangent (constants); a tangent the engine reports as
None (the output depends on no tangent) is read as zero.
"""
from __future__ import annotations

import zlib
from typing import Any

import numpy as np

from conformance.checks import oracles as O
from conformance.checks.properties.base import (Evidence, from_comparison, named, nonscalar_programs, prop,
                                                require_smooth)
from conformance.engines import adapter as caps
from conformance.spec.dtypes import unit_roundoff
from conformance.spec.ops import REGISTRY
from conformance.spec.programs import NP_DTYPES, Program


def direction(p: Program) -> dict[int, np.ndarray]:
    """A tangent ``u`` per leaf requiring grad: uniform in [-1, 1], exactly representable in the dtype.

    Seeded by the program's own values (crc32, not Python's salted ``hash``), so a replay of the
    same example draws the same direction; one draw per program is enough, as the program is drawn."""
    seed = zlib.crc32(b"".join(np.ascontiguousarray(p.nodes[i].value).tobytes() for i in p.leaves))
    rng = np.random.default_rng(seed)
    npdt = NP_DTYPES[p.dtype]
    return {i: rng.uniform(-1.0, 1.0, p.nodes[i].value.shape).astype(npdt).astype(np.float64)
            for i in p.grad_leaves}


def _output_shape(p: Program, j: int) -> tuple[int, ...]:
    with np.errstate(all="ignore"):
        return tuple(np.shape(p.evaluate()[j]))


def engine_jvp(A: Any, p: Program, u: dict[int, np.ndarray]) -> np.ndarray | None:
    """The engine's forward-mode tangent of ``p``'s output with tangents ``u`` on the leaves.

    The leaves are built without requires_grad: forward mode must not need the backward graph.
    None (the engine attaches no tangent) becomes zeros of the output's shape."""
    leaves = p.leaves
    primals = [A.leaf(p.nodes[i].value, p.dtype, False) for i in leaves]

    def fn(xs: list[Any]) -> list[Any]:
        return [p.run(A, leaves=dict(zip(leaves, xs)))[p.output]]

    (t,) = A.jvp(fn, primals, [u.get(i) for i in leaves])
    return np.zeros(_output_shape(p, p.output)) if t is None else np.asarray(t, dtype=np.float64)


@prop("jvp", family="forward", capabilities={caps.FORWARD_AD}, methods={"jvp"}, oracles={"numerical"}, cost=1.5)
def _jvp(A: Any, p: Program) -> Evidence:
    """Forward mode's tangent J u of the output equals central differences along the same direction u."""
    require_smooth(p)
    u = direction(p)
    obs = engine_jvp(A, p, u)
    exp = O.numerical_jvp(p, u)
    c = O.compare({"J u": exp}, {"J u": obs}, O.tolerance_for(p, "numerical"), "numerical")
    if not c.ok:  # within the differences' own uncertainty they cannot tell (as grad_vs_numerical)
        c = O.compare({"J u": exp}, {"J u": obs}, O.tolerance_for(p, "numerical"), "numerical",
                      {"J u": O.jvp_uncertainty(p, u, exp)})
    return from_comparison(c, {"J u": exp}, {"J u": obs}, "numerical", p, "forward-mode tangent")


def transpose_tolerance(p: Program, v: np.ndarray, ju: np.ndarray, jtv: list[np.ndarray],
                        u: list[np.ndarray]) -> float:
    """How far <v, J u> and <J^T v, u> may part by rounding alone, in the program's dtype.

    Each side is a sum of products that the engine formed one rounded operation at a time: with
    unit roundoff eps and n floating-point operations between the leaves and the scalar, the
    first-order rounding error of a sum of products is at most n * eps times the sum of the
    magnitudes of its terms (Higham, Accuracy and Stability, ch. 3).  n is bounded by the total
    number of elements in the program's nodes: every op's tangent (and cotangent) formula touches
    each of its elements a bounded number of times, and a contraction over k elements adds k.
    The terms' magnitudes are bounded, by Cauchy-Schwarz, by |v| |J u| (resp. |J^T v| |u|,
    Euclidean norms) -- unless the op's formula cancels terms much larger than its result
    (layer_norm over two elements, cross(x, x): J is ~0, its terms are not).  So, as every
    comparison of the harness measures errors on a scale of at least 1 (``compare``: max(1,
    max|expected|)), Jacobian entries are taken at a scale of at least 1: |v| |u| is added.  Where
    an op's formula cancels terms far larger than its Jacobian, their rounding is added too
    (``cancelled_terms``), once for each side: forward and reverse mode each form them (normalize over one
    element: the exact <v, J u> is 0; jax's forward mode gave 3.6e-16 and its reverse -5.9e-16, each within
    one rounding of the terms, together 1.3 times the bound that counted them once).  Nothing here is
    tuned: a wrong forward or backward rule is off by a
    fraction of the terms themselves, orders of magnitude above this."""
    with np.errstate(all="ignore"):
        vals = p.evaluate()
    n = sum(int(np.size(val)) for val in vals)
    norm_jtv = float(np.sqrt(sum(np.sum(g * g) for g in jtv)))
    norm_u = float(np.sqrt(sum(np.sum(w * w) for w in u)))
    norm_v = float(np.linalg.norm(v))
    terms = norm_v * norm_u + norm_v * float(np.linalg.norm(ju)) + norm_jtv * norm_u
    # both modes form and cancel those terms, each with its own rounding: counted once per side, as the terms are
    return n * unit_roundoff(p.dtype) * (terms + 2 * cancelled_terms(p, vals, dict(zip(sorted(p.grad_leaves), u))))


def cancelled_terms(p: Program, vals: list[np.ndarray], u: dict[int, np.ndarray]) -> float:
    """The size, at the output, of the terms that ops with an ``OpSpec.formula_scale`` add and cancel.

    Such an op (normalize, the norm layers) forms its tangent from terms of size s |t| (t: its
    inputs' tangent, s: the hook's scale) that cancel to a far smaller J t -- over one element,
    normalize's Jacobian is 0, its terms u / |x| and x (x . u) / |x|^3 are not.  Their rounding
    reaches <v, J u> through the op's cotangent w = d<v, output>/d(op's result), so they count
    |w| s |t|; t and w are measured by central differences on the float64 references (the
    order of magnitude is all a rounding bound needs).
    """
    hooked = [k for k, node in enumerate(p.nodes)
              if node.op is not None and REGISTRY[node.op].formula_scale is not None]
    if not hooked or p.cotangent is None:
        return 0.0
    h = 1e-6
    with np.errstate(all="ignore"):
        plus = p.evaluate({i: vals[i] + h * w for i, w in u.items()})
        minus = p.evaluate({i: vals[i] - h * w for i, w in u.items()})
        total = 0.0
        for k in hooked:
            node = p.nodes[k]
            scale = REGISTRY[node.op].formula_scale([vals[j] for j in node.inputs], node.params)
            t = float(np.sqrt(sum(np.sum(((plus[j] - minus[j]) / (2 * h)) ** 2) for j in node.inputs)))
            w = np.zeros(vals[k].shape)
            for e in np.ndindex(*vals[k].shape):
                bump = np.zeros(vals[k].shape)
                bump[e] = h
                w[e] = (p.objective({k: vals[k] + bump}) - p.objective({k: vals[k] - bump})) / (2 * h)
            total += float(np.linalg.norm(w)) * scale * t
    return total if np.isfinite(total) else 0.0


@prop("jvp_vjp_transpose", family="forward", capabilities={caps.FORWARD_AD}, methods={"jvp"}, oracles={"rule"},
      strategy=nonscalar_programs, cost=1.5)
def _jvp_vjp_transpose(A: Any, p: Program) -> Evidence:
    """<v, J u> from forward mode equals <J^T v, u> from reverse mode, to rounding (no oracle needed).

    u: a random tangent on the leaves requiring grad; v: the program's random cotangent.  The
    tolerance is derived from the dtype's unit roundoff and the magnitudes of the terms
    (``transpose_tolerance``), never from a table: the rule is exact in real arithmetic.
    """
    require_smooth(p)
    assert p.cotangent is not None  # the strategy draws non-scalar programs
    u = direction(p)
    ju = engine_jvp(A, p, u)
    _, grads = p.backward(A)  # J^T v
    leaves = sorted(u)
    out_shape = _output_shape(p, p.output)
    if ju.shape != out_shape:
        return Evidence(False, f"forward-mode tangent has shape {ju.shape}, the output {out_shape}",
                        list(out_shape), list(ju.shape), oracles=["rule"], program=p)
    jtv = []
    for i in leaves:
        g = grads[i]
        g = np.zeros_like(u[i]) if g is None else np.asarray(g, dtype=np.float64)
        if g.shape != u[i].shape:  # grad_dtype_shape judges this; here the inner product is undefined
            return Evidence(False, f"v{i}.grad has shape {g.shape}, the leaf {u[i].shape}",
                            list(u[i].shape), list(g.shape), oracles=["rule"], program=p)
        jtv.append(g)
    forward = float(np.sum(p.cotangent * ju))
    reverse = float(sum(np.sum(g * w) for g, w in zip(jtv, (u[i] for i in leaves))))
    tol = transpose_tolerance(p, p.cotangent, ju, jtv, [u[i] for i in leaves])
    diff = abs(forward - reverse)
    ok = bool(diff <= tol)  # NaN on either side fails
    msg = "" if ok else (f"<v, J u> = {forward!r} (forward mode) but <J^T v, u> = {reverse!r} (reverse mode): "
                         f"differ by {diff:.3g} > {tol:.3g} (rounding bound); forward tangent J u = "
                         f"{np.array2string(ju, threshold=8)}")
    return Evidence(ok, msg, {"<J^T v, u>": reverse}, {"<v, J u>": forward}, diff,
                    diff / max(abs(reverse), 1e-300), ["rule"], p)


@prop("jvp_of_grad", family="forward", capabilities={caps.FORWARD_AD, caps.HIGHER_ORDER, caps.FUNCTIONAL_GRAD},
      methods={"jvp", "grad"}, oracles={"numerical-2nd-order"}, dtypes=("float64",),
      cost=4.0)
def _jvp_of_grad(A: Any, p: Program) -> Evidence:
    """Forward-over-reverse: the forward-mode tangent of the gradient (H u) equals the numerical Hessian-vector product.

    The gradient is taken with create_graph=True inside forward mode; its tangent along u is
    compared with the four-point stencil of ``higher_order`` (same oracle, same tolerance).
    """
    require_smooth(p)
    u = direction(p)
    leaves, grad_leaves = p.leaves, p.grad_leaves
    primals = [A.leaf(p.nodes[i].value, p.dtype, p.nodes[i].requires_grad) for i in leaves]

    def fn(xs: list[Any]) -> list[Any]:
        ts = p.run(A, leaves=dict(zip(leaves, xs)))
        cot = p.cotangent_tensor(A) if p.cotangent is not None else A.leaf(np.array(1.0), p.dtype, False)
        gs = A.grad([ts[p.output]], [ts[i] for i in grad_leaves], [cot], create_graph=True, allow_unused=True)
        # an unused leaf's gradient is zero whatever u is: a constant tensor, no tangent
        return [A.leaf(np.zeros_like(p.nodes[i].value), p.dtype, False) if g is None else g
                for g, i in zip(gs, grad_leaves)]

    tangents = A.jvp(fn, primals, [u.get(i) for i in leaves])
    obs = {i: np.zeros_like(p.nodes[i].value) if t is None else np.asarray(t, dtype=np.float64)
           for i, t in zip(grad_leaves, tangents)}
    exp = O.numerical_hvp(p, grad_leaves, u)
    tol = O.tolerance_for(p, "numerical-2nd-order")
    c = O.compare(named(p, exp), named(p, obs), tol, "numerical-2nd-order")
    if not c.ok:  # within the stencil's own uncertainty it cannot tell
        c = O.compare(named(p, exp), named(p, obs), tol, "numerical-2nd-order",
                      named(p, O.hvp_uncertainty(p, grad_leaves, u, exp)))
    return from_comparison(c, named(p, exp), named(p, obs), "numerical-2nd-order", p, "tangent of the gradient")
