"""The ``conformance`` program's exit: main's exit code, without the exit-time garbage collection,
and nothing it printed or wrote lost on the way out."""
from __future__ import annotations

import gc
import importlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

cli_main = importlib.import_module("conformance.cli.main")  # the module (conformance.cli.main is also a function)


def test_the_command_exits_with_mains_code_after_freezing_the_collector(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    monkeypatch.setattr(cli_main, "main", lambda: calls.append("main") or 1)
    monkeypatch.setattr(gc, "freeze", lambda: calls.append("freeze"))
    with pytest.raises(SystemExit) as exit_:
        cli_main.command()
    assert exit_.value.code == 1
    assert calls == ["main", "freeze"]


def test_a_run_through_the_program_keeps_its_output_and_reports(tmp_path: Path) -> None:
    out = tmp_path / "report"
    proc = subprocess.run([sys.executable, "-m", "conformance", "run", "--engine", "torch", "--ops", "sin",
                           "--properties", "grad_vs_torch", "--profile", "quick", "--no-corpus", "-q",
                           "--report", str(out)], capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.rstrip().endswith("CONFORMANT"), proc.stdout[-500:]
    results = json.loads((out / "results.json").read_text())
    assert results["run"]["complete"] is True
    assert [(r["op"], r["property"]) for r in results["results"]] == [("sin", "grad_vs_torch")] * 2
    for name in ("junit.xml", "summary.md", "index.html"):
        assert (out / name).stat().st_size > 0, name
    assert (out / "index.html").read_text().rstrip().endswith("</html>")
