"""Baseline diff: each category on a crafted pair, the exit-code gate, and the CLI's bad-input path.

The diff is what gates a user's CI (--fail-on regression), so the classification of
every status transition is pinned here, including the ones that must *not* gate.
"""
from __future__ import annotations

import json
import subprocess
import sys

import pytest
from report_fixtures import cell, info

from conformance.cli.main import main
from conformance.report import Change, classify, diff_runs, write_results_json
from conformance.runner.results import RunResults, Status

S = Status
# (op, baseline status or None, new status or None, expected category)
CASES = [
    ("reg-pass", S.PASSED, S.FAILED, Change.REGRESSION),
    ("reg-xfail", S.EXPECTED_FAILURE, S.ERROR, Change.REGRESSION),
    ("reg-na", S.NOT_APPLICABLE, S.FAILED, Change.REGRESSION),
    ("reg-blocked", S.BLOCKED_BY, S.ERROR, Change.REGRESSION),
    ("fix", S.FAILED, S.PASSED, Change.FIX),
    ("fix-xfail", S.EXPECTED_FAILURE, S.PASSED, Change.FIX),
    ("still", S.FAILED, S.ERROR, Change.STILL_FAILING),
    ("still-known", S.FAILED, S.EXPECTED_FAILURE, Change.STILL_FAILING),
    ("new", None, S.PASSED, Change.NEW),
    ("new-failing", None, S.FAILED, Change.NEW),
    ("gone", S.PASSED, None, Change.REMOVED),
    ("same", S.PASSED, S.PASSED, Change.UNCHANGED),
    ("muted", S.PASSED, S.EXPECTED_FAILURE, Change.CHANGED),
    ("dropped", S.FAILED, S.NOT_APPLICABLE, Change.CHANGED),
]


def _pair() -> tuple[RunResults, RunResults]:
    base, new = RunResults(info("old")), RunResults(info("new"))
    for op, b, n, _ in CASES:
        if b is not None:
            base.results.append(cell(op, "grad", "float64", b, "old"))
        if n is not None:
            new.results.append(cell(op, "grad", "float64", n, "new", message=f"why {op}"))
    return base, new


@pytest.mark.parametrize("op, old, new, want", CASES)
def test_classify(op, old, new, want):
    assert classify(old, new) is want


def test_every_key_gets_its_category():
    d = diff_runs(*_pair())
    got = {c.key[0]: c.change for c in d.cells}
    assert got == {op: want for op, _, _, want in CASES}
    assert [c.key[0] for c in d.regressions] == ["reg-blocked", "reg-na", "reg-pass", "reg-xfail"]


def test_exit_codes():
    base, new = _pair()
    d = diff_runs(base, new)
    assert d.exit_code("regression") == 1
    ok = RunResults(new.info, [r for r in new.results if not r.op.startswith("reg")])
    d2 = diff_runs(base, ok)
    assert d2.exit_code("regression") == 0  # still-failing and failing new cells do not gate...
    assert d2.exit_code("any") == 1  # ...unless asked to
    clean = RunResults(new.info, [r for r in ok.results if not r.status.is_problem])
    assert diff_runs(base, clean).exit_code("any") == 0
    clean.info.complete = False
    assert diff_runs(base, clean).exit_code("any") == 1
    with pytest.raises(ValueError, match="fail_on"):
        d.exit_code("sometimes")


def test_renderings_list_each_category():
    d = diff_runs(*_pair())
    text, md = d.to_text(), d.to_markdown()
    assert text.startswith("4 regression(s)")
    for title in ("Regressions (4)", "Fixes (2)", "Still failing (2)", "New coverage (2)", "Removed coverage (1)"):
        assert title in text
        assert f"**{title.split(' (')[0]}** ({title.split('(')[1]}" in md
    assert "reg-pass[float64] grad: passed -> failed — why reg-pass" in text
    assert "reg-pass\\[float64\\] grad: passed -&gt; failed" in md


@pytest.fixture
def files(tmp_path):
    base, new = _pair()
    write_results_json(base, tmp_path / "base")
    write_results_json(new, tmp_path / "new")
    ok = RunResults(new.info, [r for r in new.results if r.status == S.PASSED])
    write_results_json(ok, tmp_path / "ok")
    return tmp_path


def test_cli_exit_codes(files, capsys):
    b, n, ok = (str(files / d / "results.json") for d in ("base", "new", "ok"))
    assert main(["diff", b, n]) == 1
    assert "4 regression(s)" in capsys.readouterr().out
    assert main(["diff", b, ok]) == 0
    assert main(["diff", b, ok, "--fail-on", "any"]) == 0
    assert main(["diff", b, str(files / "new"), "--fail-on", "any", "--format", "markdown"]) == 1


@pytest.mark.parametrize("content, needle", [("{oops", "not valid JSON"), (None, "no such file"),
                                              ('{"schema_version": "2.0", "run": {}}', "key 'results'")])
def test_cli_bad_input_exits_2_with_one_line(files, capsys, content, needle):
    bad = files / "bad.json"
    if content is not None:
        bad.write_text(content)
    assert main(["diff", str(files / "base" / "results.json"), str(bad)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and str(bad) in err and needle in err


def test_diff_runs_as_python_module(files):
    """`python -m conformance diff` (no console script needed) exits 1 on regressions."""
    p = subprocess.run(
        [sys.executable, "-m", "conformance", "diff", str(files / "base"), str(files / "new")],
        capture_output=True, text=True, timeout=120,
    )
    assert p.returncode == 1, p.stderr
    assert "Regressions (4)" in p.stdout
    json.loads((files / "new" / "results.json").read_text())  # inputs untouched and valid
