"""The engines' summary table is generated from reports/, so the page that quotes it cannot go stale."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from conformance.report import load_run
from conformance.report import table as T

ROOT = Path(__file__).resolve().parents[1]
FINDINGS = ROOT / "docs" / "findings.md"


def _published() -> list:
    return [load_run(d) for d in sorted((ROOT / "reports").iterdir()) if (d / "results.json").exists()]


def test_findings_page_quotes_the_table_of_the_published_reports() -> None:
    text = FINDINGS.read_text(encoding="utf-8")
    block = text[text.index(T.BEGIN) + len(T.BEGIN) + 1:text.index(T.END)]
    assert block == T.markdown(_published()), (
        "docs/findings.md's summary table differs from reports/: run "
        "`conformance report table reports/*/ --update docs/findings.md`")


def test_a_row_counts_cells_by_status_and_findings(tmp_path: Path) -> None:
    run = load_run(ROOT / "reports" / "micrograd")
    cells = {s: sum(r.status.value == s for r in run.results) for s in ("passed", "failed", "expected-failure")}
    row = T.row(run)
    assert row[0] == "`micrograd`" and row[5] == str(cells["passed"]) and row[7] == str(cells["failed"])
    assert row[10] == str(cells["expected-failure"])
    found = run.findings()
    assert row[11] == f"{sum(f.counts for f in found)} (+ {sum(f.expected for f in found)})"


def test_update_rewrites_only_the_marked_block_and_refuses_a_page_without_one(tmp_path: Path) -> None:
    page = tmp_path / "p.md"
    page.write_text(f"intro\n{T.BEGIN}\nold table\n{T.END}\noutro\n")
    assert T.update(page, "| new |\n") is True
    assert page.read_text() == f"intro\n{T.BEGIN}\n| new |\n{T.END}\noutro\n"
    assert T.update(page, "| new |\n") is False
    bare = tmp_path / "bare.md"
    bare.write_text("no markers\n")
    with pytest.raises(ValueError, match="no generated summary block"):
        T.update(bare, "| new |\n")


def test_cli_prints_the_table_and_exits_2_on_a_page_without_markers(tmp_path: Path) -> None:
    cmd = [sys.executable, "-m", "conformance", "report", "table", str(ROOT / "reports" / "torch")]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert r.returncode == 0 and r.stdout.splitlines()[2].startswith("| `torch` |"), r.stderr
    bare = tmp_path / "bare.md"
    bare.write_text("no markers\n")
    r = subprocess.run(cmd + ["--update", str(bare)], capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert r.returncode == 2 and r.stderr.startswith("conformance: error:") and bare.read_text() == "no markers\n"


def test_docs_name_no_paths_of_the_machine_they_were_written_on() -> None:
    for page in (ROOT / "docs").glob("*.md"):
        hits = re.findall(r"(?<![\w.])/(?:tmp|work|root|home)/[\w./-]+", page.read_text(encoding="utf-8"))
        assert not hits, f"{page.name} names machine paths: {hits[:5]}"
