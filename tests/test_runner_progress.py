"""runner/progress.py: what a worker runs now, in memory shared with the parent instead of a message per example."""
from __future__ import annotations

import multiprocessing

import numpy as np

from conformance.runner import progress as P
from conformance.spec.programs import Node, Program


def _program(n: int) -> Program:
    return Program([Node(value=np.arange(float(n)), requires_grad=True), Node("sin", (0,))], 1, "float64", None, "sin")


def test_the_latest_example_is_read_back_with_its_count_and_start() -> None:
    pr = P.Progress(multiprocessing.get_context("spawn"))
    assert pr.read()[0] == -1 and pr.program() is None  # nothing begun
    pr.begin_cell(7)
    assert pr.read()[:2] == (7, 0) and pr.program() is None
    pr.begin_example(_program(3))
    pr.begin_example(_program(5))
    cell, examples, since, cpu = pr.read()
    assert (cell, examples) == (7, 2) and since > 0 and cpu >= 0
    assert np.array_equal(pr.program().nodes[0].value, np.arange(5.0))
    pr.begin_cell(8)  # a new cell: no example of it yet
    assert pr.read()[:2] == (8, 0) and pr.program() is None


def test_an_example_that_is_no_program_or_too_large_counts_but_is_not_kept() -> None:
    pr = P.Progress(multiprocessing.get_context("spawn"))
    pr.begin_cell(0)
    pr.begin_example(_program(2))
    pr.begin_example({"not": "a program"})  # e.g. an op-independent rule's own example type
    assert pr.read()[1] == 2 and pr.program() is None
    pr.begin_example(_program(P.CAPACITY // 8 + 1))  # pickles to more than CAPACITY bytes
    assert pr.read()[1] == 3 and pr.program() is None


def test_pristine_copies_share_one_pickle_and_other_programs_pickle_as_they_are_now() -> None:
    """A shared draw's example is run by every property that shares it, each on a pristine copy: pickled once.
    A program copied without that promise, then changed, pickles as it is when the example begins."""
    pr = P.Progress(multiprocessing.get_context("spawn"))
    pr.begin_cell(0)
    drawn = _program(3)
    first, second = drawn.copy(pristine=True), drawn.copy(pristine=True)
    assert first.pickled() is second.pickled()
    pr.begin_example(second)
    assert np.array_equal(pr.program().nodes[0].value, np.arange(3.0))
    changed = drawn.copy()
    changed.nodes[0].value = np.arange(4.0)
    pr.begin_example(changed)
    assert np.array_equal(pr.program().nodes[0].value, np.arange(4.0))


def test_a_worker_writes_what_the_parent_reads() -> None:
    ctx = multiprocessing.get_context("spawn")
    pr = P.Progress(ctx)
    proc = ctx.Process(target=_write, args=(pr,))
    proc.start()
    proc.join(60)
    assert proc.exitcode == 0
    assert pr.read()[:2] == (3, 1) and np.array_equal(pr.program().nodes[0].value, np.arange(4.0))


def _write(pr: P.Progress) -> None:
    pr.begin_cell(3)
    pr.begin_example(_program(4))


def test_the_parent_takes_in_an_example_begun_before_it_marked_the_cell_started() -> None:
    """Under load the parent may take the previous cell's result (and mark this cell's start) after the worker
    began its first example: the example still counts, and its program is the crash's."""
    import time
    from collections import deque

    from conformance.runner.workers import WorkerConfig, WorkerPool, _Worker

    pr = P.Progress(multiprocessing.get_context("spawn"))
    pr.begin_cell(5)
    pr.begin_example(_program(3))
    pool = WorkerPool(WorkerConfig("refengine", "quick", 0, ["sin"], timeout=3.0), 1)
    w = _Worker(proc=None, conn=None, deadline=float("inf"), queue=deque([(5, ("forward", "sin", "float64"))]),
                progress=pr, since=time.monotonic())  # marked after the example began
    pool._refresh(w)
    assert w.examples == 1 and w.since == pr.read()[2] and w.deadline == w.since + 3.0
    other = _Worker(proc=None, conn=None, deadline=float("inf"), queue=deque([(6, ("forward", "sin", "float64"))]),
                    progress=pr)  # another cell than the one written: nothing taken in
    pool._refresh(other)
    assert other.examples == 0 and other.deadline == float("inf")
