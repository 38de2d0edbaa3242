"""Bad user input: exactly one line on stderr, exit code 2, a traceback only with --debug.

Most cases call ``conformance.cli.main`` in process (fast); one goes through a real
subprocess and an isolated worker to show the worker path gives the same single line.
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from conformance.cli.main import main

ROOT = Path(__file__).resolve().parents[1]
E = "conformance: error: "


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, list[str]]:
    code = main(["run", *args])
    return code, capsys.readouterr().err.splitlines()


CASES = [
    (["--engine", "torhc"],
     "unknown engine 'torhc' (did you mean 'torch'?); use one of conformance list-engines, "
     "torchlike:MODULE or package.module:ClassName"),
    (["--engine", "nosuchmod:Adapter", "--no-isolate"],
     "cannot import module 'nosuchmod' for engine 'nosuchmod:Adapter': ModuleNotFoundError: "
     "No module named 'nosuchmod'"),
    (["--engine", "broken_engines.faulty:Incomplete", "--no-isolate"],
     "adapter class 'broken_engines.faulty:Incomplete' lacks required methods: apply, backward, dtype_of, "
     "grad_fn_name, grad_of, is_leaf, requires_grad, to_numpy (see conformance/engines/adapter.py)"),
    (["--engine", "broken_engines.faulty:Faulti", "--no-isolate"],
     "module 'broken_engines.faulty' has no attribute 'Faulti' (did you mean 'Faulty'?)"),
    (["--engine", "torch", "--ops", "sin,sinn"], "unknown op 'sinn' (did you mean 'sin'?); see conformance list-ops"),
    (["--engine", "torch", "--properties", "forwad"],
     "unknown property 'forwad' (did you mean 'forward'?); see conformance list-properties"),
    (["--engine", "torch", "--profile", "quik"],
     "unknown profile 'quik' (did you mean 'quick'?); see conformance run --help"),
    (["--engine", "torch", "--shard", "3/2"], "--shard '3/2': expected K/N with 1 <= K <= N, e.g. 1/4"),
    (["--engine", "torch", "--workers", "0"], "--workers 0: expected a positive number"),
]


@pytest.mark.parametrize("args,line", CASES, ids=[c[0][1] + (c[0][2] if len(c[0]) > 2 else "") for c in CASES])
def test_bad_engine_or_name_is_one_line_exit_2(capsys: pytest.CaptureFixture[str], args: list[str],
                                                line: str) -> None:
    assert _run(capsys, *args) == (2, [E + line])


def test_malformed_expect_files_name_file_and_line(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    bad_toml, no_reason = tmp_path / "bad.toml", tmp_path / "noreason.toml"
    bad_toml.write_text('[[deviation]\nop = "sin"\n')
    no_reason.write_text('[[deviation]]\nop = "sin"\nreason = "x"\n\n[[deviation]]\nop = "cos"\n')
    cases = {
        bad_toml: f"--expect: {bad_toml}: invalid TOML: Expected ']]' at the end of an array declaration "
                  "(at line 1, column 12)",
        no_reason: f"--expect: {no_reason}:5: entry 2 needs a non-empty reason",
        tmp_path / "none.toml": f"--expect: {tmp_path / 'none.toml'}: no such file",
    }
    for path, line in cases.items():
        assert _run(capsys, "--engine", "torch", "--expect", str(path)) == (2, [E + line])


def test_malformed_baseline_names_file_and_line(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    bad = tmp_path / "base.json"
    bad.write_text('{"schema_version": "1.0",\n "run": }\n')
    assert _run(capsys, "--engine", "torch", "--baseline", str(bad)) == (
        2, [E + f"--baseline: {bad}: not valid JSON: Expecting value at line 2 column 9"])


def test_unwritable_report_dir_fails_before_running(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    out = tmp_path / "file" / "report"
    assert _run(capsys, "--engine", "torch", "--report", str(out)) == (
        2, [E + f"cannot write the report to {out}: Not a directory"])


def test_debug_adds_the_traceback(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--debug", "run", "--engine", "torch", "--ops", "sinn"]) == 2
    err = capsys.readouterr().err
    assert "Traceback (most recent call last)" in err and err.endswith(
        E + "unknown op 'sinn' (did you mean 'sin'?); see conformance list-ops\n")


def test_isolated_engine_import_error_is_one_line_too() -> None:
    """The import happens in a worker process; the parent still prints one line and exits 2.

    (--no-corpus: the corpus replay, which runs first, is not part of this check.)"""
    r = subprocess.run([sys.executable, "-m", "conformance", "run", "--engine", "nosuchmod:Adapter", "-q",
                        "--no-corpus"],
                       capture_output=True, text=True, cwd=ROOT, timeout=120,
                       env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert (r.returncode, r.stderr) == (2, E + "cannot import module 'nosuchmod' for engine 'nosuchmod:Adapter': "
                                           "ModuleNotFoundError: No module named 'nosuchmod'\n")


def test_a_run_that_tested_nothing_is_not_conformant(capsys: pytest.CaptureFixture[str]) -> None:
    """Every cell not-applicable: no CONFORMANT, exit 2, one line saying why nothing was tested."""
    code, err = _run(capsys, "--engine", "tests.broken_engines.faulty:NoOps", "--ops", "sin", "--profile", "quick",
                     "--properties", "forward,leaf_rule", "--no-isolate", "--workers", "1", "-q")
    out = capsys.readouterr().out
    assert code == 2 and "CONFORMANT" not in out
    assert err[-1] == ("conformance: error: nothing was tested: all 4 cells were not applicable: engine has no op "
                       "sin (2 cells); engine has none of the selected ops (2 cells)")
    assert [line for line in err if "error" in line] == err[-1:]
