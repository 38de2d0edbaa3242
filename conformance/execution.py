"""How ``conformance run`` executes its cells: in process, isolated, in parallel, sharded.

* ``--isolate`` / ``--no-isolate``: run the engine in worker processes (conformance.workers),
  so a segfault, abort or hang becomes an ``error`` result instead of killing the run.
  Default: isolated, except for the trusted built-ins (:data:`TRUSTED`).
* ``--timeout SECONDS`` (default 10): the longest one example may run in a worker.
* ``--workers N`` (default: one per core): cells run in N worker processes; results are
  identical to a serial run (each cell's seed depends only on run seed, property, op and
  dtype) and kept in plan order.  ``--workers 1`` without isolation runs in process.
* ``--shard K/N``: only cells ``i`` with ``i % N == K - 1`` of the plan, so N CI jobs cover
  the registry once; ``conformance report merge`` joins the shards' reports.

``on_result(run)`` is called after every finished cell with the RunResults so far (plan
order), so the CLI flushes results.json as each cell finishes.  SIGTERM is turned into
KeyboardInterrupt while a run is in progress, so both leave a ``complete: false`` report.
"""
from __future__ import annotations

import argparse
import os
import platform
import signal
import sys
import time
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import Any, Callable, Iterator, Sequence

import numpy as np

from .results import Result, RunInfo, RunResults

#: engines run in process unless --isolate is given
TRUSTED = frozenset({"refengine", "torch", "torch:cpu", "torch:cuda", "torchlike:torch"})

Progress = Callable[[int, int, str], None]


def add_run_options(p: argparse.ArgumentParser) -> None:
    """Register --isolate/--no-isolate, --timeout, --workers, --shard on the ``run`` subparser."""
    p.add_argument("--isolate", action=argparse.BooleanOptionalAction, default=None,
                   help="run the engine in worker processes that may crash or hang (default: on, except "
                        "for refengine and torch)")
    p.add_argument("--timeout", type=float, default=10.0, metavar="SECONDS",
                   help="longest one example may run in an isolated worker (default 10)")
    p.add_argument("--workers", type=int, default=None, metavar="N",
                   help="run cells in N worker processes (default: one per core)")
    p.add_argument("--shard", default=None, metavar="K/N", help="run only the K-th of N deterministic slices")


def options(args: argparse.Namespace) -> dict[str, Any]:
    """Check the run options of ``args`` (ValueError: the one-line reason) and sort them out.

    Returns ``in_workers`` (the engine runs out of process), ``note`` (for the start line) and
    ``kw`` (keyword arguments of :func:`execute`).
    """
    from .runner import PROFILES
    from .userinput import check_engine_name, check_report_dir, unknown_name
    check_engine_name(args.engine)  # ConfigError: exit 2 before any worker starts
    if args.profile not in PROFILES:
        raise ValueError(unknown_name("profile", args.profile, PROFILES, "run --help"))
    if args.timeout <= 0:
        raise ValueError(f"--timeout {args.timeout:g}: expected a positive number of seconds")
    shard = parse_shard(args.shard)
    workers = worker_count(args.workers, 10**9)
    if args.report:
        check_report_dir(args.report)
    isolate = wants_isolation(args.engine, args.isolate)
    note = (f", {workers} worker(s)" if workers > 1 or isolate else "") + (", isolated" if isolate else "")
    note += f", shard {shard[0]}/{shard[1]}" if shard else ""
    return {"in_workers": isolate or workers > 1, "note": note,
            "kw": {"isolate": isolate, "workers": workers, "timeout": args.timeout, "shard": shard}}


def parse_shard(text: str | None) -> tuple[int, int] | None:
    """'2/4' -> (2, 4); raise ValueError with the reason otherwise."""
    if text is None:
        return None
    k, sep, n = text.partition("/")
    if not (sep and k.isdigit() and n.isdigit() and 1 <= int(k) <= int(n)):
        raise ValueError(f"--shard {text!r}: expected K/N with 1 <= K <= N, e.g. 1/4")
    return int(k), int(n)


def shard_cells(cells: Sequence[Any], shard: tuple[int, int] | None) -> list[tuple[int, Any]]:
    """``(plan index, cell)`` pairs of the K-th of N round-robin slices (all cells without a shard)."""
    k, n = shard or (1, 1)
    return [(i, c) for i, c in enumerate(cells) if i % n == k - 1]


def wants_isolation(engine: str, isolate: bool | None) -> bool:
    return isolate if isolate is not None else engine not in TRUSTED


def worker_count(requested: int | None, ncells: int) -> int:
    """--workers, defaulting to one per core, never more than there are cells."""
    n = requested if requested is not None else (os.cpu_count() or 1)
    if n < 1:
        raise ValueError(f"--workers {n}: expected a positive number")
    return max(1, min(n, ncells))


def throttled(write: Callable[[RunResults], None], budget: float = 0.1) -> Callable[[RunResults], None]:
    """``write`` after every cell, except while the last write took more than ``budget`` of the time
    since (results.json of a 800-cell run takes ~0.2 s to write: every cell would double the run).
    Small runs are flushed after every cell; the final and the interrupted report are written anyway."""
    last = {"end": float("-inf"), "cost": 0.0}

    def call(run: RunResults) -> None:
        now = time.monotonic()
        if now - last["end"] < last["cost"] / budget:
            return
        write(run)
        last["end"] = time.monotonic()
        last["cost"] = last["end"] - now
    return call


@contextmanager
def sigterm_interrupts() -> Iterator[None]:
    """Inside the block, SIGTERM raises KeyboardInterrupt (so it leaves the same incomplete report)."""
    def handler(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt(f"signal {signal.Signals(signum).name}")
    try:
        old = signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread: leave signals alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, old)


def run_info(name: str, version: str | None, torch_version: str | None, profile: str, seed: int,
             properties: Sequence[str] | None, argv: Sequence[str]) -> RunInfo:
    from .properties import PROPERTIES
    from .registry import REGISTRY
    from .runner import HARNESS_VERSION
    return RunInfo(engine=name, engine_version=version, harness_version=HARNESS_VERSION,
                   python_version=platform.python_version(), numpy_version=np.__version__,
                   torch_version=torch_version, profile=profile, seed=seed,
                   started_at=datetime.now(timezone.utc).isoformat(), ops_in_registry=len(REGISTRY),
                   properties=list(properties or PROPERTIES), argv=list(argv))


def execute(engine: str, profile: str, ops: list[str] | None, properties: list[str] | None, seed: int, *,
            isolate: bool | None = None, workers: int | None = None, timeout: float = 10.0,
            shard: tuple[int, int] | None = None, progress: Progress | None = None,
            on_result: Callable[[RunResults], None] | None = None, argv: Sequence[str] = (),
            adapter: Any = None, on_ready: Callable[[str], None] | None = None) -> RunResults:
    """Run the selected cells of ``engine`` and return the RunResults (``complete`` set at the end).

    The RunResults passed to ``on_result`` is the one returned, so on KeyboardInterrupt the
    caller still holds everything finished so far.  ``adapter``: an already resolved adapter for
    the in-process path (built from ``engine`` when None).  ``on_ready(engine name)`` is called once
    the engine is built (in a worker when isolated), before any cell runs.
    """
    from .runner import PROFILES, plan
    cells = shard_cells(plan(None, PROFILES[profile], ops, properties), shard)  # type: ignore[arg-type]
    n = worker_count(workers, len(cells))
    holder: list[RunResults] = []
    done: dict[int, Result] = {}

    def finished(index: int, r: Result) -> None:
        done[index] = r
        rr = holder[0]
        rr.results = [done[i] for i in sorted(done)]
        if progress:
            progress(len(done), len(cells), f"{r.property} {r.op} {r.dtype}")
        if on_result:
            on_result(rr)

    def started(rr: RunResults) -> None:  # an empty incomplete report exists before the first cell
        holder.append(rr)
        if on_result:
            on_result(rr)

    ready = on_ready or (lambda name: None)
    isolated = wants_isolation(engine, isolate)
    if n == 1 and not isolated:
        _in_process(adapter, engine, profile, ops, properties, seed, cells, started, finished, argv, ready)
    else:
        # Hang detection is part of isolation: a trusted in-process engine merely spread over
        # workers gets no per-example deadline, since on a loaded machine a slow example of a
        # correct engine would otherwise be reported as a hang (seen at load average 11).
        _in_workers(engine, profile, ops, properties, seed, cells, n, timeout if isolated else float("inf"),
                    started, finished, argv, ready)
    rr = holder[0]
    rr.info.finished_at = datetime.now(timezone.utc).isoformat()
    rr.info.complete = True
    return rr


def _in_process(adapter: Any, engine: str, profile: str, ops: list[str] | None, properties: list[str] | None,
                seed: int, cells: list[tuple[int, Any]], started: Callable[[RunResults], None],
                finished: Callable[[int, Result], None], argv: Sequence[str], ready: Callable[[str], None]) -> None:
    from .adapters import resolve
    from .registry import REGISTRY
    from .runner import PROFILES, run_cell
    adapter = adapter or resolve(engine)
    ready(adapter.name)
    torch = sys.modules.get("torch")
    rr = RunResults(run_info(adapter.name, adapter.version(), getattr(torch, "__version__", None),
                             profile, seed, properties, argv))
    started(rr)
    engine_ops = [o for o in (ops or list(REGISTRY)) if adapter.has_op(o)]
    for index, (prop, op, dtype) in cells:
        finished(index, run_cell(adapter, prop, op, dtype, PROFILES[profile], seed, engine_ops, ops))
    if rr.info.torch_version is None and "torch" in sys.modules:
        rr.info.torch_version = getattr(sys.modules["torch"], "__version__", None)


def _in_workers(engine: str, profile: str, ops: list[str] | None, properties: list[str] | None, seed: int,
                cells: list[tuple[int, Any]], n: int, timeout: float, started: Callable[[RunResults], None],
                finished: Callable[[int, Result], None], argv: Sequence[str], ready: Callable[[str], None]) -> None:
    from .workers import WorkerConfig, WorkerPool
    pool = WorkerPool(WorkerConfig(engine, profile, seed, ops, timeout), n, on_ready=lambda info: ready(info.name))
    rr = RunResults(run_info(engine, None, None, profile, seed, properties, argv))
    started(rr)

    def first(index: int, r: Result) -> None:
        if pool.info is not None and rr.info.engine == engine:  # a worker has named the engine
            rr.info.engine, rr.info.engine_version = pool.info.name, pool.info.version
            rr.info.torch_version = pool.info.torch_version
        finished(index, r)

    pool.run([(i, (prop.name, op, dtype)) for i, (prop, op, dtype) in cells], first)
