"""The comparison property catches an engine that gets one comparison's result wrong, on exactly that op;
comparisons get no cells of the program-drawing properties (a bool result has no gradient to check)."""
from __future__ import annotations

import numpy as np
from broken_engines.comparisons import GtRequiresGrad, LtReturnsFloat
from hypothesis import HealthCheck, given, seed, settings

from conformance import run
from conformance.checks.diagnosis import culprit
from conformance.checks.properties import PROPERTIES
from conformance.engines import resolve
from conformance.runner.plan import plan
from conformance.runner.profiles import PROFILES
from conformance.runner.results import ANY_OP, Status
from conformance.spec.programs import programs

OPS = ["eq", "lt", "gt", "where"]


def _problems(rr):
    return [(r.op, r.dtype, r.status, r.message) for r in rr.results if r.status.is_problem]


def test_comparison_catches_a_float_result_on_lt_alone(tmp_path) -> None:
    from repro_helpers import replay

    rr = run(LtReturnsFloat(), profile="quick", ops=OPS, properties=["comparison"], seed=0, corpus=False)
    assert {r.op for r in rr.results if r.status.is_problem} == {"lt"}, _problems(rr)
    for cell in (r for r in rr.results if r.op == "lt"):
        assert cell.status == Status.FAILED, cell.message
        assert cell.message.startswith(f"lt returned {cell.dtype}, not bool"), cell.message
    assert rr.findings() and all(f.culprit == {"op": "lt"} for f in rr.findings())
    # the reproducer exits 1 on the engine while the bug is there, 0 on torch
    assert replay(rr.findings()[0].reproducer, tmp_path).returncode == 1
    assert replay(rr.findings()[0].reproducer, tmp_path, "torch").returncode == 0


def test_comparison_catches_a_result_that_requires_grad_on_gt_alone() -> None:
    rr = run(GtRequiresGrad(), profile="quick", ops=OPS, properties=["comparison"], seed=0, corpus=False)
    assert {r.op for r in rr.results if r.status.is_problem} == {"gt"}, _problems(rr)
    (cell, *_) = [r for r in rr.results if r.op == "gt"]
    assert "gt's result requires grad" in cell.message, cell.message
    assert all(f.culprit == {"op": "gt"} for f in rr.findings())


def test_torch_and_refengine_pass_comparison() -> None:
    for engine in ("torch", "refengine"):
        rr = run(engine, profile="quick", ops=OPS, properties=["comparison"], seed=0, corpus=False)
        assert rr.conformant and {r.status for r in rr.results} == {Status.PASSED}, _problems(rr)
        assert {r.op for r in rr.results} == {"eq", "lt", "gt"}


def test_comparisons_get_no_cells_of_the_program_properties_and_are_never_drawn() -> None:
    cells = plan(PROFILES["quick"], ops=["eq", "lt", "gt", "mul"])
    props = {p.name for p, op, _ in cells if op in ("eq", "lt", "gt")}
    assert props == {"comparison"}, props
    assert PROPERTIES["comparison"].drawable(["eq", "mul"]) == ["eq", "mul"]
    for p, op, _ in cells:
        if op == ANY_OP:
            assert p.drawable(["eq", "lt", "mul"]) == ["mul"], p.name


def test_the_node_check_expects_a_bool_result() -> None:
    """A program focused on a comparison ends at it; the per-node diagnosis wants bool there, and does not
    backward through it."""
    good, bad = resolve("refengine"), LtReturnsFloat()

    @seed(3)
    @settings(max_examples=10, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(programs("lt", "float32"))
    def check(p):  # type: ignore[no-untyped-def]
        assert p.cotangent is None and p.nodes[p.output].op == "lt"
        assert np.asarray(p.evaluate()[p.output]).shape == np.shape(good.to_numpy(p.run(good)[p.output]))
        assert culprit(good, p) is None
        v = culprit(bad, p)
        assert v is not None and v.op == "lt", v
        assert v.signature == "float32 inputs give a float32 output, not bool", v.signature

    check()
