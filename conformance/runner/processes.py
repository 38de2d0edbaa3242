"""How a worker process starts: forked from a forkserver that has imported torch and the harness once.

A worker, and each restart after a crash, then costs a fork instead of a fresh interpreter importing
torch (2-3 s of CPU each).  A spawned process takes its parent's environment, ``sys.path`` and
working directory at its start; a forked one has the forkserver's, taken when the forkserver started,
so what the run has at the worker's start is sent with it (:class:`Inherited`).  BLAS and OpenMP
thread counts are capped per worker when several share the cores (:func:`thread_limits`).
"""
from __future__ import annotations

import importlib.util
import multiprocessing
import os
import sys
from concurrent.futures import Executor, ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Iterator, Sequence

#: torch and what torch imports lazily in every worker: the oracle's first backward imports symbolic_shapes
#: (and sympy, ~0.4 s).  Imported before the fork, each is imported once instead of once per worker.
TORCH_MODULES = ("torch", "torch.fx.experimental.symbolic_shapes")


def start_context(preload: str, extra: Sequence[str] = ()) -> Any:
    """The forkserver context with torch and module ``preload`` (the worker's own) imported once and their
    objects frozen (runner/forkserver_ready.py), else spawn (never a plain fork: the parent may hold
    torch's thread pools, which a forked child cannot use).  ``extra``: more modules the workers will
    import (an engine's lazy imports, engines.worker_preloads); a missing one is skipped.  The
    forkserver is one per process: the modules of the first context that starts it are the ones it has."""
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    ctx = multiprocessing.get_context("forkserver")
    modules = [preload, *extra, "conformance.runner.forkserver_ready"]  # the last: it freezes what came before
    if importlib.util.find_spec("torch") is not None:
        modules[:0] = TORCH_MODULES
    ctx.set_forkserver_preload(modules)
    return ctx


def warm_up(ctx: Any) -> None:
    """Start ``ctx``'s forkserver now, so its imports (torch: 1-2 s) run while the caller does other
    work, instead of when the first worker is forked.  Nothing for a spawn context."""
    if ctx.get_start_method() == "forkserver":
        from multiprocessing import forkserver
        forkserver.ensure_running()


@contextmanager
def helper_process(ctx: Any) -> Iterator[Executor | None]:
    """An executor of one process started like a worker, for work the run hands off (the report's per-op
    plots); with a forkserver that has run workers, everything is imported and it starts in milliseconds.
    None with a spawn context, where a fresh interpreter would cost about what it saves."""
    if ctx.get_start_method() != "forkserver":
        yield None
        return
    with ProcessPoolExecutor(max_workers=1, mp_context=ctx) as executor:
        yield executor


@dataclass(frozen=True)
class Inherited:
    """What a spawned process takes from its parent at start, sent explicitly to a forked worker."""

    environ: dict[str, str]
    sys_path: list[str]
    cwd: str

    @staticmethod
    def now() -> Inherited:
        return Inherited(dict(os.environ), list(sys.path), os.getcwd())

    def apply(self) -> None:
        os.environ.clear()
        os.environ.update(self.environ)
        sys.path[:] = self.sys_path
        os.chdir(self.cwd)
        threads = self.environ.get("OMP_NUM_THREADS")
        torch = sys.modules.get("torch")
        if torch is not None and threads and threads.isdigit():  # torch read it when the forkserver imported it
            torch.set_num_threads(int(threads))


@contextmanager
def thread_limits(threads: int | None) -> Iterator[None]:
    """Environment for a spawned worker: BLAS/OpenMP/torch threads capped at ``threads`` (None: as is).

    N workers each running cores-many spinning OpenMP threads made cells 3x slower than in process;
    variables the user set are left alone."""
    if threads is None:
        yield
        return
    saved = {k: os.environ.get(k) for k in _THREAD_VARS}
    for k in _THREAD_VARS:
        os.environ.setdefault(k, str(threads))
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)


_THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def proc_stat(pid: int | None) -> list[int] | None:
    """/proc/PID/stat from field 3 on (state as 0), as ints -- [1] ppid, [3] session, [11] utime, [12] stime,
    [13] cutime, [14] cstime, in clock ticks; None when unreadable (no /proc, or the process is gone)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()  # after "pid (comm)"
        return [0] + [int(x) for x in fields[1:15]]
    except (OSError, ValueError, IndexError):
        return None
