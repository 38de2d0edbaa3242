"""Detection power: every deliberately broken engine in tests/broken_engines is flagged by
the ci profile on the cells that should see it, with a runnable reproducer."""
from __future__ import annotations

import pytest
from broken_engines import BROKEN

from conformance import run
from conformance.runner.results import Status


@pytest.mark.parametrize("cls", list(BROKEN), ids=lambda c: c.__name__)
def test_broken_engine_is_flagged(cls: type) -> None:
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
