"""`conformance run` puts each finding's reproducer in front: its path is printed, and the script
exits 1 while the bug is there and 0 on a correct engine."""
from __future__ import annotations

import pathlib
import re

import pytest
from repro_helpers import run_reproducer

from conformance.cli.main import main


def test_each_finding_prints_its_numbers_and_a_reproducer_that_fails_then_passes_on_torch(
        capsys: pytest.CaptureFixture[str], tmp_path: pathlib.Path) -> None:
    code = main(["run", "--engine", "broken_engines.engines:GradOverwrittenNotAccumulated", "--properties",
                 "accumulation", "--ops", "sin,mul", "--profile", "quick", "--seed", "0", "--no-corpus",
                 "--no-isolate", "--workers", "1", "-q", "--report", str(tmp_path / "r")])
    out = capsys.readouterr().out
    assert code == 1 and "finding(s)" in out
    assert re.search(r"got .*, expected ", out)  # the worst element's numbers
    paths = re.findall(r"reproducer: python (\S+\.py)", out)
    assert paths and all(pathlib.Path(p).parent == tmp_path / "r" / "reproducers" for p in paths)
    for p in paths:
        bad = run_reproducer(p)
        assert bad.returncode == 1, bad.stdout + bad.stderr
        good = run_reproducer(p, "torch")
        assert good.returncode == 0 and "OK" in good.stdout, good.stdout + good.stderr


def test_without_a_report_the_reproducers_go_to_a_temporary_directory(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["run", "--engine", "broken_engines.engines:SinBackwardOff", "--properties", "grad_vs_torch",
                 "--ops", "sin", "--profile", "quick", "--seed", "0", "--no-corpus", "--no-isolate", "--workers", "1",
                 "-q"])
    out = capsys.readouterr().out
    (path,) = re.findall(r"reproducer: python (\S+\.py)", out)
    assert code == 1 and pathlib.Path(path).is_file() and "conformance-reproducers-" in path


def test_a_scalar_engines_constant_is_passed_on_by_name_so_the_reproducer_shows_the_bug(tmp_path) -> None:
    """micrograd's leaf without grad is a Python float; written as a literal, torch's replay got a number for
    backward's gradient and raised, and the script showed that artifact instead of micrograd's bug (M1: a
    second retained backward double-counts)."""
    pytest.importorskip("micrograd")
    from repro_helpers import replay

    from conformance import run
    from conformance.runner.results import Status
    (r,) = run("micrograd", profile="ci", ops=["neg"], properties=["retain_graph_twice"], dtypes=["float64"],
               seed=0, corpus=False, workers=1, isolate=False).results
    assert r.status == Status.FAILED and r.reproducer, (r.status, r.message)
    assert "A.backward(v1, v2, True, False)" in r.reproducer
    bad = replay(r.reproducer, tmp_path)
    assert bad.returncode == 1 and "did not raise" not in bad.stdout and "got -5.25, expected -3.5" in bad.stdout, bad.stdout
    assert replay(r.reproducer, tmp_path, "torch").returncode == 0
