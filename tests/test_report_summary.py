"""summary.md: verdict, incomplete banner, counts, one line per failing cell, size cap.

It is pasted into GitHub's job summary, so it must be short, correct, and must not
let op names or messages inject Markdown/HTML.
"""
from __future__ import annotations

from report_fixtures import cell, make_run

from conformance.report import render_summary
from conformance.runner.results import Status


def test_nonconformant_headline_counts_and_failing_lines():
    md = render_summary(make_run())
    first = md.splitlines()[0]
    assert "3 nonconformances (2 failed, 1 error, 1 blocked-by) from 3 findings" in first and "❌" in first
    assert "### Findings (4)" in md and "(expected)" in md  # the expected deviation is listed, marked
    assert "| 4 | 1 | 1 | 1 | 2 | 1 |" in md
    assert "4 / 5 ops" in md
    failing = [ln for ln in md.splitlines() if ln.startswith("- **failed**") or ln.startswith("- **error**")]
    assert len(failing) == 3
    assert any("`mul[float64]`" in ln and "gradient of mul wrong" in ln and "second line" not in ln for ln in failing)
    assert "Incomplete run" not in md


def test_markup_in_messages_is_escaped():
    md = render_summary(make_run())
    assert "x&lt;0 &amp; y&gt;1" in md
    assert "<in>" not in md


def test_conformant_run_and_incomplete_banner():
    run = make_run(complete=False)
    run.results = [r for r in run.results if not r.status.is_problem]
    md = render_summary(run)
    assert "conformant so far (incomplete run)" in md.splitlines()[0] and "⚠️" in md.splitlines()[0]
    run.info.complete = True
    assert "✅" in render_summary(run).splitlines()[0]
    assert "Incomplete run" in md and f"{len(run.results)} cells" in md


def test_long_failure_lists_are_capped():
    run = make_run()
    run.results = [cell(f"op{i}", "grad", "float64", Status.FAILED, message="m" * 500) for i in range(200)]
    md = render_summary(run, max_lines=10)
    assert md.count("\n- **failed**") == 10 and "and 190 more" in md
    # each failing op is its own finding here: the findings list is capped the same way
    assert md.count("\n- **op op") == 10 and "- … and 190 more (see results.json)" in md
    assert len(md) < 8000
