"""Comparisons: a bool result that carries no gradient, and a mask that selects gradients.

eq, lt and gt (``OpSpec.result_dtype == "bool"``) cannot sit inside a program -- every property
there differentiates through each op it draws -- so this property asks them alone, the way a
model uses them: ``m = lt(a, b)`` with an operand that requires grad, then ``where(m, x, y)`` and
``masked_fill(x, m, value)`` on fresh leaves.  The rule (torch's):

* ``m`` is bool, of the broadcast shape, with exactly numpy's values (ties are made common: eq
  is True only on them, and lt/gt must be False there);
* ``m`` does not require grad, and no gradient reaches ``a`` or ``b`` (their ``.grad`` stays
  None; zeros are accepted);
* ``where(m, x, y)`` gives x's gradient the cotangent where m is True and y's where it is False;
  ``masked_fill(x, m, v)`` gives x the cotangent where m is False.  Both are selections, so the
  expected gradients are exact.

Operands are float tensors of the cell's dtype, and int64 tensors where the adapter has
``integer_leaf`` (comparing an int64 tensor with a float one promotes as arithmetic does).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Sequence

import numpy as np
from hypothesis import strategies as st

from conformance.checks.properties import dtype_script
from conformance.checks.properties.base import Evidence, prop
from conformance.spec import shape_pool
from conformance.spec.ops import REGISTRY
from conformance.spec.opspec import Domain
from conformance.spec.programs import COTANGENTS, values

#: operand values: all of them (ties rare), or a few simple numbers (ties common, eq True somewhere)
_ANY = Domain(-3.0, 3.0)
_FEW = (-1.0, 0.0, 0.5, 1.0, 2.0)
_FILLS = (0.0, -1.5, 2.0)


@dataclass
class CompareCall:
    """``op(a, b)`` (kinds "float" -- the cell's dtype -- or "int64"), then where and masked_fill on its result."""

    compares_with_torch: ClassVar[bool] = True  # to_script runs it on torch too and exits 1 on a difference

    op: str
    dtype: str
    kinds: tuple[str, str]
    a: np.ndarray  # float64 values, exact in their kind
    b: np.ndarray
    requires_grad: tuple[bool, bool]
    same: bool  # b is a itself (lt(x, x): all False)
    x: np.ndarray  # where's and masked_fill's input, of the broadcast shape
    y: np.ndarray
    cotangent: np.ndarray
    fill: float

    @property
    def focus(self) -> str:
        return self.op

    def describe(self) -> str:
        kinds = tuple(self.dtype if k == "float" else k for k in self.kinds)
        return f"{self.op}({kinds[0]}, {kinds[1]})" if not self.same else f"{self.op}(x, x) of {kinds[0]}"

    def operands(self, A: Any) -> list[Any]:
        out: list[Any] = []
        for kind, v, rg in zip(self.kinds, (self.a, self.b), self.requires_grad):
            if self.same and out:
                return [out[0], out[0]]
            out.append(A.leaf(v, self.dtype, rg) if kind == "float" else A.integer_leaf(v.astype(np.int64), kind))
        return out

    def to_script(self, engine: str, dtype: str | None = None) -> str:
        """A script comparing on ``engine`` and on torch; exits 1 while the result's dtype or requires_grad differ."""
        ops = [dtype_script.operand(v, self.dtype if k == "float" else k, rg)
               for k, v, rg in zip(self.kinds, (self.a, self.b), self.requires_grad)]
        if self.same:
            ops = [ops[0], ops[0]]
        return dtype_script.script(engine, self.describe(), ops, self.op, {},
                                   answer="A.dtype_of(y) + ' requires_grad ' + str(A.requires_grad(y))")


def _operand(draw: Any, shape: tuple[int, ...], dtype: str, few: bool, salt: int) -> np.ndarray:
    if few:
        n = int(np.prod(shape, dtype=np.int64))
        return np.array(draw(st.lists(st.sampled_from(_FEW), min_size=n, max_size=n)), dtype=np.float64).reshape(shape)
    return draw(values(_ANY, shape, dtype, salt))


@st.composite
def _call(draw: Any, op: str, dtype: str) -> CompareCall:
    sa, sb = shape_pool.sample(REGISTRY[op], draw).shapes
    few = draw(st.booleans())
    kinds = tuple(draw(st.sampled_from(("float", "float", "int64"))) for _ in range(2))
    a = _operand(draw, sa, dtype, few, 0)
    b = _operand(draw, sb, dtype, few, 1)
    same = sa == sb and kinds[0] == kinds[1] and draw(st.integers(0, 3)) == 0
    a, b = (np.round(v) if k == "int64" else v for k, v in zip(kinds, (a, b)))  # type: ignore[assignment]
    # a float operand requires grad: its comparison must still not (an int64 one never may)
    rg = tuple(k == "float" and draw(st.booleans()) for k in kinds)
    if not any(rg) and "float" in kinds:
        rg = (kinds[0] == "float", kinds[0] != "float")
    shape = tuple(np.broadcast_shapes(sa, sb))
    x = draw(values(_ANY, shape, dtype, 2))
    y = draw(values(_ANY, shape, dtype, 3))
    cot = draw(values(COTANGENTS, shape, dtype, 4))
    return CompareCall(op, dtype, kinds, a, b if not same else a, rg, same, x, y, cot,  # type: ignore[arg-type]
                       draw(st.sampled_from(_FILLS)))


def _strategy(ops: Sequence[str], dtype: str, available: frozenset[str] | None = None) -> Any:
    return _call(ops[0], dtype)


def _is_comparison(op: str) -> bool:
    return REGISTRY[op].result_dtype == "bool"


@prop("comparison", family="dtypes", oracles={"numpy", "rule"}, helper_ops={"where"}, strategy=_strategy,
      applies=_is_comparison, nondifferentiable=True, cost=0.5)  # one op call and two backwards: cheap
def _comparison(A: Any, c: CompareCall) -> Evidence:
    """A comparison returns numpy's bool values and does not require grad even when an operand does; its
    mask drives where and masked_fill, whose gradients reach only the input each element selects."""
    if "int64" in c.kinds and not A.implements("integer_leaf"):
        c = CompareCall(c.op, c.dtype, ("float", "float"), c.a, c.b, c.requires_grad, c.same, c.x, c.y,
                        c.cotangent, c.fill)  # no integer tensors here: the same (integer) values as floats
    call = c.describe()
    ta, tb = c.operands(A)
    m = A.apply(c.op, [ta, tb], {})
    want = np.asarray(REGISTRY[c.op].reference(c.a, c.b)).astype(bool)
    got = A.dtype_of(m)
    if got != "bool":
        return _fail(c, f"{c.op} returned {got}, not bool; {call}: a comparison's result is a bool tensor "
                        f"(torch.{c.op})", "bool", got)
    mask = A.to_numpy(m)
    if mask.shape != want.shape or not np.array_equal(mask, want):
        return _fail(c, f"{c.op} values wrong; {call}: got {mask.tolist()!r}, expected {want.tolist()!r} (numpy)",
                     want.tolist(), mask.tolist())
    if A.requires_grad(m):
        return _fail(c, f"{c.op}'s result requires grad; {call} with an operand that requires grad: a "
                        "comparison records no graph (torch: requires_grad False)", False, True)
    problems = _selects(A, c, m, mask, ta, tb)
    if problems:
        return _fail(c, f"{problems[0]}; {call}", "gradients selected by the mask", problems)
    return Evidence(True, oracles=["numpy", "rule"])


def _selects(A: Any, c: CompareCall, m: Any, mask: np.ndarray, ta: Any, tb: Any) -> list[str]:
    """What is wrong with where(m, x, y) and masked_fill(x, m, fill): forward values and gradients, exactly."""
    problems: list[str] = []
    cot = A.leaf(c.cotangent, c.dtype, False)
    tx, ty = A.leaf(c.x, c.dtype, True), A.leaf(c.y, c.dtype, True)
    out = A.apply("where", [tx, ty], {"cond": m})
    A.backward(out, cot)
    expect = {"where's value": (A.to_numpy(out), np.where(mask, c.x, c.y)),
              "where's x.grad": (A.grad_of(tx), np.where(mask, c.cotangent, 0.0)),
              "where's y.grad": (A.grad_of(ty), np.where(mask, 0.0, c.cotangent))}
    if A.has_op("masked_fill"):
        tz = A.leaf(c.x, c.dtype, True)
        out = A.apply("masked_fill", [tz], {"mask": m, "value": c.fill})
        A.backward(out, A.leaf(c.cotangent, c.dtype, False))
        expect["masked_fill's value"] = (A.to_numpy(out), np.where(mask, c.fill, c.x))
        expect["masked_fill's x.grad"] = (A.grad_of(tz), np.where(mask, 0.0, c.cotangent))
    for what, (got, want) in expect.items():
        want = want.astype(c.dtype)
        if got is None or got.shape != want.shape or not np.array_equal(got.astype(want.dtype), want):
            shown = None if got is None else got.tolist()
            problems.append(f"{what} wrong with a mask from a comparison: got {shown!r}, expected {want.tolist()!r}")
    for name, t, rg in (("a", ta, c.requires_grad[0]), ("b", tb, c.requires_grad[1])):
        g = A.grad_of(t) if rg else None
        if g is not None and np.any(g != 0):
            problems.append(f"gradient reached the comparison's operand {name} through its mask: {name}.grad "
                            f"{g.tolist()!r}, expected None")
    return problems


def _fail(c: CompareCall, message: str, expected: Any, observed: Any) -> Evidence:
    return Evidence(False, message, expected, observed, oracles=["rule"], program=c)  # type: ignore[arg-type]
