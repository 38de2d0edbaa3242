"""What a worker is doing now, in shared memory: the cell and example it runs, since when, and that program.

A worker that dies or hangs must leave the parent holding the program it was running, and the parent
must know when that example began (and the worker's CPU time then) to tell a hang from a loaded
machine (runner/workers.py).  A message per example did that, but woke the parent for every example
and pickled it through a pipe: about a tenth of a ``quick`` run's CPU.  Here the worker writes into
memory it shares with the parent, waking nobody; the parent reads it when a deadline passes or the
worker died.

One worker writes, the parent only reads.  Each number is one aligned double, written whole; the
program's length is 0 while its bytes are written and set after, so the parent never pairs a length
with another program's bytes (a worker that dies mid-write leaves no program).
"""
from __future__ import annotations

import os
import pickle
import time
from typing import Any

#: bytes of the pickled program kept (a larger one is not: its crash is reported without a program)
CAPACITY = 1 << 20

_CELL, _EXAMPLES, _SINCE, _CPU, _LENGTH = range(5)


def cpu_seconds() -> float:
    """This process's CPU seconds, its finished children's included: /proc's utime + stime + cutime +
    cstime, which the parent reads for a live worker (runner/workers.py ``_cpu_seconds``)."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


class Progress:
    """One worker's progress: written by the worker (``begin_cell``, ``begin_example``), read by the parent."""

    def __init__(self, ctx: Any) -> None:
        """``ctx``: the multiprocessing context the worker is started from (its shared memory)."""
        self._numbers = ctx.RawArray("d", 5)
        self._numbers[_CELL] = -1.0
        self._program = ctx.RawArray("B", CAPACITY)

    # -- the worker's side ------------------------------------------------------------------------
    def begin_cell(self, index: int) -> None:
        n = self._numbers
        n[_LENGTH], n[_EXAMPLES] = 0.0, 0.0
        n[_CPU], n[_SINCE] = cpu_seconds(), time.monotonic()
        n[_CELL] = float(index)

    def begin_example(self, example: Any) -> None:
        """The cell's next example starts now (``example``: kept when it is a program that pickles)."""
        n = self._numbers
        n[_LENGTH] = 0.0
        try:
            pickled = getattr(example, "pickled", None)  # a Program's: a shared draw's is pickled once
            if pickled is not None:
                blob = pickled()
            elif hasattr(example, "to_script"):
                blob = pickle.dumps(example)
            else:
                blob = b""
        except Exception:  # noqa: BLE001 - an unpicklable example still counts as progress
            blob = b""
        if 0 < len(blob) <= CAPACITY:
            memoryview(self._program).cast("B")[:len(blob)] = blob
            n[_LENGTH] = float(len(blob))
        n[_EXAMPLES] += 1.0
        n[_CPU], n[_SINCE] = cpu_seconds(), time.monotonic()

    # -- the parent's side ------------------------------------------------------------------------
    def read(self) -> tuple[int, int, float, float]:
        """(cell index, examples begun in it, when the latest began, the worker's CPU seconds then)."""
        n = self._numbers
        return int(n[_CELL]), int(n[_EXAMPLES]), n[_SINCE], n[_CPU]

    def program(self) -> Any:
        """The program of the latest example (None: none kept, or the worker died writing it).  Read it once
        the worker is dead or killed: a live one may be writing the next."""
        length = int(self._numbers[_LENGTH])
        if not length:
            return None
        try:
            return pickle.loads(bytes(memoryview(self._program).cast("B")[:length]))
        except Exception:  # noqa: BLE001 - read while a live worker wrote: no program to show
            return None
