"""The harness's own speed: wall and CPU time of whole conformance runs, examples per second per property.

Each run is ``conformance run --engine E --profile P --seed 0`` with default options, in its own
process as a user would start it, so worker start-up, the torch import and report writing are
counted.  Wall time is what a CI job waits for; CPU time (the run and all its workers) is what it
costs, and on a shared machine it is the figure load does not inflate.  Per property, examples per
second come from the cells' own ``examples`` and ``duration_s`` in results.json.  Before each run,
``python_loop_s`` times a fixed pure-Python loop: the machine's speed at that moment (loop s in the table).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from typing import Any, Sequence

from conformance.runner.processes import proc_stat

ENGINES = ("refengine", "torch")
# issue 14's targets: default options, idle machine
TARGET_WALL_S = {"quick": 10.0, "ci": 60.0}


def _session_cpu(sid: int, seen: dict[int, float]) -> None:
    """Record in ``seen`` the CPU seconds of every live process of session ``sid`` (from /proc).

    The run's workers are forked by a forkserver, not by the run, so the run's own rusage of
    children misses them; the session holds them all.  Sampled: a process's last fraction of a
    second before it exits may be missed."""
    tick = os.sysconf("SC_CLK_TCK")
    for pid in filter(str.isdigit, os.listdir("/proc")):
        stat = proc_stat(int(pid))
        if stat is not None and stat[3] == sid:
            seen[int(pid)] = max(seen.get(int(pid), 0.0), (stat[11] + stat[12]) / tick)


def _timed(cmd: list[str]) -> tuple[subprocess.CompletedProcess, float, float]:
    """Run ``cmd`` in a session of its own: (its outcome, wall seconds, CPU seconds of the whole session)."""
    seen: dict[int, float] = {}
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, text=True, start_new_session=True)
        while proc.poll() is None:
            _session_cpu(proc.pid, seen)
            time.sleep(0.2)
        wall = time.perf_counter() - t0
        out.seek(0)
        err.seek(0)
        return subprocess.CompletedProcess(cmd, proc.returncode, out.read(), err.read()), wall, sum(seen.values())


def python_loop_s() -> float:
    """Seconds of a fixed pure-Python loop (best of 3): how fast this machine is at the moment.  A shared
    machine's speed changes by up to ~1.7x from hour to hour; the figure says which kind of hour a run had."""
    best = float("inf")
    for _ in range(3):
        t0 = time.perf_counter()
        sum(i * i for i in range(10**6))
        best = min(best, time.perf_counter() - t0)
    return best


def run_once(engine: str, profile: str, ops: Sequence[str] | None = None,
             properties: Sequence[str] | None = None) -> dict[str, Any]:
    """One ``conformance run`` in a subprocess: its wall and CPU seconds and per-property throughput."""
    with tempfile.TemporaryDirectory(prefix="harness-bench-") as out:
        cmd = [sys.executable, "-m", "conformance", "run", "--engine", engine, "--profile", profile,
               "--seed", "0", "-q", "--report", out]
        if ops:
            cmd += ["--ops", ",".join(ops)]
        if properties:
            cmd += ["--properties", ",".join(properties)]
        speed = python_loop_s()
        proc, wall, cpu = _timed(cmd)
        if proc.returncode not in (0, 1):  # 1 is a finding, still a timed run; 2 is a broken set-up
            raise RuntimeError(f"{' '.join(cmd)} exited {proc.returncode}:\n{proc.stderr[-2000:]}")
        with open(os.path.join(out, "results.json")) as f:
            cells = json.load(f)["results"]
    return {"engine": engine, "profile": profile, "wall_s": wall, "cpu_s": cpu, "python_loop_s": speed,
            "cells": len(cells),
            "examples": sum(c["examples"] for c in cells), "exit_code": proc.returncode,
            "target_wall_s": TARGET_WALL_S.get(profile), "target_met": wall <= TARGET_WALL_S.get(profile, float("inf")),
            "per_property": per_property(cells)}


def per_property(cells: Sequence[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """Examples, seconds inside cells and examples per second, per property."""
    examples: dict[str, int] = defaultdict(int)
    seconds: dict[str, float] = defaultdict(float)
    for c in cells:
        examples[c["property"]] += c["examples"]
        seconds[c["property"]] += c["duration_s"]
    return {p: {"examples": examples[p], "seconds": seconds[p],
                "examples_per_s": examples[p] / seconds[p] if seconds[p] else 0.0} for p in examples}


def run(quick: bool, engines: Sequence[str] = ENGINES, repeat: int = 1) -> dict[str, Any]:
    """Every engine at ``quick``, and at ``ci`` too unless ``quick``; printed as it goes.

    ``repeat``: each case that many times, the cases interleaved (a slow spell of the machine then hits
    every case alike); a case's figures are its median run's, with every run's wall and CPU seconds."""
    profiles = ("quick",) if quick else ("quick", "ci")
    load_before = os.getloadavg()[0]
    cases = [(engine, profile) for profile in profiles for engine in engines]
    tried: dict[tuple[str, str], list[dict[str, Any]]] = {c: [] for c in cases}
    print(f"{'harness run':30s} {'wall s':>8s} {'cpu s':>8s} {'cells':>6s} {'examples':>9s} {'loop s':>7s}  "
          "target (wall, idle)")
    for k in range(repeat):
        for engine, profile in cases:
            r = run_once(engine, profile)
            tried[engine, profile].append(r)
            label = f"{engine} {profile}" + (f" ({k + 1}/{repeat})" if repeat > 1 else "")
            print(f"{label:30s} {r['wall_s']:8.1f} {r['cpu_s']:8.1f} {r['cells']:6d} "
                  f"{r['examples']:9d} {r['python_loop_s']:7.3f}  {'met ' if r['target_met'] else 'MISS'} <= "
                  f"{r['target_wall_s']:.0f} s", flush=True)
    runs = [_median_run(tried[c]) for c in cases]
    if repeat > 1:
        print("\nmedians: " + "; ".join(f"{r['engine']} {r['profile']} {r['wall_s']:.1f} s" for r in runs))
    _print_properties(runs)
    return {"runs": runs, "repeat": repeat, "loadavg_before": load_before, "loadavg_after": os.getloadavg()[0],
            "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}


def _median_run(tried: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The run of median wall time (the lower middle one of an even count), with every run's seconds."""
    median = sorted(tried, key=lambda r: r["wall_s"])[(len(tried) - 1) // 2]
    return {**median, "all_wall_s": [r["wall_s"] for r in tried], "all_cpu_s": [r["cpu_s"] for r in tried]}


def _print_properties(runs: Sequence[dict[str, Any]]) -> None:
    cols = [f"{r['engine']} {r['profile']}" for r in runs]
    props = sorted({p for r in runs for p in r["per_property"]})
    print(f"\n{'examples per second in cells':30s} " + " ".join(f"{c:>16s}" for c in cols))
    for p in props:
        vals = [r["per_property"].get(p, {}).get("examples_per_s") for r in runs]
        print(f"{p:30s} " + " ".join(f"{v:16.1f}" if v is not None else " " * 16 for v in vals))
