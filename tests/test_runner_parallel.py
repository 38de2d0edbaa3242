"""Parallel and sharded runs give exactly the serial run's results, in the serial order.

Each cell's hypothesis seed depends only on (run seed, property, op, dtype), so where a cell
runs must not change what it finds; shards joined by ``conformance report merge`` must give
back the serial run; the pytest plugin must work under pytest-xdist.
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from conformance import run
from conformance.cli.main import main
from conformance.report import write_results_json
from conformance.runner.results import RunResults
from conformance.runner.session import shard_cells

ROOT = Path(__file__).resolve().parents[1]
OPS, PROPS = ["sin", "mul", "sum"], ["forward", "grad_vs_numerical", "leaf_rule"]


def _cells(rr: RunResults) -> list[tuple]:
    return [(r.key, r.status, r.examples, r.max_abs_error, r.message) for r in rr.results]


def test_two_workers_give_the_serial_results_in_order() -> None:
    serial = run("torch", profile="quick", ops=OPS, properties=PROPS, seed=3, corpus=False, workers=1)
    parallel = run("torch", profile="quick", ops=OPS, properties=PROPS, seed=3, corpus=False, workers=2)
    assert len(serial.results) == 14 and serial.info.complete and parallel.info.complete
    assert _cells(parallel) == _cells(serial)


def test_shards_cover_the_plan_once_and_merge_back(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    """Two shard jobs cover every cell exactly once; report merge joins them into the serial run."""
    assert [i for k in (1, 2, 3) for i, _ in shard_cells(range(10), (k, 3))] == [0, 3, 6, 9, 1, 4, 7, 2, 5, 8]
    serial = run("torch", profile="quick", ops=OPS, properties=PROPS, seed=3, corpus=False, workers=1)
    dirs = []
    for k in (2, 1):  # any order on the command line
        rr = run("torch", profile="quick", ops=OPS, properties=PROPS, seed=3, corpus=False, workers=1, shard=(k, 2),
                     argv=["conformance", "run", "--engine", "torch", "--shard", f"{k}/2"])
        dirs.append(str(write_results_json(rr, tmp_path / f"shard{k}").parent))
    assert main(["report", "merge", *dirs, "--out", str(tmp_path / "all")]) == 0
    assert "2 shards of torch joined" in capsys.readouterr().out
    joined = RunResults.from_dict(json.loads((tmp_path / "all" / "results.json").read_text()))
    assert _cells(joined) == _cells(serial) and joined.info.complete
    assert "--shard" not in joined.info.argv and (tmp_path / "all" / "index.html").is_file()


def test_pytest_plugin_under_xdist() -> None:
    r = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-n", "2", "--pyargs",
                        "conformance", "--engine", "torch", "--conformance-profile", "quick",
                        "--conformance-ops", "sin,exp", "--conformance-properties", "forward,leaf_rule"],
                       capture_output=True, text=True, cwd=ROOT, timeout=300,
                       env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert r.returncode == 0, r.stdout[-2000:]
    assert "6 passed" in r.stdout


def test_shards_from_separate_processes_merge_into_the_unsharded_run(tmp_path: Path) -> None:
    """As in the sharded CI workflow of docs/ci.md: N `conformance run --shard K/N` processes, then
    `conformance report merge`, give the unsharded run's cells with their results."""
    common = ["--engine", "torch", "--profile", "quick", "--seed", "5", "--ops", "sin,sum",
              "--properties", "forward,leaf_rule", "-q", "--no-corpus", "--workers", "1"]
    env = {"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}

    def conformance(*args: str) -> None:
        p = subprocess.run([sys.executable, "-m", "conformance", *args], capture_output=True, text=True, cwd=ROOT,
                           env=env, timeout=600)
        assert p.returncode == 0, p.stderr[-2000:]

    conformance("run", *common, "--report", str(tmp_path / "whole"))
    for k in (1, 2):
        conformance("run", *common, "--shard", f"{k}/2", "--report", str(tmp_path / f"shard{k}"))
    conformance("report", "merge", *(str(tmp_path / f"shard{k}") for k in (2, 1)), "--out", str(tmp_path / "all"))
    whole = RunResults.from_dict(json.loads((tmp_path / "whole" / "results.json").read_text()))
    joined = RunResults.from_dict(json.loads((tmp_path / "all" / "results.json").read_text()))
    assert len(whole.results) == 6 and joined.info.complete
    assert _cells(joined) == _cells(whole)
