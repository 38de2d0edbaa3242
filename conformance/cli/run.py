"""``conformance run``: options -> :func:`conformance.run` -> the summary, the baseline diff, the exit code."""
from __future__ import annotations

import argparse
import pathlib
import sys
import tempfile
import time
from collections import Counter
from typing import Any, Sequence

from conformance.errors import ConfigError
from conformance.report import diff_runs, write_reproducers
from conformance.report.formatting import finding_title
from conformance.runner.results import RunResults, Status
from conformance.runner.session import load_baseline, parse_shard, run


def add_parser(sub: Any) -> None:
    r = sub.add_parser("run", help="run the conformance suite against an engine")
    r.add_argument("--engine", required=True, help="torch | torch:cuda | refengine | torchlike:MODULE | pkg.mod:Class")
    r.add_argument("--profile", default="ci", metavar="{quick,ci,thorough}", help="examples per cell")
    r.add_argument("--ops", nargs="*", help="ops to test (default: all); comma or space separated")
    r.add_argument("--properties", nargs="*", help="properties to test (default: all)")
    r.add_argument("--seed", type=int, help="run seed (replays every cell exactly)")
    r.add_argument("--report", metavar="DIR", help="write results.json, junit.xml, summary.md, index.html")
    r.add_argument("--expect", metavar="FILE", help="expected deviations (TOML or JSON)")
    r.add_argument("--baseline", metavar="RESULTS_JSON", help="compare with an earlier results.json")
    r.add_argument("--fail-on", default="nonconformance", choices=["nonconformance", "regression", "any"],
                   help="exit 1 on any failing cell (default), on regressions against --baseline only, "
                        "or on regressions and any failing cell")
    r.add_argument("-q", "--quiet", action="store_true", help="no progress on stderr")
    r.add_argument("--isolate", action=argparse.BooleanOptionalAction, default=None,
                   help="run the engine in worker processes that may crash or hang (default: on, except "
                        "for refengine and torch)")
    r.add_argument("--timeout", type=float, default=10.0, metavar="SECONDS",
                   help="an example is a hang after SECONDS of CPU time in a worker, or SECONDS blocked "
                        "without using CPU (default 10); load alone does not make one")
    r.add_argument("--workers", type=int, default=None, metavar="N",
                   help="run cells in N worker processes (default: one per core)")
    r.add_argument("--shard", default=None, metavar="K/N", help="run only the K-th of N deterministic slices")
    r.add_argument("--ops-from", action="append", metavar="MODULE",
                   help="load extra OpSpecs from MODULE (its OPS list); repeatable, comma separated")
    r.add_argument("--save-failures", metavar="DIR", help="save every shrunk failing example as a JSON corpus entry")
    r.add_argument("--no-corpus", action="store_true", help="do not replay the project's corpus/ before exploring")
    r.add_argument("--shapes", type=int, default=None, metavar="N",
                   help="draw input shapes from a seeded pool of N per op and rank, so an engine that compiles "
                        "compiles each op a bounded number of times (default: 3 for engines declaring "
                        "'compiles', else unbounded; 0: unbounded)")
    r.add_argument("--budget", type=float, default=None, metavar="MINUTES",
                   help="scale examples per cell so that the whole run takes about MINUTES")
    r.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    r.set_defaults(func=cmd_run)


def cmd_run(args: argparse.Namespace) -> int:
    if args.fail_on != "nonconformance" and not args.baseline:
        raise ConfigError(f"--fail-on {args.fail_on} needs --baseline")
    baseline = load_baseline(args.baseline)  # read once: for the reports and for the diff printed here
    rr = run(args.engine, profile=args.profile, ops=split(args.ops), properties=split(args.properties),
             seed=args.seed, report=args.report, expect=args.expect, baseline=baseline,
             corpus=not args.no_corpus, save_failures=args.save_failures, ops_from=split(args.ops_from) or (),
             isolate=args.isolate, workers=args.workers, timeout=args.timeout, shard=parse_shard(args.shard),
             shapes=args.shapes, budget=args.budget,
             progress=None if args.quiet else progress_printer(), log=lambda line: print(line, file=sys.stderr),
             argv=sys.argv)
    if not rr.tested:  # a run that asked nothing is no evidence of conformance
        print_summary(rr, sys.stdout, verdict=False)
        raise ConfigError(f"nothing was tested: {nothing_tested(rr)}")
    print_summary(rr, sys.stdout, reproducers=_reproducer_dir(args.report) if rr.findings() else None)
    if rr.harness_errors:  # the harness failed: no verdict on the engine can be trusted as complete
        print(f"harness error: please report ({len(rr.harness_errors)} cell(s) failed inside the harness, "
              "not the engine; see the findings marked fault: harness)", file=sys.stderr)
        return 2
    if baseline is not None:
        d = diff_runs(baseline, rr)
        print(d.to_text(), file=sys.stdout)
        if args.fail_on != "nonconformance":
            return d.exit_code(args.fail_on)
    return 0 if rr.conformant else 1


def _reproducer_dir(report: str | None) -> pathlib.Path:
    """Where the printed reproducer paths point: the report's reproducers/, else a fresh temp dir."""
    if report:
        return pathlib.Path(report) / "reproducers"
    return pathlib.Path(tempfile.mkdtemp(prefix="conformance-reproducers-"))


def print_summary(rr: RunResults, out: Any, verdict: bool = True, reproducers: pathlib.Path | None = None) -> None:
    """Counts, then each finding (culprit, what is wrong, one instance's numbers, its reproducer's
    path), then the failing cells one line each, then the verdict."""
    cov = rr.coverage()["by_status"]
    print("  ".join(f"{k}: {v}" for k, v in cov.items() if v), file=out)
    found = rr.findings()
    paths = write_reproducers(rr, reproducers) if reproducers is not None and found else {}
    if found:
        print(f"{len(found)} finding(s), most cells first:", file=out)
    for f in found:
        tag = " [expected]" if f.expected else (" [interaction]" if f.interaction else "")
        print(f"  {f.id:20s} {len(f.cells):4d} cell(s)  fault {f.fault:7s} {finding_title(f)[:110]}{tag}", file=out)
        print(f"      {f.message.splitlines()[0][:200] if f.message else ''}", file=out)
        if f.id in paths:
            print(f"      reproducer: python {paths[f.id]}   (exit 1 while the bug is there)", file=out)
    for r in rr.results:
        if r.status.is_problem or r.status == Status.EXPECTED_FAILURE:
            print(f"{r.status.value.upper():17s} {r.op:14s} {r.property:22s} {r.dtype:8s} {r.message[:140]}",
                  file=out)
    if verdict:
        print("CONFORMANT" if rr.conformant else "NONCONFORMANT", file=out)


def nothing_tested(rr: RunResults) -> str:
    """Why no cell was tested: the selection was empty, or the commonest not-applicable reasons."""
    if not rr.results:
        return "the selected ops, properties and shard have no cells"
    reasons = Counter(r.message for r in rr.results)
    top = "; ".join(f"{m} ({n} cells)" for m, n in reasons.most_common(3))
    return f"all {len(rr.results)} cells were not applicable: {top}"


def split(v: Sequence[str] | None) -> list[str] | None:
    """``--ops a,b c`` -> ['a', 'b', 'c']; None when not given."""
    if not v:
        return None
    return [x for item in v for x in item.split(",") if x]


def progress_printer(stream: Any = sys.stderr) -> Any:
    """A progress bar on stderr: tqdm when installed, else a plain single line (not a dependency)."""
    try:
        from tqdm import tqdm  # optional: imported only when present
    except ImportError:
        pass
    else:
        bar = tqdm(total=None, file=stream, unit="cell", dynamic_ncols=True)

        def show_tqdm(done: int, total: int, label: str) -> None:
            bar.total = total
            bar.n = done
            bar.set_description_str(label[:40])
            if done == total:
                bar.close()
        return show_tqdm
    t0 = time.perf_counter()
    tty = stream.isatty()

    def show(done: int, total: int, label: str) -> None:
        pct = 100 * done // max(total, 1)
        line = f"[{done}/{total} {pct:3d}% {time.perf_counter() - t0:6.1f}s] {label}"
        if tty:
            stream.write("\r" + line[:100].ljust(100) + ("\n" if done == total else ""))
        elif done == total or done % 25 == 0:
            stream.write(line + "\n")
        stream.flush()
    return show
