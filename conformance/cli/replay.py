"""``conformance replay DIR... --engine E``: saved failing examples, still failing or fixed."""
from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from conformance.cli.run import split
from conformance.engines import resolve
from conformance.runner import corpus
from conformance.spec import user_ops


def add_parser(sub: Any) -> None:
    p = sub.add_parser("replay", help="replay saved failing examples (a corpus directory) against an engine")
    p.add_argument("dirs", nargs="+", metavar="DIR", help="corpus directories or entry files")
    p.add_argument("--engine", required=True, help="engine to replay on (see list-engines)")
    p.add_argument("--ops-from", action="append", metavar="MODULE", help="load user OpSpecs the entries use")
    p.add_argument("--any-engine", action="store_true", help="also replay entries saved for other engines")
    p.add_argument("--debug", action="store_true", help=argparse.SUPPRESS)
    p.set_defaults(func=cmd_replay)


def cmd_replay(args: argparse.Namespace) -> int:
    user_ops.load(split(args.ops_from) or [])
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
