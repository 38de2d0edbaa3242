"""CLI pieces for regression-testing ops: ``run --ops-from/--save-failures/--no-corpus``,
``replay``, ``new-op`` and ``list-ops --engine``.  Kept apart from cli.py, which only calls in.

Every bad input raises a ConfigError subclass (exit 2, one line on stderr).
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any, Sequence

from .adapters.base import Adapter, ConfigError
from .results import RunResults


def _split(v: Sequence[str] | None) -> list[str]:
    return [x for item in v or [] for x in item.split(",") if x]


# -- conformance run ----------------------------------------------------------------------------
def add_run_arguments(r: argparse.ArgumentParser) -> None:
    r.add_argument("--ops-from", action="append", metavar="MODULE",
                   help="load extra OpSpecs from MODULE (its OPS list); repeatable, comma separated")
    r.add_argument("--save-failures", metavar="DIR", help="save every shrunk failing example as a JSON corpus entry")
    r.add_argument("--no-corpus", action="store_true", help="do not replay the project's corpus/ before exploring")


def load_user_ops(args: argparse.Namespace) -> list[str]:
    """Entry-point ops and ``--ops-from`` modules, before op names are validated; --save-failures
    is checked here too, so an unwritable directory fails before the run, not after it."""
    from . import userops
    target = getattr(args, "save_failures", None)
    if target:
        try:
            Path(target).mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise ConfigError(f"--save-failures {target}: cannot create the directory: {e.strerror or e}") from None
    return userops.load(_split(getattr(args, "ops_from", None)))


def replay_project(args: argparse.Namespace, adapter: Adapter | None, ops: Sequence[str] | None,
                   props: Sequence[str] | None) -> list[Any]:
    """Replay the project's corpus entries that belong to this run's cells (stderr: one summary line)."""
    from . import corpus, runner
    if getattr(args, "no_corpus", False) or not corpus.PROJECT_CORPUS.is_dir():
        return []
    t0 = time.perf_counter()
    cells = runner.plan(adapter, runner.PROFILES[args.profile], ops, props)
    if adapter is None:  # an isolated run never loads the engine in this process: replay in a child
        outcomes = corpus.replay_for_run_isolated(args.engine, cells, [corpus.PROJECT_CORPUS])
    else:
        outcomes = corpus.replay_for_run(adapter, cells, [corpus.PROJECT_CORPUS])
    if outcomes:
        print(corpus.summary(outcomes, time.perf_counter() - t0), file=sys.stderr)
        for o in outcomes:
            if o.verdict == "still-failing":
                print("  " + corpus.describe(o).splitlines()[0], file=sys.stderr)
    return outcomes


def after_run(args: argparse.Namespace, rr: RunResults, outcomes: Sequence[Any]) -> None:
    """Merge still-failing replays into the run, then save failures when asked."""
    from . import corpus
    corpus.merge(rr, outcomes)
    if getattr(args, "save_failures", None):
        paths = corpus.save_failures(rr, Path(args.save_failures))
        print(f"conformance: {len(set(paths))} failing example(s) saved under {args.save_failures}", file=sys.stderr)


# -- conformance replay -------------------------------------------------------------------------
def cmd_replay(args: argparse.Namespace) -> int:
    from . import corpus
    from .adapters import resolve
    load_user_ops(args)
    entries = corpus.load_dirs([Path(d) for d in args.dirs])
    adapter = resolve(args.engine)
    mine = entries if args.any_engine else [e for e in entries if e.applies_to(adapter)]
    t0 = time.perf_counter()
    outcomes = corpus.replay(adapter, mine)
    for o in outcomes:
        print(corpus.describe(o))
    skipped = len(entries) - len(mine)
    print(corpus.summary(outcomes, time.perf_counter() - t0)
          + (f"; {skipped} entries of other engines skipped (--any-engine replays them)" if skipped else ""))
    return 1 if any(o.verdict == "still-failing" for o in outcomes) else 0


# -- conformance new-op ---------------------------------------------------------------------------
def cmd_new_op(args: argparse.Namespace) -> int:
    from . import scaffold
    root = Path(args.root)
    written = scaffold.new_op(args.name, family=args.family, arity=args.arity, root=root)
    for p in written:
        print(f"wrote {p}")
    print(f"next: fill in the TODOs, then: conformance run --engine refengine --ops {args.name} --profile quick")
    return 0


# -- conformance list-ops [--engine E] ------------------------------------------------------------
def cmd_list_ops(args: argparse.Namespace) -> int:
    from . import userops
    from .registry import REGISTRY
    load_user_ops(args)
    adapter = None
    if args.engine:
        from .adapters import resolve
        adapter = resolve(args.engine)
    n = 0
    for spec in REGISTRY.values():
        origin = userops.USER_OPS.get(spec.name, "")
        torch_eq = spec.torch_equivalent or "(no torch equivalent)"
        if adapter is None:
            print(f"{spec.name:14s} {spec.family:12s} {torch_eq}" + (f"  [{origin}]" if origin else ""))
            continue
        ok = adapter.has_op(spec.name)
        n += ok
        print(f"{spec.name:14s} {spec.family:12s} {'supported' if ok else 'missing':10s} {torch_eq}"
              + (f"  [{origin}]" if origin else ""))
    if adapter is not None:
        print(f"{adapter.name}: {n}/{len(REGISTRY)} registry ops supported")
    return 0


def add_subcommands(sub: Any) -> None:
    """``replay`` and ``new-op``; ``list-ops`` gains ``--engine`` and ``--ops-from``."""
    p = sub.add_parser("replay", help="replay saved failing examples (a corpus directory) against an engine")
    p.add_argument("dirs", nargs="+", metavar="DIR", help="corpus directories or entry files")
    p.add_argument("--engine", required=True, help="engine to replay on (see list-engines)")
    p.add_argument("--ops-from", action="append", metavar="MODULE", help="load user OpSpecs the entries use")
    p.add_argument("--any-engine", action="store_true", help="also replay entries saved for other engines")
    p.add_argument("--debug", action="store_true", help=argparse.SUPPRESS)
    p.set_defaults(func=cmd_replay)
    n = sub.add_parser("new-op", help="scaffold an OpSpec and a refengine ArrayFunction for a new op")
    n.add_argument("name", help="op name (a Python identifier, as in torch)")
    n.add_argument("--family", default="elementwise", help="registry family module (new name: a new module)")
    n.add_argument("--arity", type=int, default=1, choices=[1, 2, 3], help="number of tensor inputs")
    n.add_argument("--root", default=".", help="project root to write into (default: current directory)")
    n.add_argument("--debug", action="store_true", help=argparse.SUPPRESS)
    n.set_defaults(func=cmd_new_op)
    lo = sub.choices.get("list-ops")
    if lo is not None:
        lo.add_argument("--engine", help="mark which ops this engine supports")
        lo.add_argument("--ops-from", action="append", metavar="MODULE", help="include user OpSpecs")
        lo.set_defaults(func=cmd_list_ops)


__all__ = ["ConfigError", "add_run_arguments", "add_subcommands", "load_user_ops", "replay_project", "after_run"]
