"""Diagnosis: each deliberately broken engine yields exactly its bugs as findings, each on the
right culprit, and no correct op is failed (glue-op bugs read blocked-by on the other ops)."""
from __future__ import annotations

import pytest
from broken_engines.compound import CULPRITS
from repro_helpers import replay

from conformance import run
from conformance.runner.results import ANY_OP, Status


def _culprit(c: dict[str, str]) -> tuple[str, str]:
    return ("op", c["op"]) if "op" in c else ("rule", c["rule"])


@pytest.mark.parametrize("cls", list(CULPRITS), ids=lambda c: c.__name__)
def test_findings_are_exactly_the_engines_bugs(cls: type) -> None:
    want, ops, props = CULPRITS[cls]
    rr = run(cls(), profile="ci", ops=ops, properties=props, seed=0, corpus=False)
    found = rr.findings()
    got = [_culprit(f.culprit) for f in found]
    assert sorted(got) == sorted(want), [(f.culprit, f.signature, f.cells) for f in found]
    assert all(f.fault == "engine" and f.counts for f in found)
    for r in rr.results:
        if r.status.is_problem:  # a failed cell is the culprit's own (its op, or the rule's any-op cell)
            assert _culprit(r.culprit) in want
            assert r.culprit.get("op") == r.op or (r.op == ANY_OP and "rule" in r.culprit), (r.op, r.culprit)
        if r.status == Status.BLOCKED_BY:  # an innocent op: blocked by a culprit op, never failed
            assert ("op", r.blocked_by) in want and r.op != r.blocked_by
        if r.finding is not None:
            assert r.finding in {f.id for f in found}
    assert not rr.conformant


def test_glue_bug_blocks_innocent_ops() -> None:
    """add's missing broadcast reduction is one finding on add; sin, exp and mul read blocked-by add."""
    from broken_engines.engines import AddDropsBroadcastReduction

    rr = run(AddDropsBroadcastReduction(), profile="ci", ops=["add", "sin", "exp", "mul"],
             properties=["grad_vs_torch"], seed=0, corpus=False)
    (finding,) = rr.findings()
    assert finding.culprit == {"op": "add"}
    blocked = {r.op for r in rr.results if r.status == Status.BLOCKED_BY}
    assert blocked and blocked <= {"sin", "exp", "mul"}
    assert {r.op for r in rr.results if r.status == Status.FAILED} == {"add"}
    assert {tuple(c) for c in finding.cells} >= {r.key for r in rr.results if r.status == Status.BLOCKED_BY}


def test_correct_engine_has_no_findings() -> None:
    rr = run("torch", profile="quick", ops=["add", "sin", "tanh"], properties=["grad_vs_torch", "forward", "leaf_rule"],
             seed=0, corpus=False)
    assert rr.conformant and rr.findings() == []


@pytest.mark.parametrize("cls", list(CULPRITS), ids=lambda c: c.__name__)
def test_each_findings_reproducer_exits_1_on_the_engine_and_0_on_torch(cls: type, tmp_path) -> None:
    want, ops, props = CULPRITS[cls]
    rr = run(cls(), profile="ci", ops=ops, properties=props, seed=0, corpus=False)
    for f in rr.findings():
        assert f.reproducer, f
        bad = replay(f.reproducer, tmp_path)
        assert bad.returncode == 1, (f.culprit, f.signature, bad.stdout[-2000:], bad.stderr[-2000:])
        good = replay(f.reproducer, tmp_path, "torch")
        assert good.returncode == 0 and "OK" in good.stdout, (f.culprit, good.stdout[-2000:], good.stderr[-2000:])
