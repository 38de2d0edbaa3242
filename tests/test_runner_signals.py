"""SIGTERM to a running ``conformance run --report DIR`` leaves a readable, incomplete report.

results.json is flushed after every cell, so whatever finished before the signal is in it.
The engine runs isolated (the default for user engines), so the worker must go down too.
"""
from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

from conformance.report import load_run

ROOT = Path(__file__).resolve().parents[1]


def test_sigterm_leaves_an_incomplete_report(tmp_path: Path) -> None:
    out = tmp_path / "report"
    proc = subprocess.Popen(
        [sys.executable, "-m", "conformance", "run", "--engine", "broken_engines.faulty:Slow", "--profile",
         "quick", "--ops", "sin,cos,exp,neg", "--properties", "forward", "--workers", "1", "--no-corpus",
         "--report", str(out), "-q"], cwd=ROOT, env={"PYTHONPATH": f"{ROOT}:{ROOT / 'tests'}", "PATH": "/usr/bin:/bin"},
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:  # wait until at least one cell is on disk
            f = out / "results.json"
            if f.is_file() and json.loads(f.read_text())["results"]:
                break
            time.sleep(0.2)
        else:
            raise AssertionError("no cell finished within 90 s")
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 2 and err.strip().endswith("conformance: interrupted"), err
    run = load_run(out)
    assert not run.info.complete and 1 <= len(run.results) < 8
    assert all(r.status.value == "passed" for r in run.results)
