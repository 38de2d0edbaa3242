"""The one run function: every face (CLI, pytest plugin, Python API, tests) runs cells through :func:`run`.

* In process, or in worker processes (``isolate``): a segfault, abort or hang of the engine
  becomes an ``error`` result instead of killing the run.  Default: isolated, except for the
  trusted built-ins (:data:`TRUSTED`) and for adapter objects passed in directly.
* ``timeout`` (default 10 s): the longest one example may run in a worker, in CPU seconds (or
  blocked, using no CPU); a worker slowed down by a loaded machine is not cut short.
* ``workers`` (default: one per core for an engine named by a string): cells run in N worker
  processes; results are identical to a serial run (each cell's seed depends only on run seed,
  property, op and dtype) and kept in plan order.
* ``shard=(K, N)``: only cells ``i`` with ``i % N == K - 1`` of the plan, so N CI jobs cover the
  registry once; ``conformance report merge`` joins the shards' reports.
* The project's ``corpus/`` is replayed first (known failures, fast); still-failing entries become
  their cells' results.  ``expect`` marks documented deviations as expected failures.
* With ``report=DIR``, results.json is rewritten as cells finish (throttled) and every report is
  written at the end; SIGINT and SIGTERM leave a ``complete: false`` results.json with everything
  finished so far.
"""
from __future__ import annotations

import bisect
import os
import pathlib
import platform
import signal
import sys
import tempfile
import time
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable, Iterator, Sequence

import numpy as np
from hypothesis.configuration import set_hypothesis_home_dir

from conformance import report as reports
from conformance.checks.properties import PROPERTIES
from conformance.engines import check_engine_name, resolve
from conformance.engines.adapter import Adapter
from conformance.errors import ConfigError, unknown_name
from conformance.runner import corpus as project_corpus
from conformance.runner import deviations as deviation_file
from conformance.runner import draws
from conformance.runner.budget import Budget, Limits, budget_line, cell_key
from conformance.runner.cells import run_cell
from conformance.runner.plan import Cell, nominal_examples, plan, shape_bound, undeclared
from conformance.runner.profiles import HARNESS_VERSION, PROFILES, resolve_seed
from conformance.runner.results import Result, RunInfo, RunResults
from conformance.runner.workers import EngineInfo, WorkerConfig, WorkerPool
from conformance.spec import user_ops
from conformance.spec.ops import REGISTRY

#: engines run in process unless isolation is asked for
TRUSTED = frozenset({"refengine", "torch", "torch:cpu", "torch:cuda", "torchlike:torch"})

Progress = Callable[[int, int, str], None]
Log = Callable[[str], None]


def run(engine: str | Adapter, *, profile: str = "ci", ops: Sequence[str] | None = None,
        properties: Sequence[str] | None = None, dtypes: Sequence[str] | None = None, seed: int | None = None,
        report: str | os.PathLike[str] | None = None, expect: str | os.PathLike[str] | None = None,
        baseline: str | os.PathLike[str] | RunResults | None = None, corpus: bool = True,
        save_failures: str | os.PathLike[str] | None = None, ops_from: Sequence[str] = (),
        isolate: bool | None = None, workers: int | None = None, timeout: float = 10.0,
        shard: str | tuple[int, int] | None = None, progress: Progress | None = None, log: Log | None = None,
        argv: Sequence[str] = (), shapes: int | None = None, budget: float | None = None) -> RunResults:
    """Run the conformance suite on ``engine`` and return its RunResults.

    ``engine`` is a name (``torch``, ``refengine``, ``torchlike:MODULE``, ``pkg.mod:Class``, a
    peer) or an Adapter object (run in process).  ``ops``/``properties``/``dtypes`` select cells
    (default: all); ``seed`` replays a run exactly.  ``report``: a directory for results.json,
    junit.xml, summary.md and index.html (compared with ``baseline`` when given).  ``expect``:
    a TOML/JSON file of expected deviations.  ``corpus``: replay the project's ``corpus/`` first.
    ``save_failures``: a directory where every shrunk failing example is saved as a corpus entry.
    ``ops_from``: modules whose ``OPS`` lists join the registry.  ``progress(done, total, label)``
    is called as cells finish; ``log(line)`` gets the run's messages (start line, corpus replay,
    stale deviations).  ``shapes``: input shapes drawn from a seeded pool of N per op and rank
    (0: unbounded; None: 3 for an engine declaring ``compiles``, else unbounded).  ``budget``:
    minutes the run should take; examples per cell are scaled down to fit (runner/budget.py).
    Bad input raises :class:`ConfigError` before any engine runs.
    """
    say = log or (lambda line: None)
    opts = _checked_options(engine, profile, ops, properties, expect, baseline, report, save_failures, ops_from,
                            isolate, workers, timeout, shard, shapes, budget)
    prof = PROFILES[profile]
    run_seed = resolve_seed(prof, seed)
    name = engine if isinstance(engine, str) else (engine.spec or engine.name)
    cells = plan(prof, ops, properties, dtypes)
    selected = shard_cells(cells, opts.shard)
    n = max(1, min(opts.workers, len(selected)))

    def ready(engine_name: str) -> None:
        say(f"conformance: engine {engine_name}, profile {profile}, seed {run_seed}{opts.note}")

    limits = Limits(shapes, Budget(budget, {cell_key(c): nominal_examples(prof, c[0]) for _, c in selected})
                    if budget is not None else None)
    in_process = n == 1 and not opts.isolated
    pool = None if in_process else _pool(name, profile, ops, run_seed, n, opts.timeout, limits, ready)
    if pool is not None:
        pool.warm_up()  # the workers' imports run beside the engine's import here and the corpus replay
    # an isolated engine never enters this process; a trusted one is built here even when its cells go
    # to workers (the corpus replays here)
    adapter = (None if opts.isolated else resolve(engine)) if isinstance(engine, str) else engine
    replayed = _replay_corpus(name, adapter, cells, say) if corpus else []

    out = pathlib.Path(report) if report is not None else None
    flush = throttled(lambda rr: _write(reports.write_results_json, rr, out))
    holder: list[RunResults] = []

    def save(rr: RunResults) -> None:
        holder[:] = [rr]
        if out is not None:  # after each cell (throttled to <=10% of the run): a killed run loses ~nothing
            flush(rr)

    try:
        with sigterm_interrupts(), hypothesis_storage_outside_cwd():
            rr = _execute(name, adapter if in_process else pool, profile, ops, properties, run_seed, selected,
                          progress, save, argv, ready, limits)
    except KeyboardInterrupt:
        if out is not None and holder:
            _write(reports.write_results_json, holder[0], out)  # info.complete stays False
        raise
    if limits.budget is not None:
        say(budget_line(rr, profile))
    project_corpus.merge(rr, replayed)
    if save_failures is not None:
        paths = project_corpus.save_failures(rr, pathlib.Path(save_failures))
        say(f"conformance: {len(set(paths))} failing example(s) saved under {save_failures}")
    for d in deviation_file.apply(rr.results, opts.deviations):
        say(f"warning: stale expected deviation {d.describe()} ({d.reason}): it did not fail")
    if out is not None:  # with workers, one more process draws the per-op plots meanwhile
        with pool.helper() if pool is not None else nullcontext() as helper:
            _write(lambda r, o: reports.write_all(r, o, baseline=opts.baseline, helper=helper), rr, out)
    return rr


@dataclass(frozen=True, kw_only=True)
class _Options:
    """What run() needs from its checked options."""

    isolated: bool  # the engine runs in worker processes that may crash or hang
    workers: int  # worker processes asked for (capped by the number of cells later)
    note: str  # for the start line: ", 2 worker(s), isolated, shard 1/4"
    shard: tuple[int, int] | None  # (K, N): run the K-th of N slices of the plan
    timeout: float  # per-example deadline in a worker (CPU seconds; see workers.py)
    deviations: list[Any]  # expected deviations from the --expect file
    baseline: RunResults | None  # the run to diff the reports against


def _checked_options(engine: str | Adapter, profile: str, ops: Sequence[str] | None,
                     properties: Sequence[str] | None, expect: Any, baseline: Any, report: Any, save_failures: Any,
                     ops_from: Sequence[str], isolate: bool | None, workers: int | None, timeout: float,
                     shard: Any, shapes: int | None = None, budget: float | None = None) -> _Options:
    """Every option checked before any engine runs (ConfigError: the one-line reason)."""
    if save_failures is not None:
        try:
            pathlib.Path(save_failures).mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise ConfigError(f"--save-failures {save_failures}: cannot create the directory: "
                              f"{e.strerror or e}") from None
    user_ops.load(list(ops_from))  # --ops-from modules and conformance.ops entry points join the registry
    for o in ops or []:
        if o not in REGISTRY:
            raise ConfigError(unknown_name("op", o, REGISTRY, "list-ops"))
    for p in properties or []:
        if p not in PROPERTIES:
            raise ConfigError(unknown_name("property", p, PROPERTIES, "list-properties"))
    try:
        deviations = deviation_file.load(pathlib.Path(expect)) if expect is not None else []
    except (OSError, ValueError) as e:
        raise ConfigError(f"--expect: {e}") from None
    base = load_baseline(baseline)
    if isinstance(engine, str):
        check_engine_name(engine)
    if profile not in PROFILES:
        raise ConfigError(unknown_name("profile", profile, PROFILES, "run --help"))
    if timeout <= 0:
        raise ConfigError(f"--timeout {timeout:g}: expected a positive number of seconds")
    if shapes is not None and (not isinstance(shapes, int) or shapes < 0):
        raise ConfigError(f"--shapes {shapes}: expected a number of shapes per op and rank (0: unbounded)")
    if budget is not None and not budget > 0:
        raise ConfigError(f"--budget {budget}: expected a positive number of minutes")
    shard = parse_shard(shard) if isinstance(shard, str) else shard
    in_process_object = not isinstance(engine, str)  # an adapter object (or a wrapper of one)
    n = worker_count(workers if workers is not None or not in_process_object else 1, 10**9)
    if report is not None:
        check_report_dir(report)
    isolated = False if in_process_object and not isolate else wants_isolation(str(engine), isolate)
    if in_process_object and (isolated or n > 1):
        raise ConfigError("an Adapter object runs in process: pass its engine name to use workers or isolation")
    note = (f", {n} worker(s)" if n > 1 or isolated else "") + (", isolated" if isolated else "")
    note += f", shard {shard[0]}/{shard[1]}" if shard else ""
    return _Options(isolated=isolated, workers=n, note=note, shard=shard,
                    timeout=timeout, deviations=deviations, baseline=base)


def load_baseline(baseline: Any) -> RunResults | None:
    """A baseline run: a results.json path (read, ConfigError when unreadable) or a RunResults as is."""
    if baseline is None or isinstance(baseline, RunResults):
        return baseline
    try:
        return reports.load_run(baseline)
    except reports.ReportInputError as e:
        raise ConfigError(f"--baseline: {e}") from None


def _write(writer: Callable[[RunResults, pathlib.Path], Any], rr: RunResults, out: pathlib.Path) -> None:
    try:
        writer(rr, out)
    except OSError as e:
        raise ConfigError(f"cannot write the report to {out}: {e.strerror or e}") from None


def _replay_corpus(name: str, adapter: Adapter | None, cells: list[Cell], say: Log) -> list[Any]:
    """Replay the project's corpus entries that belong to this run's cells (one summary line)."""
    if not project_corpus.PROJECT_CORPUS.is_dir():
        return []
    t0 = time.perf_counter()
    if adapter is None:  # an isolated run never loads the engine in this process: replay in a child
        outcomes = project_corpus.replay_for_run_isolated(name, cells, [project_corpus.PROJECT_CORPUS])
    else:
        outcomes = project_corpus.replay_for_run(adapter, cells, [project_corpus.PROJECT_CORPUS])
    if outcomes:
        say(project_corpus.summary(outcomes, time.perf_counter() - t0))
        for o in outcomes:
            if o.verdict == "still-failing":
                say("  " + project_corpus.describe(o).splitlines()[0])
    return outcomes


def _execute(name: str, runner: Adapter | WorkerPool, profile: str, ops: Sequence[str] | None,
             properties: Sequence[str] | None, seed: int, cells: list[tuple[int, Cell]], progress: Progress | None,
             on_result: Callable[[RunResults], None], argv: Sequence[str], ready: Callable[[str], None],
             limits: Limits | None = None) -> RunResults:
    """Run ``cells`` (plan index, cell) in process (``runner`` an Adapter) or in a pool's worker processes.

    ``on_result`` gets the RunResults after every finished cell (plan order), so the caller holds
    everything finished so far when a KeyboardInterrupt arrives.
    """
    holder: list[RunResults] = []
    done: list[int] = []  # plan indices of rr.results, in order
    limits = limits or Limits()

    def finished(index: int, r: Result) -> None:
        at = bisect.bisect(done, index)  # in plan order as they come: not a sort of all of them per cell
        done.insert(at, index)
        rr = holder[0]
        if limits.budget is not None:
            limits.budget.finished((r.property, r.op, r.dtype), r.examples or 0)
            rr.info.budget_minutes, rr.info.budget_cut = limits.budget.minutes, limits.budget.cut
        rr.results.insert(at, r)
        if progress:
            progress(len(done), len(cells), f"{r.property} {r.op} {r.dtype}")
        on_result(rr)

    def started(rr: RunResults) -> None:  # an empty incomplete report exists before the first cell
        rr.info.shapes = limits.shapes
        if limits.budget is not None:
            rr.info.budget_minutes = limits.budget.minutes
        holder.append(rr)
        on_result(rr)

    if isinstance(runner, WorkerPool):
        _in_workers(name, runner, profile, properties, seed, cells, started, finished, argv)
    else:
        _in_process(runner, profile, ops, properties, seed, cells, started, finished, argv, ready, limits)
    rr = holder[0]
    rr.info.finished_at = datetime.now(timezone.utc).isoformat()
    rr.info.complete = True
    return rr


def _in_process(adapter: Adapter, profile: str, ops: Sequence[str] | None, properties: Sequence[str] | None,
                seed: int, cells: list[tuple[int, Cell]], started: Callable[[RunResults], None],
                finished: Callable[[int, Result], None], argv: Sequence[str], ready: Callable[[str], None],
                limits: Limits) -> None:
    ready(adapter.name)
    torch = sys.modules.get("torch")
    rr = RunResults(run_info(adapter.name, adapter.version(), getattr(torch, "__version__", None),
                             profile, seed, properties, argv))
    started(rr)
    rr.info.shapes = shape_bound(adapter, limits.shapes)
    engine_ops = [o for o in (ops or list(REGISTRY)) if adapter.has_op(o)]
    if limits.budget is not None:
        limits.budget.skip(cell_key(c) for _, c in cells if undeclared(adapter, *c))
    for index, cell in draws.grouped(cells, lambda c: draws.group_of(*c)):  # a shared draw's cells together
        prop, op, dtype = cell
        finished(index, run_cell(adapter, prop, op, dtype, PROFILES[profile], seed, engine_ops, ops,
                                 shapes=limits.shapes, scale=limits.scale(cell)))
    if rr.info.torch_version is None and "torch" in sys.modules:
        rr.info.torch_version = getattr(sys.modules["torch"], "__version__", None)


def _pool(engine: str, profile: str, ops: Sequence[str] | None, seed: int, n: int, timeout: float, limits: Limits,
          ready: Callable[[str], None]) -> WorkerPool:
    # Every engine in workers has the per-example deadline, trusted ones too: it counts the
    # worker's CPU time (workers.py), so a loaded machine does not turn slow examples into hangs.
    return WorkerPool(WorkerConfig(engine, profile, seed, list(ops) if ops else None, timeout, limits.shapes), n,
                      on_ready=lambda info: _engine_ready(info, limits, ready),
                      scale_of=lambda c: limits.scale((PROPERTIES[c[0]], c[1], c[2])),
                      group_of=lambda c: draws.group_of(PROPERTIES[c[0]], c[1], c[2]))


def _engine_ready(info: EngineInfo, limits: Limits, ready: Callable[[str], None]) -> None:
    if limits.budget is not None:  # the cells the engine cannot be asked are no work for the budget
        limits.budget.skip(info.not_applicable)
    ready(info.name)


def _in_workers(engine: str, pool: WorkerPool, profile: str, properties: Sequence[str] | None, seed: int,
                cells: list[tuple[int, Cell]], started: Callable[[RunResults], None],
                finished: Callable[[int, Result], None], argv: Sequence[str]) -> None:
    rr = RunResults(run_info(engine, None, None, profile, seed, properties, argv))
    started(rr)

    def first(index: int, r: Result) -> None:
        if pool.info is not None and rr.info.engine == engine:  # a worker has named the engine
            rr.info.engine, rr.info.engine_version = pool.info.name, pool.info.version
            rr.info.torch_version = pool.info.torch_version
            rr.info.shapes = pool.info.shapes
        finished(index, r)

    together = draws.grouped(cells, lambda c: draws.group_of(*c))  # a shared draw's cells in one worker
    pool.run([(i, (prop.name, op, dtype)) for i, (prop, op, dtype) in together], first)


def run_info(name: str, version: str | None, torch_version: str | None, profile: str, seed: int,
             properties: Sequence[str] | None, argv: Sequence[str]) -> RunInfo:
    return RunInfo(engine=name, engine_version=version, harness_version=HARNESS_VERSION,
                   python_version=platform.python_version(), numpy_version=np.__version__,
                   torch_version=torch_version, profile=profile, seed=seed,
                   started_at=datetime.now(timezone.utc).isoformat(), ops_in_registry=len(REGISTRY),
                   properties=list(properties or PROPERTIES), argv=list(argv))


# -- options --------------------------------------------------------------------------------------
def parse_shard(text: str | None) -> tuple[int, int] | None:
    """'2/4' -> (2, 4); ConfigError with the reason otherwise."""
    if text is None:
        return None
    k, sep, n = text.partition("/")
    if not (sep and k.isdigit() and n.isdigit() and 1 <= int(k) <= int(n)):
        raise ConfigError(f"--shard {text!r}: expected K/N with 1 <= K <= N, e.g. 1/4")
    return int(k), int(n)


def shard_cells(cells: Sequence[Any], shard: tuple[int, int] | None) -> list[tuple[int, Any]]:
    """``(plan index, cell)`` pairs of the K-th of N round-robin slices (all cells without a shard)."""
    k, n = shard or (1, 1)
    return [(i, c) for i, c in enumerate(cells) if i % n == k - 1]


def wants_isolation(engine: str, isolate: bool | None) -> bool:
    return isolate if isolate is not None else engine not in TRUSTED


def worker_count(requested: int | None, ncells: int) -> int:
    """``workers``, defaulting to one per core, never more than there are cells."""
    n = requested if requested is not None else (os.cpu_count() or 1)
    if n < 1:
        raise ConfigError(f"--workers {n}: expected a positive number")
    return max(1, min(n, ncells))


def check_report_dir(path: str | os.PathLike[str]) -> None:
    """Create ``path`` if needed and prove a file can be written there (before any engine runs)."""
    p = pathlib.Path(path)
    try:
        p.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=p, prefix=".write-test.")
        os.close(fd)
        os.unlink(tmp)
    except OSError as e:
        raise ConfigError(f"cannot write the report to {p}: {e.strerror or e}") from None


# -- writing as cells finish ----------------------------------------------------------------------
def throttled(write: Callable[[RunResults], None], budget: float = 0.02) -> Callable[[RunResults], None]:
    """``write`` after every cell, except while the last write took more than ``budget`` of the time
    since (results.json of a 3,878-cell run takes ~0.5 s to write: every cell would double the run).
    Small runs are flushed after every cell; the final and the interrupted report are written anyway.
    The writer shares the cores with the workers, so its share comes off the run: 2% (a write every
    ~25 s in a full ``ci`` run, what a SIGKILL could lose), not the 10% it was."""
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
def hypothesis_storage_outside_cwd() -> Iterator[None]:
    """Inside the block, hypothesis keeps its files (a cache of the source constants it draws from)
    in the user's cache directory, not in a ``.hypothesis/`` folder of the caller's working
    directory; worker processes inherit the setting.  A directory the user chose
    (``HYPOTHESIS_STORAGE_DIRECTORY``) is left alone."""
    if os.environ.get(HYPOTHESIS_STORAGE_VAR):
        yield
        return
    cache = pathlib.Path(os.environ.get("XDG_CACHE_HOME") or pathlib.Path.home() / ".cache")
    os.environ[HYPOTHESIS_STORAGE_VAR] = str(cache / "autograd-conformance" / "hypothesis")
    set_hypothesis_home_dir(os.environ[HYPOTHESIS_STORAGE_VAR])
    try:
        yield
    finally:
        os.environ.pop(HYPOTHESIS_STORAGE_VAR, None)
        set_hypothesis_home_dir(None)  # back to hypothesis' own default for the rest of the process


HYPOTHESIS_STORAGE_VAR = "HYPOTHESIS_STORAGE_DIRECTORY"


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
