"""The contract check's shape query (``Adapter.shape_of``): a lazy engine is not made to compute each op as
it is applied, and a shape it answers is held to when the values are read (harness note H8)."""
from __future__ import annotations

from dataclasses import replace
from typing import Any, Sequence

import numpy as np
import pytest
from broken_engines.whose_fault import ShapeOfLies, UnsqueezeAtFrontBehindShapeOf

from conformance import run
from conformance.engines.adapter import Adapter
from conformance.engines.contract import AdapterContractError, WrongResultError, checked
from conformance.runner.results import Status
from conformance.spec.ops import REGISTRY

SUM = {"dim": None, "keepdim": False}


class _Lazy:
    """A recorded op (or a leaf's value): computed when read."""

    def __init__(self, op: str | None, inputs: Sequence[Any], params: dict[str, Any], value: Any = None) -> None:
        self.op, self.inputs, self.params, self.value = op, tuple(inputs), params, value


class LazyNumpy(Adapter):
    """Builds programs lazily, as a tracing or compiling engine does: ``apply`` records, a read computes
    everything not yet computed that the read tensor depends on, and counts that as one computation."""

    name = "lazy-numpy"
    capabilities = frozenset({"float64", "nd"})

    def __init__(self) -> None:
        self.computations = 0

    def has_op(self, op: str) -> bool: return op in ("sin", "mul", "sum")
    def leaf(self, value: Any, dtype: str, requires_grad: bool) -> Any: return _Lazy(None, (), {}, np.array(value))
    def apply(self, op: str, inputs: Sequence[Any], params: dict[str, Any]) -> Any: return _Lazy(op, inputs, params)
    def backward(self, out: Any, gradient: Any = None, retain_graph: Any = None, create_graph: bool = False) -> None:
        raise NotImplementedError
    def grad_of(self, t: Any) -> None: return None
    def dtype_of(self, t: Any) -> str: return "float64"
    def is_leaf(self, t: Any) -> bool: return t.op is None
    def requires_grad(self, t: Any) -> bool: return False
    def grad_fn_name(self, t: Any) -> None: return None

    def to_numpy(self, t: Any) -> np.ndarray:
        if t.value is None:
            self.computations += 1
            self._compute(t)
        return np.array(t.value)

    def _compute(self, t: Any) -> Any:
        if t.value is None:
            t.value = np.asarray(REGISTRY[t.op].reference(*(self._compute(i) for i in t.inputs), **t.params))
        return t.value

    def shape_of(self, t: Any) -> tuple[int, ...]:
        """The op's shape rule: its reference on zeros of the inputs' shapes (no values needed)."""
        if t.value is not None:
            return t.value.shape
        zeros = [np.zeros(self.shape_of(i)) for i in t.inputs]
        return np.shape(REGISTRY[t.op].reference(*zeros, **t.params))


class Eager(LazyNumpy):
    """The same engine without ``shape_of``: the contract check reads every op's values."""

    shape_of = Adapter.shape_of


def _program(A: Any, x: np.ndarray) -> Any:
    v = A.leaf(x, "float64", True)
    c = A.leaf(np.full(x.shape, 0.5), "float64", False)
    return A.apply("sum", [A.apply("mul", [A.apply("sin", [v], {}), c], {})], SUM)


def test_n_ops_applied_then_one_read_is_one_computation() -> None:
    inner = LazyNumpy()
    A = checked(inner)
    out = _program(A, np.array([1.0, 2.0, 3.0, 4.0, 5.0]))  # reference shapes not known yet: stand-ins answer
    assert inner.computations == 0
    np.testing.assert_allclose(A.to_numpy(out), np.sum(np.sin([1.0, 2.0, 3.0, 4.0, 5.0]) * 0.5))
    assert inner.computations == 1


def test_without_shape_of_the_contract_computes_every_op() -> None:
    inner = Eager()
    assert not inner.implements("shape_of") and LazyNumpy().implements("shape_of")
    A = checked(inner)
    _program(A, np.array([1.0, 2.0, 3.0]))
    assert inner.computations == 3  # sin, mul, sum, each read as it was applied


class CountingEager(Eager):
    """Eager, counting every read; its in-place ``add`` also grows the tensor (a shape an engine may change)."""

    def __init__(self) -> None:
        super().__init__()
        self.reads = 0

    def to_numpy(self, t: Any) -> np.ndarray:
        self.reads += 1
        return super().to_numpy(t)

    def apply_inplace(self, op: str, target: Any, other: Any) -> Any:
        target.value = np.stack([self.to_numpy(target)] * 2)
        return target


def test_an_eager_engine_has_each_tensor_read_once() -> None:
    """An op's inputs were read when they were made (a leaf, an op's result): the contract reads each op's
    result, not its inputs again (two leaves and three ops: five reads, not nine)."""
    inner = CountingEager()
    _program(checked(inner), np.array([1.0, 2.0, 3.0]))
    assert inner.reads == 5


def test_a_tensor_written_in_place_is_read_again() -> None:
    inner = CountingEager()
    A = checked(inner)
    v = A.leaf(np.array([1.0, 2.0, 3.0]), "float64", False)
    assert A.to_numpy(A.apply("sum", [v], {"dim": 0, "keepdim": False})).shape == ()
    A.apply_inplace("add", v, 1.0)  # now (2, 3): the reference shape of sum over dim 0 is (3,), not ()
    out = A.apply("sum", [v], {"dim": 0, "keepdim": False})  # a WrongResultError if v's shape were not read again
    assert A.to_numpy(out).shape == (3,)


def test_a_reference_that_refuses_the_stand_ins_reads_the_inputs(monkeypatch: pytest.MonkeyPatch) -> None:
    """The reference shape of a new (op, input shapes, params) is the numpy reference's on stand-ins drawn
    from the op's domains; where the reference refuses them, on the inputs' values (computing them)."""
    def picky(x: np.ndarray, dim: Any, keepdim: bool) -> np.ndarray:
        if (x < 0).any():  # the stand-ins are drawn from sum's domain, negatives included
            raise ValueError("negative values")
        return np.sum(x, axis=dim, keepdims=keepdim)

    monkeypatch.setitem(REGISTRY, "sum", replace(REGISTRY["sum"], reference=picky))
    inner = LazyNumpy()
    A = checked(inner)
    v = A.apply("exp", [A.leaf(np.ones((2, 7, 3)), "float64", True)], {})
    A.apply("sum", [v], {"dim": 1, "keepdim": False})
    assert inner.computations == 1  # exp(v), read for the reference
    A.apply("sum", [A.apply("exp", [v], {})], {"dim": 1, "keepdim": False})
    assert inner.computations == 1  # the same op, input shapes and params: the shape is known


class _SaysExtraDim(LazyNumpy):
    def shape_of(self, t: Any) -> tuple[int, ...]:
        s = super().shape_of(t)
        return (1, *s) if t.op == "sin" else s


def test_a_shape_of_that_lies_is_the_adapters_contract_error() -> None:
    A = checked(_SaysExtraDim())
    with pytest.raises(AdapterContractError, match=r"shape_of\(tensor\) returned tuple \(1, 3\)") as e:
        A.apply("sin", [A.leaf(np.ones(3), "float64", True)], {})
    assert not isinstance(e.value, WrongResultError)


class _SumKeepsDims(LazyNumpy):
    """sum computes keepdim=True while its shape rule says keepdim=False: the op is wrong, shape_of hides it."""

    def _compute(self, t: Any) -> Any:
        if t.value is None and t.op == "sum":
            t.value = np.sum(self._compute(t.inputs[0]), axis=None, keepdims=True)
        return super()._compute(t)


def test_a_wrong_result_behind_a_right_shape_of_is_caught_when_read() -> None:
    A = checked(_SumKeepsDims())
    out = _program(A, np.array([1.0, 2.0]))  # shape_of says (): the apply check passes
    with pytest.raises(WrongResultError, match=r"sum returned shape \(1,\)") as e:
        A.to_numpy(out)
    assert e.value.op == "sum"


def test_a_claim_that_disagrees_with_the_values_without_a_reference_is_a_lie() -> None:
    class _Leaves(LazyNumpy):
        def shape_of(self, t: Any) -> tuple[int, ...]:
            return (5,) if t.op is None else super().shape_of(t)

    A = checked(_Leaves())
    v = A.leaf(np.ones(2), "float64", True)
    assert A.shape_of(v) == (5,)
    with pytest.raises(AdapterContractError, match="shape_of"):
        A.to_numpy(v)


def test_runs_blame_the_op_or_the_adapter() -> None:
    """Through the runner: a wrong op hidden by shape_of is still that op's failure (the engine's); a
    shape_of that lies about a right op is the adapter's."""
    rr = run(UnsqueezeAtFrontBehindShapeOf(), profile="ci", ops=["unsqueeze"], properties=["forward"], seed=0,
             corpus=False)
    bad = [r for r in rr.results if r.status.is_problem]
    assert bad and all(r.status == Status.FAILED and r.fault == "engine" for r in bad), [
        (r.status, r.fault, r.message) for r in rr.results]
    assert all(r.culprit == {"op": "unsqueeze"} and "AdapterContractError" not in r.message for r in bad)
    rr = run(ShapeOfLies(), profile="quick", ops=["sin"], properties=["forward"], dtypes=["float64"], seed=0,
             corpus=False)
    bad = [r for r in rr.results if r.status.is_problem]
    assert bad and all(r.fault == "adapter" and "shape_of" in r.message for r in bad), [
        (r.fault, r.message) for r in rr.results]
