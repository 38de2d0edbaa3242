"""Join the reports of ``conformance run --shard K/N`` jobs of ONE engine into one run.

``conformance report merge`` calls :func:`try_join` first: when every input was run with
``--shard K/N`` (same N, distinct K) for the same engine, profile and seed, the shards are
joined into a single RunResults (written as a normal one-engine report); anything else
keeps the multi-engine page.  Shard K holds plan cells ``i`` with ``i % N == K - 1`` in
plan order, so taking one cell from each shard in turn restores the serial run's order.
The joined run is complete only if every shard is complete and all N are present.
"""
from __future__ import annotations

import copy
import os
import pathlib
from typing import Sequence

from conformance.report.files import load_run
from conformance.runner.results import RunResults

__all__ = ["shard_of", "join_shards", "try_join"]


def shard_of(run: RunResults) -> tuple[int, int] | None:
    """(K, N) from the run's recorded command line, or None when it was not sharded."""
    argv = list(run.info.argv)
    for i, a in enumerate(argv):
        value = argv[i + 1] if a == "--shard" and i + 1 < len(argv) else a.partition("=")[2] if \
            a.startswith("--shard=") else None
        if value:
            k, _, n = value.partition("/")
            if k.isdigit() and n.isdigit():
                return int(k), int(n)
    return None


def _joinable(runs: Sequence[RunResults]) -> bool:
    shards = [shard_of(r) for r in runs]
    if len(runs) < 2 or any(s is None for s in shards):
        return False
    ident = {(r.info.engine, r.info.profile, r.info.seed, s[1]) for r, s in zip(runs, shards)}  # type: ignore[index]
    return len(ident) == 1 and len({s[0] for s in shards}) == len(shards)  # type: ignore[index]


def join_shards(runs: Sequence[RunResults]) -> RunResults:
    """One run from shards of one engine (see the module docstring)."""
    by_k = sorted(runs, key=lambda r: shard_of(r) or (0, 0))
    n = (shard_of(by_k[0]) or (1, 1))[1]
    info = copy.deepcopy(by_k[0].info)
    argv, skip = [], False
    for a in info.argv:  # the joined run is no longer one shard
        if skip or a.startswith("--shard"):
            skip = a == "--shard"
            continue
        argv.append(a)
    info.argv = argv
    info.started_at = min(r.info.started_at for r in runs)
    ends = [r.info.finished_at for r in runs]
    info.finished_at = None if None in ends else max(e for e in ends if e)
    info.complete = all(r.info.complete for r in runs) and len(runs) == n
    lists = [list(r.results) for r in by_k]
    results = [lst[i] for i in range(max(map(len, lists))) for lst in lists if i < len(lst)]
    return RunResults(info, results)


def try_join(paths: Sequence[str | os.PathLike[str]]) -> RunResults | None:
    """The joined run when ``paths`` are shards of one engine's run, else None (ReportInputError: bad input)."""
    runs = [load_run(pathlib.Path(p)) for p in paths]
    return join_shards(runs) if _joinable(runs) else None
