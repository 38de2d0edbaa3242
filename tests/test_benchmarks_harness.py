"""The harness benchmark (``python -m benchmarks --only harness``) measures real runs and keeps the
engine benchmarks it is stored beside.  No timing is asserted: the figures are reported, not tested."""
from __future__ import annotations

import json

import pytest

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
    monkeypatch.setattr(harness, "run", lambda quick, repeat: {"runs": [{"engine": "refengine", "quick": quick}]})
    assert bench.main(["--only", "harness", "--quick", "--out", str(tmp_path)]) == 0
    stored = json.loads((tmp_path / "benchmarks.json").read_text())
    assert stored["results"] == [{"case": "sigmoid forward"}]
    assert stored["harness"] == {"runs": [{"engine": "refengine", "quick": True}]}


def test_repeat_interleaves_the_cases_and_keeps_each_ones_median_run(monkeypatch) -> None:
    order: list[tuple[str, str]] = []
    walls = iter([5.0, 50.0, 9.0, 70.0, 7.0, 60.0])  # refengine quick, torch quick, x3

    def fake(engine: str, profile: str) -> dict:
        order.append((engine, profile))
        wall = next(walls)
        return {"engine": engine, "profile": profile, "wall_s": wall, "cpu_s": 2 * wall, "cells": 1,
                "examples": 1, "python_loop_s": 0.04, "target_met": True, "target_wall_s": 10.0,
                "per_property": {}}
    monkeypatch.setattr(harness, "run_once", fake)
    out = harness.run(quick=True, engines=("refengine", "torch"), repeat=3)
    assert order == [("refengine", "quick"), ("torch", "quick")] * 3
    ref, tor = out["runs"]
    assert (ref["wall_s"], ref["cpu_s"], ref["all_wall_s"]) == (7.0, 14.0, [5.0, 9.0, 7.0])
    assert (tor["wall_s"], tor["all_wall_s"]) == (60.0, [50.0, 70.0, 60.0]) and out["repeat"] == 3


def test_repeat_must_be_a_positive_count(capsys) -> None:
    with pytest.raises(SystemExit) as e:
        bench.main(["--only", "harness", "--repeat", "0"])
    assert e.value.code == 2 and "--repeat 0" in capsys.readouterr().err
