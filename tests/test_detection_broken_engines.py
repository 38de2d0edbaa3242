"""Detection power: every deliberately broken engine in tests/broken_engines is flagged by
the ci profile on the cells that should see it, with a runnable reproducer."""
from __future__ import annotations

from pathlib import Path

import pytest
from broken_engines import BROKEN
from repro_helpers import replay

from conformance import run
from conformance.checks.properties import PROPERTIES
from conformance.runner.cells import RULE_FAMILIES
from conformance.runner.results import Status

#: engines whose one bug breaks two statements of its rule, each its own finding
TWO_FINDINGS = {"RetainGradSwitchRetainsAll"}  # intermediates not retained keep .grad; so does the output
#: engines whose reproducer cannot replay the check: it hands the engine a Python callable (a hook)
PROGRAM_SCRIPT_ONLY = {"HookReturnIgnored"}


def _expected_culprit(ops: list[str] | None, props: list[str]) -> dict[str, str]:
    """The op for a value bug in the listed op; the rule for everything engine-wide."""
    prop = PROPERTIES[props[0]]
    return {"op": ops[0]} if ops and prop.family not in RULE_FAMILIES else {"rule": props[0]}


@pytest.mark.parametrize("cls", list(BROKEN), ids=lambda c: c.__name__)
def test_broken_engine_is_flagged(cls: type, tmp_path: Path) -> None:
    """Caught, as exactly its finding on the right culprit, with a reproducer that exits 1 on the
    engine and 0 on torch."""
    ops, props = BROKEN[cls]
    rr = run(cls(), profile="ci", ops=ops, properties=props, seed=0, corpus=False)
    flagged = [r for r in rr.results if r.status.is_problem]
    assert flagged, f"{cls.__name__} slipped through: {[(r.op, r.property, r.dtype, r.status) for r in rr.results]}"
    # a wrong answer is reported as FAILED (not as an engine/harness ERROR)
    assert any(r.status == Status.FAILED for r in flagged), [(r.status, r.message) for r in flagged]
    for r in flagged:
        if r.status == Status.FAILED:
            assert r.message and r.reproducer and "import" in r.reproducer
            assert r.seed == 0
    found = rr.findings()
    assert len(found) == (2 if cls.__name__ in TWO_FINDINGS else 1), [(f.culprit, f.signature) for f in found]
    want = _expected_culprit(ops, props)
    assert all(f.culprit == want and f.fault == "engine" for f in found), [(f.culprit, f.fault) for f in found]
    if cls.__name__ in PROGRAM_SCRIPT_ONLY:
        return
    for f in found:
        bad = replay(f.reproducer, tmp_path)
        assert bad.returncode == 1, (f.signature, bad.stdout[-1500:], bad.stderr[-1500:])
        good = replay(f.reproducer, tmp_path, "torch")
        assert good.returncode == 0 and "OK" in good.stdout, (good.stdout[-1500:], good.stderr[-1500:])


@pytest.mark.parametrize("cls", list(BROKEN), ids=lambda c: c.__name__)
def test_broken_engine_caught_on_other_seed(cls: type) -> None:
    ops, props = BROKEN[cls]
    rr = run(cls(), profile="ci", ops=ops, properties=props, seed=12345, corpus=False)
    assert not rr.conformant


def test_stateful_lockstep_catches_nonleaf_grad_and_passes_torch() -> None:
    from broken_engines.engines import FillsNonLeafGrad

    from conformance.engines import resolve

    bad = run(FillsNonLeafGrad(), profile="ci", properties=["stateful_vs_torch"], seed=0, corpus=False)
    assert bad.results[0].status == Status.FAILED and "grad" in bad.results[0].message
    good = run(resolve("torch"), profile="ci", properties=["stateful_vs_torch"], seed=0, corpus=False)
    assert good.results[0].status == Status.PASSED
