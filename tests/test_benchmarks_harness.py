"""The harness benchmark (``python -m benchmarks --only harness``) measures real runs and keeps the
engine benchmarks it is stored beside.  No timing is asserted: the figures are reported, not tested."""
from __future__ import annotations

import json

from benchmarks import __main__ as bench
from benchmarks import harness


def test_run_once_measures_a_real_run_and_counts_its_examples_per_property() -> None:
    r = harness.run_once("refengine", "quick", ops=["add"], properties=["detach", "grad_vs_numerical"])
    assert r["exit_code"] == 0 and r["wall_s"] > 0 and r["cpu_s"] > 0
    assert 0 < r["python_loop_s"] < r["wall_s"]  # the machine's speed just before, from a loop shorter than a run
    assert set(r["per_property"]) == {"detach", "grad_vs_numerical"}
    assert r["examples"] == sum(p["examples"] for p in r["per_property"].values()) > 0
    assert all(p["examples_per_s"] > 0 for p in r["per_property"].values())


def test_only_harness_keeps_the_engine_figures_already_there(tmp_path, monkeypatch) -> None:
    (tmp_path / "benchmarks.json").write_text(json.dumps({"results": [{"case": "sigmoid forward"}]}))
    monkeypatch.setattr(harness, "run", lambda quick: {"runs": [{"engine": "refengine", "quick": quick}]})
    assert bench.main(["--only", "harness", "--quick", "--out", str(tmp_path)]) == 0
    stored = json.loads((tmp_path / "benchmarks.json").read_text())
    assert stored["results"] == [{"case": "sigmoid forward"}]
    assert stored["harness"] == {"runs": [{"engine": "refengine", "quick": True}]}
