"""The ``conformance`` command: ``run``, ``list-*``, ``replay``, ``new-op``, ``report``, ``diff``.

Exit codes: 0 conformant, 1 nonconformance found (a failed or errored cell), 2 usage or
configuration error, with a one-line reason on stderr (the traceback only with ``--debug``).
"""
from __future__ import annotations

import argparse
import gc
import sys
import traceback
from typing import Sequence

from conformance.cli import listing, replay, report, run, scaffold
from conformance.errors import ConfigError


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="conformance", description="Check an autograd engine against "
                                 "numerical differentiation and PyTorch, op by op and rule by rule.")
    ap.add_argument("--debug", action="store_true", help="show tracebacks of configuration errors")
    sub = ap.add_subparsers(dest="command", required=True)
    run.add_parser(sub)
    listing.add_parsers(sub)
    replay.add_parser(sub)
    scaffold.add_parser(sub)
    report.add_subcommands(sub)
    return ap


def main(argv: Sequence[str] | None = None) -> int:
    ap = build_parser()
    try:
        args = ap.parse_args(argv)
    except SystemExit as e:  # argparse already printed its one-line usage error
        return 2 if e.code not in (0, None) else 0
    try:
        return int(args.func(args) or 0)
    except ConfigError as e:
        if getattr(args, "debug", False):
            traceback.print_exc()
        print(f"conformance: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("conformance: interrupted", file=sys.stderr)
        return 2


def command() -> None:
    """The ``conformance`` program (console script and ``python -m conformance``): :func:`main`, then exit.

    At exit the interpreter's last garbage collections walk every object the process made or imported
    (torch, matplotlib, the results): 0.7-0.9 s after the reports are written, ~8% of a ``quick`` run.
    Objects frozen first are skipped; the process's memory goes back to the OS with it, and the
    atexit handlers (multiprocessing's, temporary directories') still run.  Not in :func:`main`, which
    tests and other programs call in a process that goes on."""
    code = main()
    gc.freeze()
    sys.exit(code)


if __name__ == "__main__":
    command()
