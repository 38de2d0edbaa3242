"""Integer and bool tensors: only floating tensors may require grad, and reductions of integer
tensors give torch's dtype and exact values.

Every other property draws floating leaves, so an engine that lets an int64 tensor require grad
(and then differentiates through a rounding it never did), or sums int32 into float64, passes
them all.  Both properties need the adapter's ``integer_leaf`` and are not-applicable without it.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, Sequence

import numpy as np
from hypothesis import strategies as st

from conformance.checks import oracles as O
from conformance.checks.properties import dtype_script
from conformance.checks.properties.base import Evidence, prop, violations
from conformance.engines.adapter import INTEGER_DTYPES
from conformance.engines.contract import AdapterContractError
from conformance.spec import shape_pool
from conformance.spec.ops import REGISTRY
from conformance.spec.tolerances import tolerance

ORACLE = "torch-promoted"
#: integer elements are drawn from here: small, so that prod of a few stays far from overflow
_INTS = range(-3, 4)


@dataclass
class IntegerCall:
    """``op`` on one integer or bool tensor (``value`` holds its elements as int64, or bool)."""

    compares_with_torch: ClassVar[bool] = True  # to_script runs it on torch too and exits 1 on a difference

    op: str | None  # None: no op, only the leaf (the requires_grad rule)
    dtype: str
    value: np.ndarray
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def focus(self) -> str:
        return self.op or "*"

    def to_script(self, engine: str, dtype: str | None = None) -> str:
        """A script making the leaf (and applying the op) on ``engine`` and on torch; exits 1 while they differ."""
        title = f"{self.op}({self.dtype})" if self.op else f"a {self.dtype} leaf with requires_grad=True"
        leaf = dtype_script.operand(self.value, self.dtype, self.op is None)
        return dtype_script.script(engine, title, [leaf], self.op, self.params)


def _elements(dtype: str, n: int) -> st.SearchStrategy[list[Any]]:
    one = st.booleans() if dtype == "bool" else st.sampled_from(_INTS)
    return st.lists(one, min_size=n, max_size=n)


@st.composite
def _leaf(draw: Any) -> IntegerCall:
    dtype = draw(st.sampled_from(INTEGER_DTYPES))
    shape = draw(st.sampled_from(((), (3,), (2, 3))))
    vals = draw(_elements(dtype, int(np.prod(shape, dtype=np.int64))))
    return IntegerCall(None, dtype, np.array(vals, dtype=dtype).reshape(shape))


@st.composite
def _reduction(draw: Any, op: str) -> IntegerCall:
    spec = REGISTRY[op]
    sample = shape_pool.sample(spec, draw)
    dtype = draw(st.sampled_from(INTEGER_DTYPES))
    shape = sample.shapes[0]
    vals = draw(_elements(dtype, int(np.prod(shape, dtype=np.int64))))
    return IntegerCall(op, dtype, np.array(vals, dtype=dtype).reshape(shape), dict(sample.params))


def _leaf_strategy(ops: Sequence[str], dtype: str, available: frozenset[str] | None = None) -> Any:
    return _leaf()


def _reduction_strategy(ops: Sequence[str], dtype: str, available: frozenset[str] | None = None) -> Any:
    return _reduction(ops[0])


@prop("integer_requires_grad", family="semantics", per_op=False, methods={"integer_leaf"}, oracles={"rule"},
      dtypes=("float64",), strategy=_leaf_strategy)
def _integer_requires_grad(A: Any, c: IntegerCall) -> Evidence:
    """An integer or bool tensor cannot require grad: asking for it raises (torch: "only Tensors of
    floating point dtype can require gradients")."""
    try:
        A.integer_leaf(c.value, c.dtype, True)
    except AdapterContractError:
        raise
    except Exception:  # noqa: BLE001 - any error is the rule kept; its type is the engine's own
        return Evidence(True, oracles=["rule"])
    problem = (f"requires_grad=True on an integer or bool tensor did not raise; a {c.dtype} leaf: only "
               "floating point tensors can require gradients (torch raises RuntimeError)")
    return violations([problem], c)  # type: ignore[arg-type]


def _is_reduction(op: str) -> bool:
    spec = REGISTRY[op]
    return spec.family == "reduce" and spec.arity == 1 and bool(spec.torch_equivalent)


@prop("integer_reduction", family="dtypes", methods={"integer_leaf"}, oracles={ORACLE}, dtypes=("float64",),
      strategy=_reduction_strategy, applies=_is_reduction)
def _integer_reduction(A: Any, c: IntegerCall) -> Evidence:
    """A reduction of an int64, int32 or bool tensor returns torch's dtype (sum of int32 or bool: int64)
    and exactly torch's values, or raises where torch raises (mean of an integer tensor).

    One cell per reduction op (labelled float64: the example draws its integer dtype)."""
    T = O.torch_adapter()
    call = f"{c.op}({c.dtype})"
    try:
        t_out = T.apply(c.op, [T.integer_leaf(c.value, c.dtype)], c.params)
        want, t_err = T.dtype_of(t_out), None
    except Exception as e:  # noqa: BLE001 - torch refuses it (mean of int64): the engine should too
        t_out, want, t_err = None, None, f"{type(e).__name__}: {str(e)[:120]}"
    try:
        e_out = A.apply(c.op, [A.integer_leaf(c.value, c.dtype)], c.params)
    except AdapterContractError:
        raise
    except Exception as e:  # noqa: BLE001 - compared with torch's answer below
        if t_err is not None:
            return Evidence(True, oracles=[ORACLE])
        return _fail(c, f"{call} raised {type(e).__name__}: {str(e)[:160]}; torch returns {want}", want,
                     type(e).__name__)
    got = A.dtype_of(e_out)
    if t_err is not None:
        return _fail(c, f"{call} returned {got}; torch raises {t_err}", "an error", got)
    if got != want:
        return _fail(c, f"{call} returned {got}; torch returns {want}", want, got)
    expected, observed = T.to_numpy(t_out), A.to_numpy(e_out)
    if want in ("float32", "float64"):  # logsumexp promotes to float: values to rounding, not bits
        cmp = O.compare({"output": expected.astype(np.float64)}, {"output": observed.astype(np.float64)},
                        tolerance(ORACLE, want), ORACLE)
        return Evidence(True, oracles=[ORACLE]) if cmp.ok else _fail(c, f"{call}: {cmp.message}", "torch's values",
                                                                       "different values")
    if expected.shape != observed.shape or not np.array_equal(expected, observed):
        return _fail(c, f"{call} returned {observed.tolist()!r}; torch returns {expected.tolist()!r}",
                     expected.tolist(), observed.tolist())
    return Evidence(True, oracles=[ORACLE])


def _fail(c: IntegerCall, message: str, expected: Any, observed: Any) -> Evidence:
    return Evidence(False, message, expected, observed, oracles=[ORACLE], program=c)  # type: ignore[arg-type]
