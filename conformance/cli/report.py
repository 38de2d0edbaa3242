"""``conformance report render|merge`` and ``conformance diff``: the report writers on the command line.

``add_subcommands(subparsers)`` registers on the main ``conformance`` parser:

* ``conformance report render RESULTS.json|DIR [--out DIR]`` — regenerate the four
  report files from a results.json alone;
* ``conformance report merge DIR... --out DIR`` — the multi-engine page (or, for the shards of
  one engine's ``run --shard K/N`` jobs, their joined one-engine report: see ``shards.py``);
* ``conformance diff BASELINE.json NEW.json [--fail-on regression|any]`` — exit 0
  (no regression), 1 (regressions; or any failed/error cell or an incomplete new run
  with ``--fail-on any``), 2 (bad input: one line naming the file and the problem).

Each subparser sets ``func`` to its handler (``args -> int``); ``handlers`` maps
command names to the same functions.
"""
from __future__ import annotations

import argparse
import pathlib
import sys
from typing import Callable

from conformance.report import ReportInputError, diff_runs, load_run, write_all, write_merged
from conformance.report import table as summary_table
from conformance.report.diff import FAIL_ON
from conformance.report.shards import try_join

EXIT_OK, EXIT_PROBLEM, EXIT_BAD_INPUT = 0, 1, 2


def _bad_input(err: Exception) -> int:
    print(f"conformance: error: {err}", file=sys.stderr)
    return EXIT_BAD_INPUT


def cmd_diff(args: argparse.Namespace) -> int:
    """Print the diff of two runs as text (or Markdown) and return the gate's exit code."""
    try:
        base, new = load_run(args.baseline), load_run(args.new)
    except ReportInputError as err:
        return _bad_input(err)
    d = diff_runs(base, new)
    text = d.to_markdown() if args.format == "markdown" else d.to_text(show_unchanged=args.verbose)
    sys.stdout.write(text)
    return d.exit_code(args.fail_on)


def cmd_report_merge(args: argparse.Namespace) -> int:
    """Write the multi-engine page for report dirs (or results.json files) into --out.

    Shards of one engine's run (``conformance run --shard K/N``) are joined into one report instead.
    """
    try:
        joined = try_join(args.dirs)
        if joined is not None:
            write_all(joined, args.out)
            print(f"wrote {args.out / 'index.html'} ({len(args.dirs)} shards of {joined.info.engine} joined)")
            return EXIT_OK
        merged = write_merged(args.dirs, args.out)
    except ReportInputError as err:
        return _bad_input(err)
    print(f"wrote {args.out / 'index.html'} ({len(merged.runs)} engines)")
    return EXIT_OK


def cmd_report_render(args: argparse.Namespace) -> int:
    """Regenerate junit.xml, summary.md and index.html (and results.json) from a results.json."""
    try:
        run = load_run(args.results)
        base = load_run(args.baseline) if args.baseline else None
    except ReportInputError as err:
        return _bad_input(err)
    src = args.results if args.results.is_dir() else args.results.parent
    out = args.out or src
    write_all(run, out, baseline=base, plots=not args.no_plots)
    print(f"wrote report for {run.info.engine} into {out}")
    return EXIT_OK


def cmd_report_table(args: argparse.Namespace) -> int:
    """Print the engines' summary table from their reports; --update rewrites its block in a page."""
    try:
        runs = [load_run(d) for d in args.dirs]
    except ReportInputError as err:
        return _bad_input(err)
    table = summary_table.markdown(runs)
    if args.update is None:
        sys.stdout.write(table)
        return EXIT_OK
    try:
        changed = summary_table.update(args.update, table)
    except (OSError, ValueError) as err:
        return _bad_input(err)
    print(f"{'updated' if changed else 'unchanged:'} {args.update} ({len(runs)} engines)")
    return EXIT_OK


handlers: dict[str, Callable[[argparse.Namespace], int]] = {
    "diff": cmd_diff,
    "report merge": cmd_report_merge,
    "report render": cmd_report_render,
    "report table": cmd_report_table,
}


def add_subcommands(subparsers: "argparse._SubParsersAction") -> None:
    """Register ``report {merge,render}`` and ``diff`` on the main CLI's subparsers object."""
    path = pathlib.Path
    rep = subparsers.add_parser("report", help="build reports from results.json files")
    rsub = rep.add_subparsers(dest="report_command", required=True, metavar="{merge,render,table}")
    m = rsub.add_parser("merge", help="multi-engine page: engines x properties with drill-down to ops")
    m.add_argument("dirs", nargs="+", type=path, metavar="DIR", help="report dirs (or results.json files)")
    m.add_argument("--out", type=path, required=True, metavar="DIR", help="where to write index.html, summary.md")
    m.set_defaults(func=cmd_report_merge)
    r = rsub.add_parser("render", help="regenerate a run's report files from its results.json")
    r.add_argument("results", type=path, metavar="RESULTS", help="results.json or a report dir")
    r.add_argument("--out", type=path, metavar="DIR", help="output dir (default: next to RESULTS)")
    r.add_argument("--baseline", type=path, metavar="BASELINE.json", help="include a diff against this run")
    r.add_argument("--no-plots", action="store_true", help="skip matplotlib plots (faster)")
    r.set_defaults(func=cmd_report_render)
    t = rsub.add_parser("table", help="the engines' summary table (markdown) from their reports")
    t.add_argument("dirs", nargs="+", type=path, metavar="DIR", help="report dirs (or results.json files)")
    t.add_argument("--update", type=path, metavar="FILE.md",
                   help="rewrite the generated summary block of this page instead of printing")
    t.set_defaults(func=cmd_report_table)
    d = subparsers.add_parser(
        "diff",
        help="compare two runs: regressions, fixes, still failing, new/removed coverage",
        description="Exit 0: no regression; 1: regressions (with --fail-on any: also any failed/error "
        "cell in NEW, or NEW incomplete); 2: unreadable or malformed input.",
    )
    d.add_argument("baseline", type=path, metavar="BASELINE.json")
    d.add_argument("new", type=path, metavar="NEW.json")
    d.add_argument("--fail-on", choices=FAIL_ON, default="regression", help="what makes the exit code 1")
    d.add_argument("--format", choices=("text", "markdown"), default="text")
    d.add_argument("-v", "--verbose", action="store_true", help="also list unchanged cells")
    d.set_defaults(func=cmd_diff)
