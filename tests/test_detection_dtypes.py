"""The dtype properties catch engines that get one op's dtype wrong, on exactly that op."""
from __future__ import annotations

from broken_engines.dtypes import MulScalarUpcasts

from conformance import run
from conformance.runner.results import Status


def test_promotion_catches_a_python_float_widening_float32_on_mul_alone() -> None:
    rr = run(MulScalarUpcasts(), profile="ci", ops=["mul", "add", "sub", "div"], properties=["promotion"],
             seed=0, corpus=False)
    failed = {r.op for r in rr.results if r.status.is_problem}
    assert failed == {"mul"}, [(r.op, r.status, r.message) for r in rr.results]
    (cell,) = [r for r in rr.results if r.op == "mul"]
    assert cell.status == Status.FAILED
    assert "returned float64; torch returns float32" in cell.message and "python float" in cell.message
    found = rr.findings()
    assert found and all(f.culprit == {"op": "mul"} and f.fault == "engine" for f in found)
    assert {r.status for r in rr.results if r.op != "mul"} == {Status.PASSED}


def test_torch_and_refengine_pass_promotion() -> None:
    for engine in ("torch", "refengine"):
        rr = run(engine, profile="quick", ops=["mul", "add", "div", "cat", "hypot", "where"],
                 properties=["promotion"], seed=0, corpus=False)
        assert rr.conformant, [(r.op, r.status, r.message) for r in rr.results if r.status.is_problem]
