"""Running a reproducer script the way a user would: a fresh interpreter at the repo root, with
the broken engines importable (``broken_engines.engines:Class`` specs)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run_reproducer(path: str | Path, *argv: str) -> subprocess.CompletedProcess[str]:
    """``python PATH ARGV...``; ``argv`` ``("torch",)`` runs the same steps on torch."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "tests"), str(ROOT)])}
    return subprocess.run([sys.executable, str(path), *argv], capture_output=True, text=True, cwd=ROOT,
                          timeout=300, env=env, check=False)


def replay(script: str, tmp_path: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    """Write ``script`` (a reproducer's text) under ``tmp_path`` and run it."""
    f = tmp_path / "repro.py"
    f.write_text(script)
    return run_reproducer(f, *argv)
