"""Type promotion: an op applied to operands of mixed kinds returns torch's dtype, and each
leaf's gradient keeps the leaf's dtype.

Programs (``spec.programs``) hold one dtype throughout, so no op there ever sees float32 meet
float64, a Python number, or an integer tensor.  Here each operand of a binary or n-ary op
is drawn from five kinds -- float32 and float64 tensors, int64 tensors (where the adapter can
make one: ``integer_leaf``), Python floats and Python ints (where it takes them:
SCALAR_OPERANDS) -- and the op runs once on the engine and once on torch with the very same
operands.  torch is the oracle: its result dtype is ``torch.result_type`` of the operands
(float32 with float64 -> float64; a Python float is "weak" and keeps float32; an integer tensor
with a float tensor -> the float's dtype; a zero-dim tensor promotes a dimensioned one only
across categories).  A wrong dtype is a failure of the op, worded
``mul of float32 with python float returned float64; torch returns float32: mul(float32, python
float)`` -- the kinds first, sorted, so that one promotion rule an engine follows by design (numpy's
int64 with float32 -> float64; no zero-dim rule in jax) is one signature over every op, which the
engine's expectation file declares once.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, ClassVar, Sequence

import numpy as np
from hypothesis import reject
from hypothesis import strategies as st

from conformance.checks import oracles as O
from conformance.checks.properties import dtype_script
from conformance.checks.properties.base import Evidence, prop
from conformance.engines import adapter as caps
from conformance.engines.contract import AdapterContractError
from conformance.spec import shape_pool
from conformance.spec.ops import REGISTRY
from conformance.spec.opspec import Domain
from conformance.spec.programs import COTANGENTS, KINK_MARGIN, values
from conformance.spec.tolerances import tolerance

ORACLE = "torch-promoted"
#: operand kinds: tensors of a dtype, or Python numbers ("float": 0.5, "int": 2)
FLOAT_KINDS = ("float32", "float64")
TENSOR_KINDS = FLOAT_KINDS + ("int64",)
SCALAR_KINDS = ("float", "int")
#: ops torch promotes over whose operands may be Python numbers (elementwise); cat and stack promote tensors only
_ELEMENTWISE_FAMILIES = frozenset({"elementwise", "elementwise_more", "rounding"})
_TENSOR_ONLY = frozenset({"cat", "stack"})
#: Python ints (and int tensor elements) are drawn from here, inside the op's domain
_INTS = range(-6, 7)


def promotes(op: str) -> bool:
    """Whether ``op`` is an op of several operands torch promotes over (elementwise binary, where, cat, stack)."""
    spec = REGISTRY[op]
    return bool(spec.torch_equivalent) and spec.arity >= 2 and (
        spec.family in _ELEMENTWISE_FAMILIES or op in _TENSOR_ONLY)


@dataclass
class Mixed:
    """One op on operands of drawn kinds: ``values[i]`` is a float64 array (a tensor kind, already
    representable in its dtype) or a Python number; only floating tensors may require grad."""

    compares_with_torch: ClassVar[bool] = True  # to_script runs it on torch too and exits 1 on a difference

    op: str
    kinds: tuple[str, ...]
    values: tuple[Any, ...]
    requires_grad: tuple[bool, ...]
    params: dict[str, Any] = field(default_factory=dict)
    cotangent: np.ndarray | None = None  # float64 values for the output, rounded to torch's result dtype

    @property
    def focus(self) -> str:
        return self.op

    def describe(self) -> str:
        """``mul(float32, python float)``: the call as the messages name it.  A 0-d tensor is marked ("zero-dim"):
        torch lets it promote only across categories (float64 0-d with float32 gives float32)."""
        return f"{self.op}({', '.join(_kind_name(k, v) for k, v in zip(self.kinds, self.values))})"

    def mix(self) -> str:
        """``float32 with python float``: the operand kinds, sorted and each once.  A wrong dtype's message
        starts with it, so one promotion rule an engine does its own way is one signature over every op
        (an expectation entry names it once: ``signature = "float32 with int64 returned float64"``).
        "zero-dim" is kept only where torch's answer depends on it: float tensors of both widths."""
        widths = {k for k in self.kinds if k in FLOAT_KINDS}
        names = {_kind_name(k, v) if len(widths) > 1 and k in FLOAT_KINDS else _kind_name(k, ())
                 for k, v in zip(self.kinds, self.values)}
        return " with ".join(sorted(names, key=_ORDER.index))

    def uniform(self, dtype: str) -> "Mixed":
        """The same op and values with every operand a ``dtype`` tensor: what the op is asked when no
        promotion is involved (Python numbers become 0-d tensors; integer tensors do not require grad)."""
        vals = tuple(np.asarray(v, dtype=np.float64).astype(dtype).astype(np.float64) for v in self.values)
        return Mixed(self.op, (dtype,) * len(vals), vals, self.requires_grad, self.params, self.cotangent)

    def build(self, A: Any) -> list[Any]:
        """The operands on adapter ``A``: leaves, integer leaves, or the Python numbers themselves."""
        out: list[Any] = []
        for kind, v, rg in zip(self.kinds, self.values, self.requires_grad):
            if kind in FLOAT_KINDS:
                out.append(A.leaf(v, kind, rg))
            elif kind in TENSOR_KINDS:
                out.append(A.integer_leaf(np.asarray(v).astype(kind), kind, False))
            else:
                out.append(v)
        return out

    def kink_distance(self) -> float:
        spec = REGISTRY[self.op]
        if spec.kink is None:
            return math.inf
        with np.errstate(all="ignore"):
            return float(spec.kink([np.asarray(v, dtype=np.float64) for v in self.values], self.params))

    def to_script(self, engine: str, dtype: str | None = None) -> str:
        """A script running this call, its backward and its gradients on ``engine`` and on torch, as the
        check does; it exits 1 while any stage differs (dtype, values, raising)."""
        ops = [dtype_script.operand(v, k, rg) for k, v, rg in zip(self.kinds, self.values, self.requires_grad)]
        grads = [i for i, rg in enumerate(self.requires_grad) if rg]
        tols = {dt: tuple(tolerance(ORACLE, dt)) for dt in FLOAT_KINDS}
        return dtype_script.staged_script(engine, self.describe(), ops, self.op, self.params, self.cotangent,
                                          grads, self.kinds, tols)


#: the order ``Mixed.mix`` lists kinds in
_ORDER = [k + z for k in TENSOR_KINDS for z in ("", " zero-dim")] + ["python " + k for k in SCALAR_KINDS]


def _kind_name(kind: str, v: Any) -> str:
    """``python float``, ``int64``, ``float64 zero-dim`` (a 0-d tensor; ``v = ()`` never is one)."""
    if kind in SCALAR_KINDS:
        return "python " + kind
    return kind + (" zero-dim" if np.ndim(v) == 0 else "")  # words: signatures blank out digits


def _ints(dom: Domain) -> list[int]:
    return [k for k in _INTS if dom.allows(float(k))]


@st.composite
def mixed(draw: Any, op: str) -> Mixed:
    """``op`` on operands of drawn kinds (see the module doc); at least one floating tensor requires grad."""
    spec = REGISTRY[op]
    sample = shape_pool.sample(spec, draw)
    scalars_ok = op not in _TENSOR_ONLY
    kinds, vals, rgs = [], [], []
    for i, shp in enumerate(sample.shapes):
        dom = sample.domains[i] if sample.domains else spec.domain(i)
        ints = _ints(dom)
        choices = FLOAT_KINDS + (("int64",) if ints else ()) + (
            (("float",) + (("int",) if ints else ())) if scalars_ok else ())
        kind = draw(st.sampled_from(choices))
        if kind in FLOAT_KINDS:
            v: Any = draw(values(dom, shp, kind, salt=i))
        elif kind == "int64":
            n = int(np.prod(shp, dtype=np.int64))
            v = np.array(draw(st.lists(st.sampled_from(ints), min_size=n, max_size=n)), dtype=np.float64).reshape(shp)
        elif kind == "float":
            v = float(draw(dom.elements("float64")))
        else:
            v = int(draw(st.sampled_from(ints)))
        kinds.append(kind)
        vals.append(v)
        rgs.append(kind in FLOAT_KINDS and draw(st.booleans()))
    floats = [i for i, k in enumerate(kinds) if k in FLOAT_KINDS]
    if not floats:  # a float tensor operand: the result is floating and has a gradient
        dom = sample.domains[0] if sample.domains else spec.domain(0)
        kinds[0] = draw(st.sampled_from(FLOAT_KINDS))
        vals[0] = draw(values(dom, sample.shapes[0], kinds[0], salt=0))
        floats = [0]
    if not any(rgs):
        rgs[floats[0]] = True
    m = Mixed(op, tuple(kinds), tuple(vals), tuple(rgs), dict(sample.params))
    with np.errstate(all="ignore"):
        shape = np.shape(spec.reference(*(np.asarray(v, dtype=np.float64) for v in vals), **m.params))
    m.cotangent = draw(values(COTANGENTS, shape, "float32", salt=len(vals)))  # float32-exact: exact in either dtype
    return m


def _strategy(ops: Sequence[str], dtype: str, available: frozenset[str] | None = None) -> Any:
    return mixed(ops[0])


@prop("promotion", family="dtypes", capabilities={caps.FLOAT32, caps.FLOAT64}, oracles={ORACLE},
      dtypes=("float64",), strategy=_strategy, applies=promotes)
def _promotion(A: Any, m: Mixed) -> Evidence:
    """An op on operands of mixed dtypes (float32, float64, int64 tensors, Python floats and ints) returns
    torch's result dtype and values, and each leaf's gradient has the leaf's dtype.

    One cell per op (labelled float64: the example draws its own operand dtypes).  Examples the
    engine cannot express (Python numbers without SCALAR_OPERANDS, int tensors without
    ``integer_leaf``) and mixes torch itself refuses (``maximum`` with a Python number) are not
    asked."""
    if any(k in SCALAR_KINDS for k in m.kinds) and caps.SCALAR_OPERANDS not in A.capabilities:
        reject()
    if "int64" in m.kinds and not A.implements("integer_leaf"):
        reject()
    if m.kink_distance() < KINK_MARGIN:
        reject()
    T = O.torch_adapter()
    try:
        t_in = m.build(T)
        t_out = T.apply(m.op, t_in, m.params)
    except Exception:  # noqa: BLE001 - torch refuses this mix of operands: nothing to compare with
        reject()
    want = T.dtype_of(t_out)
    call = m.describe()
    e_in = m.build(A)
    try:
        e_out = A.apply(m.op, e_in, m.params)
    except AdapterContractError:
        raise
    except Exception as e:  # refusing a mix torch accepts is this op's behaviour, judged here
        if not _uniform_works(A, m, want, backward=False):
            raise  # the op fails without promotion too: the engine's error, as every property reports it
        return _fail(m, f"{m.op} of {m.mix()} raised {type(e).__name__}; torch returns {want}: {call} raised "
                        f"{str(e)[:200]}", want, type(e).__name__)
    got = A.dtype_of(e_out)
    if got != want:
        return _fail(m, f"{m.op} of {m.mix()} returned {got}; torch returns {want}: {call}", want, got)
    tol = tolerance(ORACLE, want)
    c = O.compare({"output": T.to_numpy(t_out).astype(np.float64)},
                  {"output": A.to_numpy(e_out).astype(np.float64)}, tol, ORACLE)
    if not c.ok:
        return _fail(m, f"{call}: forward {c.message}", "torch's values", "different values")
    cot = np.asarray(m.cotangent, dtype=want)
    try:
        T.backward(t_out, T.leaf(cot, want, False))
    except Exception:  # noqa: BLE001 - torch has no derivative here (remainder w.r.t. its divisor): not asked
        reject()
    try:
        A.backward(e_out, A.leaf(cot, want, False))
    except AdapterContractError:
        raise
    except Exception as e:  # as for the forward: judged only if uniform operands differentiate
        if not _uniform_works(A, m, want, backward=True):
            raise
        return _fail(m, f"{call}: backward raised {type(e).__name__}: {str(e)[:200]}; torch differentiates it",
                     "gradients", type(e).__name__)
    for i, (kind, rg) in enumerate(zip(m.kinds, m.requires_grad)):
        if not rg:
            continue
        g, tg = A.grad_of(e_in[i]), T.grad_of(t_in[i])
        if g is None:
            return _fail(m, f"{call}: operand {i} ({kind}, requires grad) has no .grad", "a gradient", None)
        if str(g.dtype) != kind:
            return _fail(m, f"{call}: .grad of operand {i} is {g.dtype}; the leaf (and torch's .grad) is {kind}",
                         kind, str(g.dtype))
        # a float64 leaf's gradient that flowed through a float32 result carries float32 rounding (torch
        # gives a 0-d float64 with a float32 array a float32 result), and torch's backward formulas use each
        # saved operand in its own dtype (atan2's d/dother = -self/(self*self + other*other) squares a float32
        # self in float32): any float32 operand makes every gradient a float32-precision one
        coarse = "float32" if "float32" in (*m.kinds, want) else "float64"
        c = O.compare({f"grad x{i}": tg.astype(np.float64)}, {f"grad x{i}": g.astype(np.float64)},
                      tolerance(ORACLE, coarse), ORACLE)
        if not c.ok:
            return _fail(m, f"{call}: {c.message}", "torch's gradient", "different values")
    return Evidence(True, oracles=[ORACLE])


def _uniform_works(A: Any, m: Mixed, dtype: str, backward: bool) -> bool:
    """Whether the engine runs (and, with ``backward``, differentiates) the same op with every operand
    a ``dtype`` tensor.  If not, the op itself fails there, promotion or not: its error is reported
    as the engine's error, as every other property would, not as a promotion failure."""
    u = m.uniform(dtype)
    try:
        ins = u.build(A)
        out = A.apply(u.op, ins, u.params)
        if backward:
            A.backward(out, A.leaf(np.asarray(u.cotangent, dtype=dtype), dtype, False))
    except AdapterContractError:
        raise
    except Exception:  # noqa: BLE001 - the op fails without promotion too
        return False
    return True


def _fail(m: Mixed, message: str, expected: Any, observed: Any) -> Evidence:
    return Evidence(False, message, expected, observed, oracles=[ORACLE], program=m)  # type: ignore[arg-type]

