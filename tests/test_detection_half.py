"""The half-precision properties: float16 / bfloat16 cells for engines that declare them, caught on exactly the
op that loses precision, passed by torch and refengine."""
from __future__ import annotations

from conformance import run
from conformance.runner.results import Status

REDUCTIONS = ["sum", "mean", "var", "cumsum", "logsumexp"]


def test_half_accumulation_catches_a_float16_accumulator_on_sum_alone() -> None:
    from broken_engines.dtypes import SumAccumulatesInHalf

    rr = run(SumAccumulatesInHalf(), profile="ci", ops=REDUCTIONS, properties=["half_accumulation"], seed=0,
             corpus=False)
    failed = {(r.op, r.dtype) for r in rr.results if r.status.is_problem}
    assert failed == {("sum", "float16")}, [(r.op, r.dtype, r.status, r.message) for r in rr.results]
    (cell,) = [r for r in rr.results if r.op == "sum" and r.dtype == "float16"]
    assert cell.status == Status.FAILED and "torch's error" in cell.message, cell.message
    assert "accumulation in float16?" in cell.message, cell.message
    assert all(f.culprit == {"op": "sum"} and f.fault == "engine" for f in rr.findings())


def test_the_forward_and_gradient_bounds_let_the_float16_accumulator_pass_on_short_sums() -> None:
    """Recursive summation of a few elements is within the componentwise rounding bound: only the long
    reductions of half_accumulation tell a float16 accumulator from torch's float32 one."""
    from broken_engines.dtypes import SumAccumulatesInHalf

    rr = run(SumAccumulatesInHalf(), profile="ci", ops=["sum", "tanh"], properties=["half_forward", "half_grad"],
             seed=0, corpus=False)
    assert rr.conformant, [(r.op, r.dtype, r.message) for r in rr.results if r.status.is_problem]


def test_half_forward_catches_a_float16_op_returning_float32() -> None:
    from broken_engines.dtypes import TanhHalfUpcasts

    rr = run(TanhHalfUpcasts(), profile="ci", ops=["tanh", "exp", "sigmoid"], properties=["half_forward"], seed=0,
             corpus=False)
    failed = {(r.op, r.dtype) for r in rr.results if r.status.is_problem}
    assert failed == {("tanh", "float16")}, [(r.op, r.dtype, r.status, r.message) for r in rr.results]
    (cell,) = [r for r in rr.results if r.op == "tanh" and r.dtype == "float16"]
    assert "tanh(float16) returned float32; a float16 op must return float16" in cell.message, cell.message


def test_torch_and_refengine_pass_the_half_properties() -> None:
    for engine in ("torch", "refengine"):
        rr = run(engine, profile="ci", ops=["mul", "tanh", "softmax", "sum", "mean", "cumsum", "matmul"],
                 properties=["half_forward", "half_grad", "half_accumulation"], seed=0, corpus=False)
        assert rr.conformant, [(r.op, r.dtype, r.message) for r in rr.results if r.status.is_problem]
        assert any(r.status == Status.PASSED and r.dtype == "float16" for r in rr.results), engine


def test_half_cells_need_the_dtype_capability_and_an_op_torch_runs_in_it() -> None:
    from tinynp.adapter import TinyNp

    rr = run(TinyNp(), profile="ci", ops=["sum"], properties=["half_forward"], seed=0, corpus=False)
    assert {(r.dtype, r.status, r.message) for r in rr.results} == {
        ("float16", Status.NOT_APPLICABLE, "engine lacks dtype float16"),
        ("bfloat16", Status.NOT_APPLICABLE, "engine lacks dtype bfloat16")}
    rr = run("torch", profile="ci", ops=["cholesky"], properties=["half_forward"], seed=0, corpus=False)
    assert {r.status for r in rr.results} == {Status.NOT_APPLICABLE}
    assert all("torch cannot run cholesky in" in r.message for r in rr.results), [r.message for r in rr.results]


def test_quick_runs_no_half_cell() -> None:
    from conformance.runner.plan import plan
    from conformance.runner.profiles import PROFILES

    assert not [c for c in plan(PROFILES["quick"]) if c[2] in ("float16", "bfloat16")]
    assert {c[0].name for c in plan(PROFILES["ci"]) if c[2] == "float16"} == {
        "half_forward", "half_grad", "half_accumulation"}
