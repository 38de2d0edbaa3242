"""Whose fault: engine, adapter or harness -- and harness faults never count against the engine."""
from __future__ import annotations

import pytest
from broken_engines.whose_fault import AdapterReadsAList, AdapterTableTypo, UnsqueezeAtFront

from conformance import run
from conformance.checks import oracles as O
from conformance.cli.main import main
from conformance.runner.results import Status


def test_engine_op_returning_a_wrong_shape_is_an_engine_failure_of_that_op() -> None:
    rr = run(UnsqueezeAtFront(), profile="ci", ops=["unsqueeze"], properties=["forward"], seed=0, corpus=False)
    bad = [r for r in rr.results if r.status.is_problem]
    assert bad and all(r.status == Status.FAILED and r.fault == "engine" for r in bad), [
        (r.status, r.fault, r.message) for r in rr.results]
    assert all(r.culprit == {"op": "unsqueeze"} and "AdapterContractError" not in r.message for r in bad)
    (f,) = rr.findings()
    assert f.fault == "engine" and "shape" in f.signature


def test_adapter_programming_error_is_the_adapters_fault() -> None:
    rr = run(AdapterTableTypo(), profile="quick", ops=["exp"], properties=["forward"], seed=0, corpus=False)
    (f,) = rr.findings()
    assert f.fault == "adapter" and f.culprit == {"op": "exp"} and "KeyError" in f.signature


def test_adapter_breaking_its_contract_is_the_adapters_fault() -> None:
    rr = run(AdapterReadsAList(), profile="quick", ops=["sin"], properties=["forward"], dtypes=["float32"], seed=0,
             corpus=False)
    bad = [r for r in rr.results if r.status.is_problem]
    assert bad and all(r.fault == "adapter" for r in bad), [(r.fault, r.message) for r in rr.results]


class _RaisingTorch:
    """A torch oracle that raises: stands for a harness bug inside an oracle."""

    def __getattr__(self, name: str):
        raise RuntimeError("simulated failure inside the torch oracle")


def test_harness_error_is_shown_apart_and_exits_2(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture,
                                                  tmp_path) -> None:
    monkeypatch.setattr(O, "torch_adapter", lambda: _RaisingTorch())
    rr = run("refengine", profile="quick", ops=["sin"], properties=["grad_vs_torch"], seed=0, corpus=False, workers=1)
    assert rr.results and all(r.fault == "harness" and r.status == Status.ERROR for r in rr.results)
    assert rr.conformant  # the engine did nothing wrong
    assert rr.harness_errors and all(f.fault == "harness" and not f.counts for f in rr.findings())
    code = main(["run", "--engine", "refengine", "--ops", "sin", "--properties", "grad_vs_torch", "--profile",
                 "quick", "--seed", "0", "--no-corpus", "--workers", "1", "-q", "--report", str(tmp_path / "r")])
    err = capsys.readouterr().err
    assert code == 2 and "harness error: please report" in err
    assert "Harness errors" in (tmp_path / "r" / "summary.md").read_text()


def test_cell_whose_every_example_the_adapter_rejects_is_not_applicable_not_a_harness_error() -> None:
    """micrograd's pow takes only a constant exponent; stability draws both inputs requiring grad, so the
    adapter reject()s every example: nothing was asked of the engine (was: ERROR "harness: Unsatisfiable")."""
    pytest.importorskip("micrograd")
    rr = run("micrograd", profile="quick", ops=["pow"], properties=["stability"], dtypes=["float64"], seed=0,
             corpus=False, workers=1)
    (r,) = rr.results
    assert r.status == Status.NOT_APPLICABLE and "adapter rejected every example" in r.message, (r.status, r.message)
    assert not rr.harness_errors



def test_cell_whose_every_example_the_harness_rejects_stays_a_harness_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """The harness's own assume()/reject() exhausting a cell is a harness bug, not not-applicable."""
    import numpy as np
    monkeypatch.setattr(O, "forward_reference", lambda p: np.array(np.inf))  # stability rejects a non-finite reference
    rr = run("refengine", profile="quick", ops=["sigmoid"], properties=["stability"], dtypes=["float64"], seed=0,
             corpus=False, workers=1)
    (r,) = rr.results
    assert r.status == Status.ERROR and r.fault == "harness" and "Unsatisfiable" in r.message, (r.status, r.message)
