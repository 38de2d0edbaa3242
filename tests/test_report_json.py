"""results.json: schema validity, strict JSON, lossless round trip, atomic writes, clear load errors.

results.json is the contract every other report is regenerated from, so these tests
pin that it validates against the shipped schema, survives NaN/inf, and that a crash
mid-write can never leave a truncated file behind.
"""
from __future__ import annotations

import dataclasses
import json
import math
import os

import pytest
from report_fixtures import make_run

from conformance.report import ReportInputError, files, load_run, write_all, write_results_json
from conformance.runner.results import Result, RunInfo
from conformance.runner.schema import load_results_schema

jsonschema = pytest.importorskip("jsonschema", reason="jsonschema (dev extra) validates results.json")


def _validate(doc: dict) -> None:
    schema = load_results_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.Draft202012Validator(schema).validate(doc)


def _strict_load(path) -> dict:
    """json.load that refuses NaN/Infinity literals, as jq and browsers do."""
    def bad(tok):
        raise AssertionError(f"non-standard JSON constant {tok} in {path}")
    return json.loads(path.read_text(), parse_constant=bad)


@pytest.mark.parametrize("complete", [True, False])
def test_results_json_validates_against_schema(tmp_path, complete):
    write_results_json(make_run(complete=complete), tmp_path)
    doc = _strict_load(tmp_path / "results.json")
    _validate(doc)
    assert doc["run"]["complete"] is complete
    assert doc["coverage"]["by_status"]["failed"] == 2


def test_schema_rejects_a_bad_status(tmp_path):
    """The schema is not vacuous: an unknown status or a missing field fails validation."""
    write_results_json(make_run(), tmp_path)
    doc = _strict_load(tmp_path / "results.json")
    doc["results"][0]["status"] = "kinda-passed"
    with pytest.raises(jsonschema.ValidationError):
        _validate(doc)
    doc = _strict_load(tmp_path / "results.json")
    del doc["run"]["seed"]
    with pytest.raises(jsonschema.ValidationError):
        _validate(doc)


def test_schema_lists_exactly_the_dataclass_fields():
    """Schema drift guard: a field added to results.py must be documented in the schema."""
    defs = load_results_schema()["$defs"]
    for cls, name in ((Result, "Result"), (RunInfo, "RunInfo")):
        fields = {f.name for f in dataclasses.fields(cls)}
        assert set(defs[name]["properties"]) == fields
        # fields added within a schema version are optional (older files lack them) and say so
        optional = {k for k, v in defs[name]["properties"].items() if "Optional" in v.get("description", "")}
        assert set(defs[name]["required"]) == fields - optional
        assert all("description" in v or "$ref" in v for v in defs[name]["properties"].values())


def test_round_trip_is_lossless_including_nan(tmp_path):
    run = make_run()
    write_results_json(run, tmp_path)
    back = load_run(tmp_path / "results.json")
    assert back.info == run.info
    for a, b in zip(run.results, back.results):
        for f in dataclasses.fields(Result):
            va, vb = getattr(a, f.name), getattr(b, f.name)
            if isinstance(va, float) and math.isnan(va):
                assert math.isnan(vb)
            elif f.name in ("expected", "observed"):
                assert files.json_safe(va) == vb, f.name  # NaN inside values keeps its string spelling
            else:
                assert va == vb, f.name


def test_write_all_writes_four_files_the_reproducers_and_no_temp_files(tmp_path):
    """Also sweeps temp files that a SIGKILLed earlier writer could not remove."""
    (tmp_path / ".results.json.abc123.tmp").write_text("{half")
    run = make_run()
    write_all(run, tmp_path, plots=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["index.html", "junit.xml", "reproducers", "results.json",
                                                          "summary.md"]
    # one script per finding that has a reproducer, named by the finding's id
    want = sorted(f"{f.id}.py" for f in run.findings() if f.reproducer)
    assert want and sorted(p.name for p in (tmp_path / "reproducers").iterdir()) == want


def test_failure_mid_write_keeps_old_file_and_leaves_no_temp(tmp_path, monkeypatch):
    """If the process dies between writing and renaming, the previous report stays whole."""
    write_results_json(make_run(), tmp_path)
    before = (tmp_path / "results.json").read_bytes()

    def boom(fd):
        raise OSError("disk full")

    monkeypatch.setattr(files.os, "fsync", boom)
    with pytest.raises(OSError, match="disk full"):
        write_results_json(make_run(complete=False), tmp_path)
    assert (tmp_path / "results.json").read_bytes() == before
    assert os.listdir(tmp_path) == ["results.json"]


def test_interrupted_run_leaves_readable_partial_report(tmp_path):
    """Per-cell writes during a run: each intermediate file is valid and marked incomplete."""
    run = make_run(complete=False)
    partial = type(run)(run.info, [])
    for r in run.results:
        partial.results.append(r)
        write_results_json(partial, tmp_path)
        back = load_run(tmp_path)
        assert back.info.complete is False and len(back.results) == len(partial.results)
    _validate(_strict_load(tmp_path / "results.json"))


@pytest.mark.parametrize(
    "content, needle",
    [
        (None, "no such file"),
        ("{not json", "not valid JSON"),
        ('{"schema_version": "0.9", "run": {}, "results": []}', "schema_version is '0.9'"),
        ("[1, 2]", "expected a JSON object"),
    ],
)
def test_load_errors_name_the_file_and_the_problem(tmp_path, content, needle):
    p = tmp_path / "bad.json"
    if content is not None:
        p.write_text(content)
    with pytest.raises(ReportInputError) as ei:
        load_run(p)
    assert str(p) in str(ei.value) and needle in str(ei.value)


def test_load_error_points_at_the_bad_result(tmp_path):
    write_results_json(make_run(), tmp_path)
    doc = json.loads((tmp_path / "results.json").read_text())
    doc["results"][3]["status"] = "meh"
    (tmp_path / "results.json").write_text(json.dumps(doc))
    with pytest.raises(ReportInputError, match=r"results\[3\]\.status is 'meh'"):
        load_run(tmp_path)


def test_a_schema_1_0_results_json_from_before_findings_still_loads(tmp_path) -> None:
    """2.0 only added fields: a 1.0 report (a baseline kept from before) loads and its findings are grouped."""
    rr = make_run()
    bad = next(r for r in rr.results if r.status.is_problem)
    d = json.loads(files.dumps_results(rr))
    d["schema_version"] = "1.0"
    for r in d["results"]:
        for k in ("culprit", "signature", "fault", "finding", "also", "interaction"):
            r.pop(k, None)
    d.pop("findings", None)
    p = tmp_path / "results.json"
    p.write_text(json.dumps(d))
    loaded = load_run(p)
    assert [r.key for r in loaded.results] == [r.key for r in rr.results]
    assert any([bad.op, bad.property, bad.dtype] in f.cells for f in loaded.findings())


def test_result_to_dict_is_asdict_without_the_copy():
    """Result.to_dict is shallow for speed; it must still equal dataclasses.asdict on every field kind a
    cell holds (a field holding a dataclass would need asdict's conversion, and this would fail)."""
    from conformance.runner.results import Status
    r = Result(engine="e", op="sum", property="vjp", dtype="float64", status=Status.FAILED, examples=3,
               message="m", max_abs_error=0.5, max_rel_error=0.25, reproducer="print(1)",
               expected=[[1.0, 2.0]], observed="RuntimeError raised", seed=0, duration_s=0.1,
               oracles=["torch"], traceback="tb", blocked_by=None, expectation_reason="why",
               program={"nodes": [{"op": "sum", "params": {"dim": [0, -1]}}]}, culprit={"op": "sum"},
               signature="s", fault="engine", interaction=True, finding="sum-1",
               also=[{"message": "m2", "culprit": {"rule": "vjp"}}])
    assert {f.name for f in dataclasses.fields(Result)} <= set(r.to_dict())
    assert r.to_dict() == {**dataclasses.asdict(r), "status": "failed"}
