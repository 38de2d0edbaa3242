"""A bad configuration prints exactly one line, its error, whatever runs first (corpus replay included).

tests/test_cli_errors.py checks stderr of in-process runs with ``--no-corpus``; here a real
``conformance run`` with the corpus on (the default) must print nothing on stdout, one line on
stderr, and leave the working directory empty.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LINE = ("conformance: error: cannot import module 'nosuchmod' for engine 'nosuchmod:Adapter': "
        "ModuleNotFoundError: No module named 'nosuchmod'\n")


@pytest.mark.parametrize("isolate", [
    pytest.param(False, id="in-process"),
    pytest.param(True, id="isolated"),  # the corpus replay child meets the ConfigError first
])
def test_a_bad_engine_prints_only_its_error(tmp_path: Path, isolate: bool) -> None:
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONPATH": str(ROOT),
           "XDG_CACHE_HOME": str(tmp_path / "cache")}
    args = ["run", "--engine", "nosuchmod:Adapter", "-q", "--isolate" if isolate else "--no-isolate"]
    r = subprocess.run([sys.executable, "-m", "conformance", *args], cwd=tmp_path, env=env, capture_output=True,
                       text=True, timeout=300)
    assert (r.returncode, r.stdout, r.stderr) == (2, "", LINE)
    assert [p.name for p in tmp_path.iterdir() if p.name != "cache"] == []  # nothing in the working directory
