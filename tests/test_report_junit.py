"""junit.xml: parsed by a real JUnit parser; counts and per-case outcomes match results.json.

CI UIs (GitHub test reporters, GitLab, Jenkins) only read junit.xml, so a mismatch
between its counts and results.json would make CI disagree with the report.
"""
from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest
from report_fixtures import NASTY_REPRO, make_run

from conformance.report import render_junit, write_all

junitparser = pytest.importorskip("junitparser", reason="junitparser (dev extra) is the independent JUnit reader")


@pytest.fixture
def report(tmp_path):
    write_all(make_run(), tmp_path, plots=False)
    return tmp_path


def test_counts_match_results_json(report):
    doc = json.loads((report / "results.json").read_text())
    by = doc["coverage"]["by_status"]
    xml = junitparser.JUnitXml.fromfile(str(report / "junit.xml"))
    suites = list(xml) if isinstance(xml, junitparser.JUnitXml) else [xml]
    assert len(suites) == 2  # the cells, then the findings
    s = suites[0]
    assert s.tests == len(doc["results"])
    assert s.failures == by["failed"]
    assert s.errors == by["error"]
    assert s.skipped == by["expected-failure"] + by["not-applicable"] + by["blocked-by"]
    assert len(list(s)) == len(doc["results"])


def test_findings_suite_has_one_case_per_finding(report):
    """Each distinct bug is one testcase, failed unless expected, named by its culprit and signature."""
    doc = json.loads((report / "results.json").read_text())
    suites = list(junitparser.JUnitXml.fromfile(str(report / "junit.xml")))
    found = suites[1]
    assert found.tests == len(doc["findings"]) > 0
    counting = [f for f in doc["findings"] if not f["expected"] and f["fault"] != "harness"]
    assert found.failures == len(counting)
    names = {case.name for case in found}
    for f in doc["findings"]:
        culprit = f["culprit"].get("op") or f["culprit"].get("rule")
        assert any(culprit in n and f["signature"] in n for n in names), (f, names)


def test_each_case_has_the_outcome_of_its_cell(report):
    """classname = property, name = op[dtype], and the result element matches the status."""
    doc = json.loads((report / "results.json").read_text())
    want = {(r["property"], f"{r['op']}[{r['dtype']}]"): r["status"] for r in doc["results"]}
    kind = {junitparser.Failure: "failed", junitparser.Error: "error", junitparser.Skipped: "skipped"}
    suite = next(iter(junitparser.JUnitXml.fromfile(str(report / "junit.xml"))))
    seen = {}
    for case in suite:
        outcome = [kind[type(x)] for x in case.result] or ["passed"]
        seen[(case.classname, case.name)] = outcome[0]
    expect = {k: ("skipped" if v in ("expected-failure", "not-applicable", "blocked-by") else v) for k, v in want.items()}
    assert seen == expect


def test_failure_body_carries_message_and_reproducer():
    root = ET.fromstring(render_junit(make_run()))
    case = root.find(".//testcase[@name='mul[float64]']")
    failure = case.find("failure")
    assert failure.get("message").startswith("gradient of mul wrong: x<0 & y>1")
    assert NASTY_REPRO in failure.text
    assert "expected: [[1.0, 2.0]]" in failure.text
    err = root.find(".//testcase[@name='log[float64]'][@classname='grad']/error")
    assert "RuntimeError: boom <in> & out" in err.text


def test_control_characters_do_not_break_the_xml():
    run = make_run()
    run.results[2].message = "bad \x00 byte \x1b[31m"
    root = ET.fromstring(render_junit(run))  # raises if invalid XML
    assert "\\x00" in root.find(".//testcase[@name='mul[float64]']/failure").get("message")


def test_empty_run_is_valid():
    run = make_run()
    run.results.clear()
    root = ET.fromstring(render_junit(run))
    assert root.find("testsuite").get("tests") == "0"
