"""Command line: ``conformance run|list-engines|list-ops|list-properties`` (+ report tools).

Exit codes: 0 conformant, 1 nonconformance found (a failed or errored cell),
2 usage or configuration error, with a one-line reason on stderr (the traceback
only with ``--debug``).
"""
from __future__ import annotations

import argparse
import sys
import time
import traceback
from pathlib import Path
from typing import Any, Sequence

from .results import RunResults, Status


class UsageError(Exception):
    pass


def _progress_printer(stream: Any = sys.stderr) -> Any:
    """A progress bar on stderr: tqdm when installed, else a plain single line (not a dependency)."""
    try:
        from tqdm import tqdm
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


def _write_report(rr: RunResults, out: Path, final: bool, baseline: RunResults | None = None) -> None:
    from . import report
    try:
        if final:
            report.write_all(rr, out, baseline=baseline)
        else:
            report.write_results_json(rr, out)
    except OSError as e:
        raise UsageError(f"cannot write the report to {out}: {e.strerror or e}") from None


def _load_baseline(path: str | None) -> RunResults | None:
    if not path:
        return None
    from .report import ReportInputError, load_run
    try:
        return load_run(path)
    except ReportInputError as e:
        raise UsageError(f"--baseline: {e}") from None


def cmd_run(args: argparse.Namespace) -> int:
    from . import deviations as deviation_file, execution, runner, userinput
    from .adapters import resolve
    from .registry import REGISTRY
    from .properties import PROPERTIES

    from . import newops_cli
    newops_cli.load_user_ops(args)  # --ops-from modules and conformance.ops entry points join the registry
    ops = _split(args.ops)
    props = _split(args.properties)
    for o in ops or []:
        if o not in REGISTRY:
            raise UsageError(userinput.unknown_name("op", o, REGISTRY, "list-ops"))
    for p in props or []:
        if p not in PROPERTIES:
            raise UsageError(userinput.unknown_name("property", p, PROPERTIES, "list-properties"))
    deviations = []
    if args.expect:
        try:
            deviations = deviation_file.load(Path(args.expect))
        except (OSError, ValueError) as e:
            raise UsageError(f"--expect: {e}") from None
    baseline = _load_baseline(args.baseline)
    try:  # --profile, --shard, --workers, --report: checked before any engine runs
        run_opts = execution.options(args)
    except ValueError as e:
        raise UsageError(str(e)) from None
    adapter = None if run_opts["kw"]["isolate"] else resolve(args.engine)  # isolated: never in this process
    show = None if args.quiet else _progress_printer()
    seed = runner.resolve_seed(runner.PROFILES[args.profile], args.seed)

    def started(name: str) -> None:  # once the engine is built (in a worker when isolated)
        print(f"conformance: engine {name}, profile {args.profile}, seed {seed}{run_opts['note']}", file=sys.stderr)

    # corpus/ first: known failures, fast (isolated runs replay in a child process: the engine never
    # enters this one)
    replayed = newops_cli.replay_project(args, adapter, ops, props)
    partial: list[RunResults] = []
    flush = execution.throttled(lambda run: _write_report(run, Path(args.report), final=False))

    def save(run: RunResults) -> None:
        if not partial:
            partial.append(run)
        if args.report:  # after each cell (throttled to <=10% of the run): a killed run loses ~nothing
            flush(run)

    try:
        with execution.sigterm_interrupts():
            rr = execution.execute(args.engine, args.profile, ops, props, seed, progress=show, on_result=save,
                                   argv=sys.argv, adapter=adapter, on_ready=started, **run_opts["kw"])
    except KeyboardInterrupt:
        if args.report and partial:
            _write_report(partial[0], Path(args.report), final=False)  # info.complete stays False
        raise
    newops_cli.after_run(args, rr, replayed)
    stale = deviation_file.apply(rr.results, deviations)
    for d in stale:
        print(f"warning: stale expected deviation {d.describe()} ({d.reason}): it did not fail", file=sys.stderr)
    if args.report:
        _write_report(rr, Path(args.report), final=True, baseline=baseline)
    _summary(rr, sys.stdout)
    if baseline is not None:
        from .report import diff_runs
        d = diff_runs(baseline, rr)
        print(d.to_text(), file=sys.stdout)
        if args.fail_on != "nonconformance":
            return d.exit_code(args.fail_on)
    elif args.fail_on != "nonconformance":
        raise UsageError(f"--fail-on {args.fail_on} needs --baseline")
    return 0 if rr.conformant else 1


def _summary(rr: RunResults, out: Any) -> None:
    cov = rr.coverage()["by_status"]
    print("  ".join(f"{k}: {v}" for k, v in cov.items() if v), file=out)
    for r in rr.results:
        if r.status.is_problem or r.status == Status.EXPECTED_FAILURE:
            print(f"{r.status.value.upper():17s} {r.op:14s} {r.property:22s} {r.dtype:8s} {r.message[:140]}",
                  file=out)
    print("CONFORMANT" if rr.conformant else "NONCONFORMANT", file=out)


def _split(v: Sequence[str] | None) -> list[str] | None:
    if not v:
        return None
    return [x for item in v for x in item.split(",") if x]


def cmd_list_engines(args: argparse.Namespace) -> int:
    from .adapters import BUILTIN
    for name, doc in BUILTIN.items():
        print(f"{name:28s} {doc}")
    return 0


def cmd_list_ops(args: argparse.Namespace) -> int:
    from .registry import REGISTRY
    for spec in REGISTRY.values():
        print(f"{spec.name:14s} {spec.family:12s} {spec.torch_equivalent}")
    return 0


def cmd_list_properties(args: argparse.Namespace) -> int:
    from .properties import PROPERTIES
    for p in PROPERTIES.values():
        scope = "per-op" if p.per_op else "any-op"
        needs = f" [needs {', '.join(sorted(p.needs))}]" if p.needs else ""
        print(f"{p.name:22s} {p.family:11s} {scope:7s} {p.doc}{needs}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="conformance", description="Check an autograd engine against "
                                 "numerical differentiation and PyTorch, op by op and rule by rule.")
    ap.add_argument("--debug", action="store_true", help="show tracebacks of configuration errors")
    sub = ap.add_subparsers(dest="command", required=True)
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
    r.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    from .execution import add_run_options
    add_run_options(r)
    r.set_defaults(func=cmd_run)
    from .newops_cli import add_run_arguments, add_subcommands as add_newops_subcommands
    add_run_arguments(r)
    for name, fn, doc in [("list-engines", cmd_list_engines, "engine names"), ("list-ops", cmd_list_ops, "ops"),
                          ("list-properties", cmd_list_properties, "properties")]:
        sub.add_parser(name, help=f"list {doc}").set_defaults(func=fn)
    add_newops_subcommands(sub)
    try:
        from .report.cli import add_subcommands
    except ImportError:
        pass
    else:
        add_subcommands(sub)
    return ap


def main(argv: Sequence[str] | None = None) -> int:
    ap = build_parser()
    try:
        args = ap.parse_args(argv)
    except SystemExit as e:  # argparse already printed its one-line usage error
        return 2 if e.code not in (0, None) else 0
    from .adapters.base import ConfigError
    try:
        return int(args.func(args) or 0)
    except (UsageError, ConfigError) as e:
        if getattr(args, "debug", False):
            traceback.print_exc()
        print(f"conformance: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("conformance: interrupted", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
