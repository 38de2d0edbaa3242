"""``python -m benchmarks [--quick] [--only SUBSTRING] [--out DIR]``: run every case on every
engine in this one process, print a table of medians and ratios, write
``reports/benchmarks.json`` and ``reports/benchmarks.png``.

``--only harness`` instead times the conformance harness itself (benchmarks/harness.py: whole
runs of refengine and torch at ``quick`` and ``ci``; ``--repeat N`` runs each N times, interleaved,
and keeps the median) and stores it under ``"harness"`` in the same benchmarks.json, keeping the
engine figures already there (and the reverse)."""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time

import numpy as np
import torch

from benchmarks import cases as C
from benchmarks.timing import CLOCK_NAME, median_time, median_times, memcpy_bandwidth

ENGINES = ("refengine", "torch", "numpy", "micrograd")


def _repeat(case, quick):
    if case.group == "graph":
        return 3 if quick else 5
    return 5 if quick else 11


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _linearity(quick: bool) -> dict:
    """Per-op time of 1k/10k/100k-op chains (refengine only): met when every size is within
    +-20 % of the 10k figure."""
    per_op = {n: median_time(fn, repeat=3 if quick else 5) / n for n, fn in C.linearity_runs().items()}
    ref = per_op[10_000]
    spread = {n: t / ref for n, t in per_op.items()}
    row = {"case": "graph chain time per op, 1k / 10k / 100k ops", "group": "graph",
           "median_s": {"refengine": ref * 10_000}, "target": "per op within +-20 % of 10k",
           "ratios": {}, "per_op_us": {str(n): t * 1e6 for n, t in per_op.items()},
           "target_met": all(0.8 <= v <= 1.2 for v in spread.values()), "notes": {}}
    print(f"{row['case'][:46]:46s} " + "  ".join(f"{n // 1000}k {t * 1e6:.2f} us/op" for n, t in per_op.items())
          + f"  {'met ' if row['target_met'] else 'MISS'} (within +-20 %)", flush=True)
    return row


def run(quick: bool, only: str | None) -> dict:
    torch.set_num_threads(1)
    import refengine.kernels as K
    from refengine.kernels import blas
    load_before = os.getloadavg()
    bw = memcpy_bandwidth()
    results = []
    for case in C.all_cases():
        if only and only not in case.name:
            continue
        fns = {eng: case.runs[eng] for eng in ENGINES if case.runs.get(eng) is not None}
        times = median_times(fns, repeat=_repeat(case, quick), min_time=0.0 if case.group == "graph" else 0.05)
        row = {"case": case.name, "group": case.group, "median_s": times, "target": case.target,
               "ratios": {f"refengine/{o}": times["refengine"] / times[o] for o in case.ratio_of if o in times},
               "notes": case.meta}
        row["target_met"] = all(row["ratios"][f"refengine/{o}"] <= lim for o, lim in case.limits.items()
                                if f"refengine/{o}" in row["ratios"])
        if case.bytes_moved:
            row["GB/s"] = {e: case.bytes_moved / t / 1e9 for e, t in times.items()}
        results.append(row)
        _print_row(row)
    if not only or only in ("graph", "linearity"):
        results.append(_linearity(quick))
    return {"kernels": K.current(), "memcpy_GBps": bw, "torch": torch.__version__, "numpy": np.__version__,
            "python": platform.python_version(), "machine": platform.machine(), "cpu": _cpu_model(),
            "cpus": os.cpu_count(), "torch_threads": torch.get_num_threads(),
            "blas_threads": list(blas.threads().values()),
            "loadavg_before": load_before[0], "loadavg_after": os.getloadavg()[0], "quick": quick,
            "clock": CLOCK_NAME,
            "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "results": results}


def _fmt(t):
    return f"{t * 1e3:10.3f}" if t is not None else " " * 10


def _header():
    print(f"{'case':46s} {'refengine':>10s} {'torch':>10s} {'numpy':>10s} {'micrograd':>10s}  target; ratios "
          f"(medians of {CLOCK_NAME} in ms, engines interleaved; ratio = refengine time / other)")


def _print_row(row):
    t = row["median_s"]
    ratios = "  ".join(f"{k.split('/')[1]} {v:.2f}x" for k, v in row["ratios"].items())
    gbs = f"  [{row['GB/s']['refengine']:.1f} GB/s]" if "GB/s" in row else ""
    met = "met " if row["target_met"] else "MISS"
    print(f"{row['case'][:46]:46s} " + " ".join(_fmt(t.get(e)) for e in ENGINES) + f"  {met} {ratios}{gbs}",
          flush=True)


def chart(report: dict, path: str) -> None:
    """Horizontal bars: each engine's time relative to torch, per case (log scale)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    rows = [r for r in report["results"] if "torch" in r["median_s"]]
    fig, ax = plt.subplots(figsize=(10, 0.45 * len(rows) + 1.5))
    ys = np.arange(len(rows))
    width = 0.2
    for k, eng in enumerate(ENGINES):
        vals = [r["median_s"].get(eng, np.nan) / r["median_s"]["torch"] for r in rows if "torch" in r["median_s"]]
        ax.barh(ys + (k - 1.5) * width, vals, height=width, label=eng)
    ax.axvline(1.0, color="k", lw=0.8)
    ax.set_xscale("log")
    ax.set_yticks(ys, [r["case"] for r in rows], fontsize=7)
    ax.invert_yaxis()
    ax.set_xlabel("time relative to torch (single thread); lower is faster")
    ax.legend(fontsize=7)
    ax.set_title(f"refengine benchmarks (memcpy {report['memcpy_GBps']:.1f} GB/s)", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    p.add_argument("--quick", action="store_true", help="fewer repeats")
    p.add_argument("--only", help="run the cases whose name contains this")
    p.add_argument("--out", default="reports", help="directory for benchmarks.json and benchmarks.png")
    p.add_argument("--repeat", type=int, default=1, metavar="N",
                   help="with --only harness: run each case N times, interleaved, and keep the median run")
    p.add_argument("--no-readme", action="store_true",
                   help="do not regenerate benchmarks/README.md's table (a full run into reports/ does)")
    args = p.parse_args(argv)
    path = os.path.join(args.out, "benchmarks.json")
    if args.repeat < 1:
        p.error(f"--repeat {args.repeat}: expected a number of runs, 1 or more")
    if args.only == "harness":
        return _harness(args.quick, path, args.repeat)
    _header()
    report = run(args.quick, args.only)
    report["harness"] = _load(path).get("harness")  # the harness figures stay until re-measured
    met = sum(r["target_met"] for r in report["results"])
    print(f"\n{met}/{len(report['results'])} targets met; memcpy bandwidth {report['memcpy_GBps']:.1f} GB/s; "
          f"kernels={report['kernels']}; torch {report['torch']} threads={report['torch_threads']}; "
          f"BLAS threads {report['blas_threads']}; load average {report['loadavg_before']:.1f} -> "
          f"{report['loadavg_after']:.1f} on {report['cpus']} CPUs")
    _write(path, report)
    if report["results"]:
        chart(report, os.path.join(args.out, "benchmarks.png"))
    print(f"wrote {args.out}/benchmarks.json and {args.out}/benchmarks.png")
    # only a full run into the published reports/ regenerates the README's table
    if not (args.no_readme or args.quick or args.only or args.out != "reports"):
        from benchmarks import table
        table.main(["--json", os.path.join(args.out, "benchmarks.json")])
    return 0


def _load(path: str) -> dict:
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return {}


def _write(path: str, report: dict) -> None:
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    with open(path, "w") as f:
        json.dump(report, f, indent=1)


def _harness(quick: bool, path: str, repeat: int = 1) -> int:
    from benchmarks import harness
    report = _load(path)
    report["harness"] = harness.run(quick, repeat=repeat)
    _write(path, report)
    print(f"wrote the harness figures into {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
