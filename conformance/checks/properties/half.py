"""Half precision: float16 and bfloat16 cells, for engines that declare those dtypes.

Every other property runs float64 and float32; these three run only in the dtypes
``HALF_DTYPES`` and only in the ``ci`` and ``thorough`` profiles (``quick`` stays as it was).  An
engine without the ``float16`` / ``bfloat16`` capability reads not-applicable ("engine lacks dtype").

* ``half_forward``: the op alone on leaves exactly representable in the dtype returns that dtype, within
  the rounding bound of ``conformance/checks/rounding.py`` of float64 at the same inputs;
* ``half_grad``: each leaf's gradient has the leaf's dtype and lies within the gradient's rounding bound
  of torch's float64 gradient at the same inputs and cotangent;
* ``half_accumulation``: a reduction or scan of a long input (thousands of elements on the reduced
  dims) loses at most a few times torch's own error: an engine summing float16 into a float16
  accumulator, where torch accumulates in float32, is caught here -- the componentwise bound allows it.

An op torch cannot run in a dtype on the CPU (no float16 kernel: cholesky, det...) has nothing to tell
what an engine should give: its cell is not-applicable, found by running torch on a few of the op's
own samples (``torch_refuses``), not by a list of names.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
from hypothesis import reject
from hypothesis import strategies as st

from conformance.checks import oracles as O
from conformance.checks import rounding as R
from conformance.checks.properties.base import Evidence, prop, require_smooth
from conformance.spec import shape_pool
from conformance.spec.dtypes import HALF_DTYPES, NP_DTYPES, largest
from conformance.spec.opspec import ELEMENT_BYTES
from conformance.spec.ops import REGISTRY
from conformance.spec.programs import Node, Program, programs
from conformance.spec.shapes import axes

PROFILES = ("ci", "thorough")
#: a long reduction: at least this many input elements reduced into each output (where the sample's dims allow)
LONG = 2048
#: and at most this many input elements in all
MOST = 16384
#: samples of an op torch is tried on before the op is declared refused in a dtype
PROBES = 3


# -- which ops: those torch runs in the dtype -------------------------------------------------------------
def _torch_refusal(op: str, dtype: str, backward: bool) -> str | None:
    spec = REGISTRY[op]
    if not spec.torch_equivalent:
        return f"op {op} has no torch equivalent to tell what it gives in {dtype}"
    if dtype not in NP_DTYPES:
        return f"no {dtype} on the numpy side (ml_dtypes is not installed)"
    try:
        O.torch_adapter()
    except Exception as e:  # noqa: BLE001 - no torch here: nothing tells what the op gives in the dtype
        # not cached: torch missing now says nothing about the op (a later call may have torch)
        return f"torch, the judge of which ops run in {dtype}, cannot be loaded ({type(e).__name__})"
    return _torch_probe(op, dtype, backward)


@functools.cache
def _torch_probe(op: str, dtype: str, backward: bool) -> str | None:
    """Run torch on a few of the op's samples in ``dtype``: None if one runs, else why none did."""
    spec = REGISTRY[op]
    T = O.torch_adapter()
    errors = []
    for n, s in enumerate(shape_pool.samples(spec, PROBES, 0)):
        rng = np.random.default_rng(n)
        try:
            vals = [(s.domains[i] if s.domains else spec.domain(i)).decode(
                rng.bytes(ELEMENT_BYTES * int(np.prod(shp, dtype=np.int64))), tuple(shp), dtype)
                for i, shp in enumerate(s.shapes)]
        except ValueError as e:  # the op's domain holds no value of the dtype
            return f"no {dtype} value lies in {op}'s domain ({e})"
        try:
            leaves = [T.leaf(v, dtype, backward) for v in vals]
            out = T.apply(op, leaves, dict(s.params))
            if backward:
                T.backward(out, T.leaf(np.ones(tuple(out.shape)), dtype, False))
            return None
        except Exception as e:  # noqa: BLE001 - torch refusing the op in this dtype is the answer sought
            errors.append(f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"[:160])
    what = "differentiate" if backward else "run"
    return f"torch cannot {what} {op} in {dtype} on the CPU ({errors[0] if errors else 'no sample'})"


def torch_refuses(op: str, dtype: str) -> str | None:
    """Why torch cannot run ``op`` in ``dtype`` on the CPU (tried on a few samples of the op), or None."""
    return _torch_refusal(op, dtype, False)


def torch_refuses_backward(op: str, dtype: str) -> str | None:
    """Why torch cannot run and differentiate ``op`` in ``dtype`` on the CPU, or None."""
    return _torch_refusal(op, dtype, True)


# -- examples --------------------------------------------------------------------------------------------
def _alone(ops: Sequence[str], dtype: str, available: frozenset[str] | None = None) -> Any:
    """Programs of the op alone (no glue op around it): the bound is the op's, at its own inputs."""
    return programs(ops[0], dtype, available=frozenset(ops[:1]))


def _in_range(p: Program, values: list[np.ndarray]) -> bool:
    """Every value finite and far from the dtype's overflow (past it the dtype, not the engine, decides)."""
    top = largest(p.dtype) / 4
    return all(np.all(np.isfinite(v)) and (not np.size(v) or float(np.max(np.abs(v))) <= top) for v in values)


def _reference(p: Program) -> np.ndarray:
    with np.errstate(all="ignore"):
        vals = p.evaluate()
    if not _in_range(p, vals):
        reject()
    return vals[p.output]


def _jacobians(p: Program) -> dict[int, np.ndarray]:
    with np.errstate(all="ignore"):
        J = R.jacobians(p)
    if not all(np.all(np.isfinite(j)) for j in J.values()):
        reject()  # at a pole or a jump within the difference step: no conditioning to bound by
    return J


# torch in the dtype is consulted too: it tells which ops run in half at all (torch_refuses)
@prop("half_forward", family="dtypes", oracles={"rounding-bound", "torch-same-dtype"}, dtypes=HALF_DTYPES,
      profiles=PROFILES, strategy=_alone, refuses=torch_refuses, cost=1.5)
def _half_forward(A: Any, p: Program) -> Evidence:
    """The op on float16 / bfloat16 inputs returns that dtype, within c u (|y| + |J| |x|) of float64 at the same
    inputs (u: the dtype's unit roundoff; J: the op's Jacobian there; c: HALF_ROUNDINGS)."""
    y = _reference(p)
    out = A.to_numpy(p.run(A)[p.output])
    call = f"{p.focus}({p.dtype})"
    if str(out.dtype) != p.dtype:
        return Evidence(False, f"{call} returned {out.dtype}; a {p.dtype} op must return {p.dtype}", p.dtype,
                        str(out.dtype), oracles=["rounding-bound"], program=p)
    # the Jacobian (a forward per input element) only when the output is not within the bound without it
    bad = R.worst(y, out, R.forward_bound(p, y, {}), "output")
    if bad is not None:
        bad = R.worst(y, out, R.forward_bound(p, y, _jacobians(p)), "output")
    ok = bad is None
    err = float(np.max(np.abs(R.as_float64(out) - y))) if out.shape == y.shape and y.size else 0.0
    msg = "" if ok else f"{call} forward {bad[0]}: the op's rounding bound at these inputs"
    return Evidence(ok, msg, y.tolist(), R.as_float64(out).tolist(), err,
                    err / max(float(np.max(np.abs(y))) if y.size else 0.0, 1e-300), ["rounding-bound"], p)


@prop("half_grad", family="dtypes", oracles={"rounding-bound", "torch-float64"}, dtypes=HALF_DTYPES,
      profiles=PROFILES, strategy=_alone, refuses=torch_refuses_backward, cost=3.0)  # half_forward's draws
def _half_grad(A: Any, p: Program) -> Evidence:
    """Each leaf's gradient in float16 / bfloat16 has the leaf's dtype and lies within the gradient's rounding
    bound of torch's float64 gradient at the same inputs and cotangent (see conformance/checks/rounding.py)."""
    require_smooth(p)
    _reference(p)
    ts, grads = p.backward(A)
    _, tgrads = O.torch_grads(p)
    if not _in_range(p, [g for g in tgrads.values() if g is not None]):
        reject()
    call = f"{p.focus}({p.dtype})"
    for i in p.leaves:
        g, tg = grads[i], tgrads[i]
        if (g is None) != (tg is None):
            return _grad_fail(p, f"{call}: v{i}.grad is {'None' if g is None else 'set'}; torch's is "
                                 f"{'None' if tg is None else 'set'}", tg, g)
        if g is not None and str(g.dtype) != p.dtype:
            return _grad_fail(p, f"{call}: v{i}.grad is {g.dtype}; the leaf is {p.dtype}", p.dtype, str(g.dtype))
    # the Jacobian and the gradient's Hessian (a forward, or two torch backwards, per input element) only
    # when some gradient is not within the bound without them
    if _outside(p, grads, tgrads, R.gradient_bounds(p, tgrads, {}, {})) is not None:
        J = _jacobians(p)
        with np.errstate(all="ignore"):
            H = R.gradient_hessians(p)
        bad = _outside(p, grads, tgrads, R.gradient_bounds(p, tgrads, J, H))
        if bad is not None:
            i, where = bad
            return _grad_fail(p, f"{call} backward {where}: the gradient's rounding bound at these inputs",
                              tgrads[i].tolist(), R.as_float64(grads[i]).tolist())
    worst_err = max((float(np.max(np.abs(R.as_float64(grads[i]) - tgrads[i]), initial=0.0))
                     for i in p.grad_leaves if tgrads[i] is not None), default=0.0)
    return Evidence(True, oracles=["rounding-bound", "torch-float64"], max_abs=worst_err, max_rel=0.0, program=p)


def _outside(p: Program, grads: dict[int, Any], tgrads: dict[int, Any],
             bounds: dict[int, np.ndarray]) -> tuple[int, str] | None:
    """The first leaf whose gradient is not within its bound, and where (R.worst's description), or None."""
    for i in p.grad_leaves:
        if tgrads[i] is not None:
            bad = R.worst(tgrads[i], grads[i], bounds[i], f"v{i}.grad")
            if bad is not None:
                return i, bad[0]
    return None


def _grad_fail(p: Program, message: str, expected: Any, observed: Any) -> Evidence:
    return Evidence(False, message, expected, observed, oracles=["rounding-bound", "torch-float64"], program=p)


# -- accumulation ----------------------------------------------------------------------------------------
@dataclass
class LongReduction:
    """``op`` on one long leaf (``program``: the leaf, then the op); not a Program, so that the kink filter
    (ties among thousands of values) and the per-node diagnosis, made for small programs, leave it alone."""

    program: Program
    reduced: int  # input elements reduced into each output element

    @property
    def focus(self) -> str:
        return self.program.focus

    def to_script(self, engine: str, dtype: str | None = None) -> str:
        return self.program.to_script(engine, dtype)


def _stretched(shape: tuple[int, ...], params: dict[str, Any], target: int) -> tuple[tuple[int, ...], int]:
    """``shape`` with the dims the op reduces (``dim``; every dim without one) grown until ``target`` elements
    are reduced into each output (at most MOST in all); and how many are."""
    shape = tuple(int(k) for k in shape)
    if not shape:
        return shape, 1
    red = axes(params.get("dim"), len(shape)) if "dim" in params else tuple(range(len(shape)))
    count = int(np.prod([shape[d] for d in red], dtype=np.int64)) if red else 1
    if not red or count >= target:
        return shape, count
    factor = int(np.ceil((target / max(count, 1)) ** (1.0 / len(red))))
    new = list(shape)
    for d in red:
        new[d] = max(1, shape[d]) * factor
    while int(np.prod(new, dtype=np.int64)) > MOST and factor > 1:
        factor -= 1
        new = [max(1, shape[d]) * factor if d in red else shape[d] for d in range(len(shape))]
    return tuple(new), int(np.prod([new[d] for d in red], dtype=np.int64))


@st.composite
def long_reductions(draw: Any, op: str, dtype: str) -> LongReduction:
    """The op's own sample (shapes, params) with its reduced dims grown long; values from a seeded generator
    (hypothesis draws at most 8 KiB per example).  A result that would overflow the dtype (prod of thousands)
    is drawn shorter: LONG, then LONG/16, ..., down to the sample's own length."""
    spec = REGISTRY[op]
    sample = shape_pool.sample(spec, draw)
    dom = sample.domains[0] if sample.domains else spec.domain(0)
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    params = dict(sample.params)
    target = LONG
    while True:
        shape, reduced = _stretched(sample.shapes[0], params, target)
        value = dom.decode(rng.bytes(ELEMENT_BYTES * int(np.prod(shape, dtype=np.int64))), shape, dtype)
        p = Program([Node(value=value), Node(op, (0,), params)], 1, dtype, None, op)
        try:
            with np.errstate(all="ignore"):
                ok = _in_range(p, p.evaluate())
        except Exception:  # noqa: BLE001 - the reference refuses the grown shape: the sample as drawn
            ok, target = False, 1
        if ok or target <= 1:
            return LongReduction(p, reduced)
        target //= 16


def _is_reduction(op: str) -> bool:
    spec = REGISTRY[op]
    return spec.arity == 1 and spec.family in ("reduce", "scans") and bool(spec.torch_equivalent)


def _accumulation_strategy(ops: Sequence[str], dtype: str, available: frozenset[str] | None = None) -> Any:
    return long_reductions(ops[0], dtype)


@prop("half_accumulation", family="dtypes", oracles={"numpy", "torch-same-dtype"}, dtypes=HALF_DTYPES,
      profiles=PROFILES, strategy=_accumulation_strategy, applies=_is_reduction, refuses=torch_refuses)
def _half_accumulation(A: Any, c: LongReduction) -> Evidence:
    """A reduction or scan of a long float16 / bfloat16 input is at most ACCUMULATION_TORCH_FACTOR times as far
    from float64 as torch's own result on the same input (plus c u |y|): no accumulation in the half dtype."""
    p = c.program
    y = _reference(p)
    leaf, params, op = p.nodes[0].value, p.nodes[1].params, p.focus
    T = O.torch_adapter()
    try:
        t_out = T.to_numpy(T.apply(op, [T.leaf(leaf, p.dtype, False)], params))
    except Exception:  # noqa: BLE001 - torch refuses this sample in the dtype: nothing to measure against
        reject()
    out = A.to_numpy(A.apply(op, [A.leaf(leaf, p.dtype, False)], params))
    call = f"{op}({p.dtype}) of {leaf.size} elements ({c.reduced} reduced into each output)"
    if str(out.dtype) != p.dtype:
        return Evidence(False, f"{call} returned {out.dtype}; a {p.dtype} op must return {p.dtype}", p.dtype,
                        str(out.dtype), oracles=["numpy"], program=c)  # type: ignore[arg-type]
    if out.shape != y.shape:
        return Evidence(False, f"{call} returned shape {out.shape}; float64 gives {y.shape}", list(y.shape),
                        list(out.shape), oracles=["numpy"], program=c)  # type: ignore[arg-type]
    with np.errstate(all="ignore"):
        err = float(np.max(np.abs(R.as_float64(out) - y), initial=0.0))
        t_err = float(np.max(np.abs(R.as_float64(t_out) - y), initial=0.0))
    if np.isnan(err):
        err = float("inf")
    allowed = R.accumulation_allowance(p.dtype, y, t_err)
    ok = err <= allowed
    msg = "" if ok else (f"{call}: error {err:.2g} vs float64; torch's error {t_err:.2g}: accumulation in "
                         f"{p.dtype}? (allowed {allowed:.2g}: {R.ACCUMULATION_TORCH_FACTOR:g} x torch's + "
                         f"{R.HALF_ROUNDINGS:g} u max|y|)")
    return Evidence(ok, msg, {"error": t_err, "allowed": allowed}, {"error": err}, err,
                    err / max(float(np.max(np.abs(y), initial=0.0)), 1e-300), ["numpy", "torch-same-dtype"],
                    c)  # type: ignore[arg-type]
