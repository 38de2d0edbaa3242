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
    assert cell.message.startswith("mul of float32 with python float returned float64; torch returns float32"), cell.message
    found = rr.findings()
    assert found and all(f.culprit == {"op": "mul"} and f.fault == "engine" for f in found)
    assert {r.status for r in rr.results if r.op != "mul"} == {Status.PASSED}


def test_torch_and_refengine_pass_promotion() -> None:
    for engine in ("torch", "refengine"):
        rr = run(engine, profile="quick", ops=["mul", "add", "div", "cat", "hypot", "where"],
                 properties=["promotion"], seed=0, corpus=False)
        assert rr.conformant, [(r.op, r.status, r.message) for r in rr.results if r.status.is_problem]


def test_integer_requires_grad_rule_catches_a_silently_dropped_flag() -> None:
    from broken_engines.dtypes import IntegerRequiresGradIgnored

    rr = run(IntegerRequiresGradIgnored(), profile="quick", properties=["integer_requires_grad"], seed=0,
             corpus=False)
    (cell,) = rr.results
    assert cell.status == Status.FAILED and "did not raise" in cell.message, cell.message
    (finding,) = rr.findings()
    assert finding.culprit == {"rule": "integer_requires_grad"}


def test_integer_reduction_catches_int32_sums_on_sum_alone() -> None:
    from broken_engines.dtypes import SumKeepsInt32

    rr = run(SumKeepsInt32(), profile="ci", ops=["sum", "prod", "amax", "mean"], properties=["integer_reduction"],
             seed=0, corpus=False)
    failed = {r.op for r in rr.results if r.status.is_problem}
    assert failed == {"sum"}, [(r.op, r.status, r.message) for r in rr.results]
    (cell,) = [r for r in rr.results if r.op == "sum"]
    assert "returned int32; torch returns int64" in cell.message, cell.message
    assert all(f.culprit == {"op": "sum"} for f in rr.findings())


def test_torch_and_refengine_pass_the_integer_properties() -> None:
    for engine in ("torch", "refengine"):
        rr = run(engine, profile="quick", ops=["sum", "mean", "var", "logsumexp", "amax"],
                 properties=["integer_requires_grad", "integer_reduction"], seed=0, corpus=False)
        assert rr.conformant, [(r.op, r.status, r.message) for r in rr.results if r.status.is_problem]


def test_dtype_reproducers_exit_1_on_the_engine_and_0_on_torch(tmp_path) -> None:
    """A dtype failure's reproducer -- the trace script, or where calls cannot be traced (integer_leaf)
    the example's own dtype script -- exits 1 while the engine's answer differs, 0 on torch: a wrong
    dtype, and a promotion whose backward alone raises (the script runs the backward too)."""
    from broken_engines.dtypes import MulIntBackwardRaises, MulScalarUpcasts, SumKeepsInt32
    from repro_helpers import replay

    from conformance.runner.findings import PROGRAM_ONLY

    for engine, ops, props in ((MulScalarUpcasts(), ["mul"], ["promotion"]),
                               (MulIntBackwardRaises(), ["mul"], ["promotion"]),
                               (SumKeepsInt32(), ["sum"], ["integer_reduction"])):
        rr = run(engine, profile="ci", ops=ops, properties=props, seed=0, corpus=False)
        (f, *_) = rr.findings()
        assert engine.__class__ is not MulIntBackwardRaises or "backward raised TypeError" in f.message, f.message
        # it compares, so it does not say it only prints values (the program script's first line)
        assert PROGRAM_ONLY not in f.reproducer, f.reproducer[:400]
        bad = replay(f.reproducer, tmp_path)
        assert bad.returncode == 1, (bad.stdout, bad.stderr[-2000:])
        good = replay(f.reproducer, tmp_path, "torch")
        assert good.returncode == 0 and "OK" in good.stdout, (good.stdout, good.stderr[-2000:])
