"""Worker processes: run an engine's cells out of process, surviving its crashes and hangs.

Protocol (one ``Pipe`` per worker, pickled tuples):

* parent -> worker: ``(index, property, op, dtype, scale, crashed)`` to run one cell (``scale``: the
  share of its examples, below 1 under a ``--budget``; ``crashed``: ops that killed a worker, which
  op-independent cells no longer draw), ``None`` to stop;
* worker -> parent: ``("ready", EngineInfo)`` once the adapter is built (``("fatal", msg)``
  when it cannot be), and ``("result", index, Result)`` when the cell is done;
* BEFORE each example runs, the worker writes it, with the time and its CPU seconds, into memory
  shared with the parent (runner/progress.py), which reads it only when it needs to.

Because every example is written down before it runs, a worker that dies (segfault, abort,
``os._exit``) or hangs on one example leaves the parent holding the program that did it.  A crash
costs once: the op that crashed (the cell's op, or the focus op of the program an op-independent
cell was running) is remembered, its remaining cells
read ``blocked-by`` it without running, and op-independent cells stop drawing it.
"Hangs" counts the worker's CPU time where the OS shows it (``/proc``): an example is a hang
when it has used ``timeout`` seconds of CPU (a spinning loop), or when ``timeout`` seconds of
wall time passed while it used almost no CPU (blocked: a sleep, a deadlock), or after
``WALL_SLACK`` x ``timeout`` of wall time whatever it did.  A correct example slowed down by
a loaded machine keeps getting CPU, so it is not a hang.  Then the parent kills the worker, records an ``error``
Result with the signal or exit code and that program's reproducer, starts a fresh
worker and goes on.  Results already received are never lost.  Workers ignore SIGINT:
the parent decides when they stop.

How a worker process starts (a fork from a forkserver with torch preloaded) is runner/processes.py.
"""
from __future__ import annotations

import dataclasses
import itertools
import os
import signal
import sys
import threading
import time
from collections import deque
from concurrent.futures import Executor
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from types import SimpleNamespace
from typing import Any, Callable, ContextManager, Hashable, Sequence

from conformance.checks.properties import PROPERTIES
from conformance.engines import resolve, worker_preloads
from conformance.errors import ConfigError
from conformance.runner.cells import run_cell
from conformance.runner.plan import plan, shape_bound, undeclared
from conformance.runner.findings import signature_of
from conformance.runner.processes import (Inherited, helper_process, proc_stat, start_context, thread_limits,
                                          warm_up)
from conformance.runner.progress import Progress
from conformance.runner.profiles import PROFILES
from conformance.runner.reproducer import script
from conformance.runner.results import ANY_OP, Result, Status
from conformance.spec import user_ops
from conformance.spec.ops import REGISTRY

#: seconds a fresh worker may take to import and build the engine
STARTUP_TIMEOUT = 120.0
#: cells sent to a worker ahead of its answers
DEPTH = 2
#: cells looked at for one of a worker's draw group (a group has a handful; runner/draws.py)
LOOKAHEAD = 64
#: an example is a hang after this many times the timeout in wall time, however busy it was
WALL_SLACK = 10.0
#: below this share of one core over the wall time, a late worker is blocked, not descheduled
#: (a runnable process on 2 cores at load 10 still gets ~20%)
IDLE_SHARE = 0.02

Cell = tuple[str, str, str]  # (property, op, dtype)


@dataclass(frozen=True)
class WorkerConfig:
    """What every worker needs to run cells exactly as an in-process run would."""

    engine: str
    profile: str
    seed: int
    ops: list[str] | None  # the user's --ops selection (None: all)
    timeout: float = 10.0
    shapes: int | None = None  # --shapes (None: the engine's default)


@dataclass(frozen=True)
class EngineInfo:
    name: str
    version: str | None
    spec: str | None
    torch_version: str | None
    shapes: int | None = None  # the shape bound in force for this engine (None: unbounded)
    #: the profile's cells (property, op, dtype) that ask for what this engine does not declare (plan.undeclared):
    #: a --budget does not count them as work to come
    not_applicable: frozenset[tuple[str, str, str]] = frozenset()


def _preload_oracle() -> None:
    """Import torch (the float64 oracle) while the generous start-up deadline applies: imported
    lazily by the first example instead, it can take longer than ``--timeout`` on a loaded machine
    and be reported as the engine hanging."""
    try:
        import torch  # noqa: F401
    except ImportError:
        pass


def _worker_main(conn: Connection, cfg: WorkerConfig, progress: Progress, inherited: Inherited | None = None) -> None:
    """Body of a worker process: build the adapter, then run cells until told to stop."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _exit_with_parent()
    try:
        if inherited is not None:
            inherited.apply()
        _preload_oracle()
        user_ops.load_inherited()  # the parent run's --ops-from modules and entry points
        adapter = resolve(cfg.engine)
        engine_ops = [o for o in (cfg.ops or list(REGISTRY)) if adapter.has_op(o)]
        info = EngineInfo(adapter.name, adapter.version(), adapter.spec,
                          getattr(sys.modules.get("torch"), "__version__", None), shape_bound(adapter, cfg.shapes),
                          frozenset((p.name, o, d) for p, o, d in plan(PROFILES[cfg.profile], cfg.ops)
                                    if undeclared(adapter, p, o, d)))
    except Exception as e:  # noqa: BLE001 - reported to the parent as a configuration error
        conn.send(("fatal", str(e) if isinstance(e, ConfigError) else f"{type(e).__name__}: {e}"))
        return
    conn.send(("ready", info))
    while (msg := conn.recv()) is not None:
        index, pname, op, dtype, scale, crashed = msg
        progress.begin_cell(index)
        prop = _announcing(PROPERTIES[pname], progress)
        drawable = [o for o in engine_ops if o not in crashed]
        r = run_cell(adapter, prop, op, dtype, PROFILES[cfg.profile], cfg.seed, drawable, cfg.ops,
                     shapes=cfg.shapes, scale=scale)
        conn.send(("result", index, r))


def _exit_with_parent() -> None:
    """A daemon thread ends this worker when the parent dies (even by SIGKILL, mid-hang)."""
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(1)
    threading.Thread(target=watch, daemon=True, name="conformance-parent-watch").start()


def _announcing(prop: Any, progress: Progress) -> Any:
    """``prop`` whose check first writes the example down for the parent (so a crash keeps its program)."""
    check = prop.check

    def announced(adapter: Any, example: Any) -> Any:
        progress.begin_example(example)
        return check(adapter, example)
    return dataclasses.replace(prop, check=announced)


@dataclass
class _Worker:
    proc: Any
    conn: Connection
    deadline: float
    info: EngineInfo | None = None
    queue: deque = field(default_factory=deque)  # (index, cell) sent, not yet answered; [0] is running
    started: float = 0.0
    progress: Progress | None = None  # what it runs now, written by the worker (runner/progress.py)
    examples: int = 0
    since: float = 0.0  # when the example running now (or the cell, before its first) began
    cpu0: float | None = None  # the worker's CPU seconds then (None: the OS does not say)
    group: Hashable = None  # the draw group (runner/draws.py) of the cell last sent to it


@dataclass
class WorkerPool:
    """``n`` workers running cells of one engine; see the module docstring.

    Each worker is sent up to :data:`DEPTH` cells ahead, so it never waits for this (possibly
    descheduled) process between cells; a dead worker's unstarted cells go back to the queue.
    """

    cfg: WorkerConfig
    n: int
    workers: list[_Worker] = field(default_factory=list)
    info: EngineInfo | None = None
    crashed: dict[str, Result] = field(default_factory=dict)  # op -> the error Result of its crash
    spawned: int = 0  # workers started, restarts included
    on_ready: Callable[[EngineInfo], None] | None = None  # called once, when the first worker is up
    scale_of: Callable[[Cell], float] | None = None  # the share of its examples a cell gets (--budget)
    group_of: Callable[[Cell], Hashable] | None = None  # cells sharing one draw (runner/draws.py)
    _groups: dict[Cell, Hashable] = field(default_factory=dict)  # group_of's answers (see _group)

    def warm_up(self) -> None:
        """Start what the workers fork from (a forkserver importing torch and the harness) in the
        background now, so the caller's work before :meth:`run` (the corpus replay) overlaps it."""
        with self._thread_limits():  # the forkserver's environment is the workers' at import time
            warm_up(self._context())

    def helper(self) -> ContextManager[Executor | None]:
        """One more process like the workers, for the run's work after the cells (runner/processes.py)."""
        return helper_process(self._context())

    def _context(self) -> Any:
        return start_context(__name__, worker_preloads(self.cfg.engine))

    def _thread_limits(self) -> Any:
        return thread_limits(max(1, (os.cpu_count() or 1) // self.n) if self.n > 1 else None)

    def _spawn(self) -> _Worker:
        ctx = self._context()
        parent, child = ctx.Pipe()
        progress = Progress(ctx)
        with self._thread_limits():
            proc = ctx.Process(target=_worker_main, args=(child, self.cfg, progress, Inherited.now()), daemon=True,
                               name="conformance-worker")
            proc.start()
        child.close()
        self.spawned += 1
        return _Worker(proc, parent, time.monotonic() + max(STARTUP_TIMEOUT, self.cfg.timeout), progress=progress)

    def run(self, cells: Sequence[tuple[int, Cell]], on_result: Callable[[int, Result], None]) -> None:
        """Run ``(index, cell)`` pairs; ``on_result(index, result)`` as each finishes (any order)."""
        todo = deque(cells)
        self.workers = [self._spawn() for _ in range(max(1, min(self.n, len(todo))))]
        # results read from the workers, handed to on_result only once the workers have their next cells:
        # the caller's work on a result (writing results.json: 0.1 s) would otherwise leave them idle
        finished: deque[tuple[int, Result]] = deque()
        try:
            while todo or any(w.queue for w in self.workers):
                self._feed(todo, finished)
                while finished:
                    on_result(*finished.popleft())
                for w in self.workers:
                    self._refresh(w)
                now = time.monotonic()
                ready = set(wait([w.conn for w in self.workers] + [w.proc.sentinel for w in self.workers],
                                 timeout=min(1.0, max(0.01, min(w.deadline for w in self.workers) - now))))
                for k, w in enumerate(self.workers):
                    self.workers[k] = self._service(w, lambda *r: finished.append(r), todo, ready)
        finally:
            try:
                while finished:  # the last ones; and an interrupted run keeps every result it read
                    on_result(*finished.popleft())
            finally:
                self.close()

    def _feed(self, todo: deque, finished: deque) -> None:
        """Send each started worker cells until it has :data:`DEPTH`; cells of an op that crashed a worker
        are not sent but finished as blocked."""
        for w in self.workers:
            while w.info is not None and len(w.queue) < DEPTH and todo:
                index, cell = self._take(todo, w)
                if cell[1] in self.crashed:
                    finished.append((index, self._blocked(cell)))
                else:
                    self._assign(w, index, cell)

    def _take(self, todo: deque, w: _Worker) -> tuple[int, Cell]:
        """The next cell for ``w``: one of the draw group it is on, else one of a group no other worker
        is on, else the first.  Shared examples are drawn once per process (runner/draws.py), so a
        group split between workers would be drawn by each."""
        if self.group_of is None:
            return todo.popleft()
        others = {v.group for v in self.workers if v is not w}
        pick = None
        for k, (_, cell) in enumerate(itertools.islice(todo, LOOKAHEAD)):
            group = self._group(cell)
            if group == w.group:
                pick = k
                break
            if pick is None and group not in others:
                pick = k
        item = todo[pick or 0]
        del todo[pick or 0]
        w.group = self._group(item[1])
        return item

    def _group(self, cell: Cell) -> Hashable:
        """``group_of(cell)``, asked once per cell (``_take`` looks at each cell ~20 times)."""
        if cell not in self._groups:
            self._groups[cell] = self.group_of(cell)
        return self._groups[cell]

    def _assign(self, w: _Worker, index: int, cell: Cell) -> None:
        w.queue.append((index, cell))
        if len(w.queue) == 1:
            self._begin(w)
        w.conn.send((index, *cell, self.scale_of(cell) if self.scale_of else 1.0, sorted(self.crashed)))

    def _begin(self, w: _Worker) -> None:
        """The worker starts on ``w.queue[0]`` now (or goes idle)."""
        w.examples, w.started = 0, time.monotonic()
        w.deadline = w.started + self.cfg.timeout if w.queue else float("inf")
        w.since, w.cpu0 = w.started, _cpu_seconds(w.proc.pid)

    def _service(self, w: _Worker, on_result: Callable[[int, Result], None], todo: deque,
                 ready: set[Any]) -> _Worker:
        """Read what ``w`` sent; replace it when it died or timed out.  Returns the worker to keep.

        ``ready``: what the last wait() found ready.  One message is read per wait (a second one makes
        the next wait return at once): polling each pipe, and each process for its exit, costs a
        system call and a selector each, ~15% of this process's time in a run."""
        if w.conn in ready:
            self._read(w, on_result, every=False)
        dead = w.proc.sentinel in ready and not w.proc.is_alive()
        if dead:
            self._read(w, on_result, every=True)  # all it sent before it died
        self._refresh(w)
        late = time.monotonic() > w.deadline and (bool(w.queue) or w.info is None) and self._hung(w)
        if not (dead or late):
            return w
        self._kill(w)
        if w.info is None:
            raise ConfigError(f"engine {self.cfg.engine!r} {_death(w.proc, late, STARTUP_TIMEOUT)} while starting")
        if w.queue:
            lost = self._lost(w, late)
            if lost.culprit:  # no program announced yet: no op to blame
                self.crashed.setdefault(lost.culprit["op"], lost)
            on_result(w.queue[0][0], lost)
            todo.extendleft(reversed(list(w.queue)[1:]))  # sent ahead but never started: run elsewhere
        return self._spawn()

    def _read(self, w: _Worker, on_result: Callable[[int, Result], None], every: bool) -> None:
        """One message (wait() said there is one, or the end of the pipe), or ``every`` one there is."""
        try:
            if every:
                while w.conn.poll():
                    self._handle(w, w.conn.recv(), on_result)
            else:
                self._handle(w, w.conn.recv(), on_result)
        except (EOFError, OSError):
            pass

    def _handle(self, w: _Worker, msg: tuple, on_result: Callable[[int, Result], None]) -> None:
        kind = msg[0]
        if kind == "ready":
            if self.info is None and self.on_ready:
                self.on_ready(msg[1])
            w.info = self.info = msg[1]
            w.deadline = float("inf")
        elif kind == "fatal":
            raise ConfigError(msg[1])
        elif kind == "result":
            on_result(msg[1], msg[2])
            w.queue.popleft()
            self._begin(w)

    def _refresh(self, w: _Worker) -> None:
        """Take in what ``w`` wrote: a new example of the cell it runs moves its deadline.  By the count too,
        not the time alone: a parent slow to take the previous cell's result marks this cell's start after
        the worker began its first example."""
        if not w.queue or w.progress is None:
            return
        cell, examples, since, cpu0 = w.progress.read()
        if cell == w.queue[0][0] and (examples > w.examples or since > w.since):
            w.examples, w.since, w.cpu0 = examples, since, cpu0
            w.deadline = since + self.cfg.timeout

    def _hung(self, w: _Worker) -> bool:
        """Past its wall deadline: is ``w`` hung, or only slowed down by load (then look again in 1 s)?"""
        cpu = _cpu_seconds(w.proc.pid, live_children=True)
        if w.info is None or cpu is None or w.cpu0 is None:
            return True  # starting up, or no CPU figures: the wall clock decides
        used, wall = cpu - w.cpu0, time.monotonic() - w.since
        if used >= self.cfg.timeout or wall >= WALL_SLACK * self.cfg.timeout or used < IDLE_SHARE * wall:
            return True
        w.deadline = time.monotonic() + 1.0
        return False

    def _lost(self, w: _Worker, late: bool) -> Result:
        """The error Result for the cell a worker died (or was killed) in."""
        pname, op, dtype = w.queue[0][1]
        what = _death(w.proc, late, self.cfg.timeout)
        msg = (f"engine {what} during example {w.examples} of this cell; the worker was restarted "
               "and the run went on")
        self._refresh(w)
        program = w.progress.program() if w.progress is not None and w.examples else None
        info = self.info or EngineInfo(self.cfg.engine, None, self.cfg.engine, None)
        repro = script(SimpleNamespace(spec=info.spec, name=info.name), PROPERTIES[pname], op, program,
                       what, self.cfg.seed, self.cfg.ops)
        # the op that did it: the cell's, or (op-independent cell) the focus of the program running
        culprit = op if op != ANY_OP else getattr(program, "focus", None) or ANY_OP
        other = culprit not in (op, ANY_OP)  # an op-independent cell that drew the crashing op
        return Result(engine=info.name, op=op, property=pname, dtype=dtype,
                      status=Status.BLOCKED_BY if other else Status.ERROR, examples=max(0, w.examples - 1),
                      message=msg, reproducer=repro, seed=self.cfg.seed, duration_s=time.monotonic() - w.started,
                      culprit={"op": culprit} if culprit != ANY_OP else None, signature=signature_of(msg),
                      fault="engine", blocked_by=culprit if other else None)

    def _blocked(self, cell: Cell) -> Result:
        """A cell of an op that already crashed a worker: not run again (each crash costs a restart)."""
        pname, op, dtype = cell
        crash = self.crashed[op]
        return Result(engine=crash.engine, op=op, property=pname, dtype=dtype, status=Status.BLOCKED_BY,
                      message=f"not run: {op} crashed a worker in cell {crash.property} {crash.dtype} "
                              f"({crash.message.split(';')[0]})", seed=self.cfg.seed, blocked_by=op,
                      culprit=dict(crash.culprit or {"op": op}), signature=crash.signature, fault="engine")

    @staticmethod
    def _kill(w: _Worker) -> None:
        if w.proc.is_alive():
            w.proc.kill()
        w.proc.join(5)
        w.conn.close()

    def close(self) -> None:
        """Stop every worker (politely when idle, SIGKILL when busy or slow)."""
        for w in self.workers:
            try:
                if w.proc.is_alive() and not w.queue and w.info is not None:
                    w.conn.send(None)
                    w.proc.join(2)
            except (OSError, ValueError):
                pass
            self._kill(w)
        self.workers = []


def _cpu_seconds(pid: int | None, live_children: bool = False) -> float | None:
    """CPU seconds of process ``pid`` from /proc (None where there is none): its threads and its
    finished children, and with ``live_children`` its running ones too (a compiling engine runs
    clang).  Finding those scans every process, so it is done only when a worker is late, not at
    each example's start, when an example has no children yet."""
    own = proc_stat(pid)
    if own is None:
        return None
    total = sum(own[11:15])  # utime, stime, cutime, cstime
    if live_children:
        try:
            for entry in os.scandir("/proc"):
                if entry.name.isdigit():
                    child = proc_stat(int(entry.name))
                    if child is not None and child[1] == pid:  # ppid
                        total += child[11] + child[12]
        except OSError:
            pass
    return total / os.sysconf("SC_CLK_TCK")


def _death(proc: Any, late: bool, timeout: float) -> str:
    """'crashed (killed by signal SIGSEGV)', 'exited with code 3' or 'timed out (...)'."""
    if late:
        return f"timed out (one example hung: {timeout:g}s of CPU, or {timeout:g}s blocked; worker killed)"
    code = proc.exitcode
    if code is not None and code < 0:
        try:
            return f"crashed (killed by signal {signal.Signals(-code).name})"
        except ValueError:
            return f"crashed (killed by signal {-code})"
    return f"exited with code {code}"
