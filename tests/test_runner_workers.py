"""The harness survives engines that crash, hang, lie or raise, and still checks every other op.

One isolated run of tests/broken_engines/faulty.py:Faulty covers a segfault (sin), a hang
(cos), os._exit (log), a wrong shape (exp) and an exception (sigmoid); add must still pass.
"""
from __future__ import annotations

import numpy as np
import pytest

from conformance import run
from conformance.checks.oracles import compare
from conformance.spec.tolerances import Tol
from conformance.runner.results import Result, RunResults, Status
from conformance.runner.session import run_info
from conformance.runner.workers import WorkerConfig, WorkerPool

FAULTY = "broken_engines.faulty:Faulty"


OPS = ["sin", "cos", "exp", "sigmoid", "log", "add"]


@pytest.fixture(scope="module")
def faulty_run() -> RunResults:
    """One pool run shared by the tests below: float64 ``forward`` cells only, since each crash or
    hang costs a worker restart (the CLI path through execute() is covered by the other tests).
    The 3 s timeout leaves a healthy example room on a loaded machine."""
    results: dict[int, Result] = {}
    order: list[int] = []
    pool = WorkerPool(WorkerConfig(FAULTY, "quick", 0, OPS, timeout=3.0), 2)
    pool.run([(i, ("forward", op, "float64")) for i, op in enumerate(OPS)],
             lambda i, r: (results.__setitem__(i, r), order.append(i)))
    rr = RunResults(run_info("faulty", None, None, "quick", 0, ["forward"], []),
                    [results[i] for i in sorted(results)])
    rr.flushed = order  # type: ignore[attr-defined]
    return rr


def _cells(rr: RunResults, op: str) -> list:
    cells = [r for r in rr.results if r.op == op]
    assert [r.dtype for r in cells] == ["float64"], cells
    return cells


def test_segfault_is_an_error_with_signal_and_reproducer(faulty_run: RunResults) -> None:
    """A SIGSEGV in the engine must not kill the run; the program that did it is kept."""
    for r in _cells(faulty_run, "sin"):
        assert r.status == Status.ERROR
        assert "SIGSEGV" in r.message and "worker was restarted" in r.message
        assert r.reproducer and "'sin'" in r.reproducer and "--ops sin" in r.reproducer
        assert "A.apply('sin', [v0]" in r.reproducer  # the program itself, as the worker wrote it down


def test_hang_times_out_as_an_error(faulty_run: RunResults) -> None:
    """An endless loop is killed after --timeout and reported with its program."""
    for r in _cells(faulty_run, "cos"):
        assert r.status == Status.ERROR and "timed out (one example hung: 3s of CPU, or 3s blocked" in r.message
        assert r.reproducer and "'cos'" in r.reproducer and "A.apply('cos', [v0]" in r.reproducer


def test_os_exit_is_an_error_with_exit_code(faulty_run: RunResults) -> None:
    for r in _cells(faulty_run, "log"):
        assert r.status == Status.ERROR and "exited with code 3" in r.message and r.reproducer


def test_wrong_shape_is_a_failure_of_the_engines_op(faulty_run: RunResults) -> None:
    """An op returning a well-formed tensor of the wrong shape is the engine's failure of that op
    (not an adapter error): the message names the op, the shape it returned and the expected one."""
    for r in _cells(faulty_run, "exp"):
        assert r.status == Status.FAILED and r.fault == "engine" and r.culprit == {"op": "exp"}
        assert "exp returned shape" in r.message and "expected" in r.message and r.reproducer


def test_exception_is_an_error_with_traceback(faulty_run: RunResults) -> None:
    for r in _cells(faulty_run, "sigmoid"):
        assert r.status == Status.ERROR and r.message == "ValueError: sigmoid kernel missing"
        assert "sigmoid kernel missing" in (r.traceback or "") and r.reproducer


def test_other_ops_are_still_checked_and_every_cell_flushed(faulty_run: RunResults) -> None:
    """The healthy op passes despite the faults around it; on_result saw every cell finish."""
    assert [r.status for r in _cells(faulty_run, "add")] == [Status.PASSED], _cells(faulty_run, "add")
    assert _cells(faulty_run, "add")[0].examples > 0
    assert sorted(faulty_run.flushed) == list(range(len(OPS)))  # type: ignore[attr-defined]
    assert {r.engine for r in faulty_run.results} == {"faulty"}


def test_nan_gradient_is_a_failure_showing_the_values() -> None:
    """NaN gradients are wrong answers (failed, not error) and the message shows them."""
    from broken_engines.faulty import NanGradient

    rr = run(NanGradient(), profile="quick", ops=["sqrt"], properties=["grad_vs_torch"], seed=0, corpus=False)
    r = rr.results[0]
    assert r.status == Status.FAILED and "observed nan at" in r.message and r.reproducer


def test_compare_lists_nonfinite_values() -> None:
    c = compare({"v0": np.array([1.0, 2.0])}, {"v0": np.array([np.nan, np.inf])}, Tol(1e-6, 1e-6), "numerical")
    assert not c.ok
    assert c.message == ("v0[0]: got nan, expected 1 (abs err inf > tol 3e-06, oracle numerical; 2 of 2 elements "
                         "out of tolerance) (observed nan at (0,), inf at (1,) where finite values were expected)")


def _one_cell(engine: str, op: str, timeout: float) -> Result:
    out: dict[int, Result] = {}
    pool = WorkerPool(WorkerConfig(engine, "quick", 0, [op], timeout=timeout), 1)
    pool.scale_of = lambda cell: 0.0  # the fewest examples a cell runs (2)
    pool.run([(0, ("forward", op, "float64"))], out.__setitem__)
    return out[0]


def test_a_spinning_hang_is_killed_after_timeout_seconds_of_cpu() -> None:
    r = _one_cell("broken_engines.faulty:Spins", "tan", 2.0)
    assert r.status == Status.ERROR and "timed out (one example hung: 2s of CPU" in r.message, r.message
    assert r.duration_s < 2.0 * 8, r.duration_s  # killed on CPU time, well before the wall-clock cap


def test_an_example_slowed_by_load_is_not_a_hang() -> None:
    """4.5 s of wall time at a third of a core, with a 3 s timeout: still working, so it passes
    (a wall-clock deadline killed it: correct cells of trusted engines read as hangs under load)."""
    r = _one_cell("broken_engines.faulty:Descheduled", "tan", 3.0)
    assert r.status == Status.PASSED, (r.status, r.message)


def test_a_crashing_op_costs_one_restart_and_its_other_cells_read_blocked_by() -> None:
    """sin segfaults: its first cell is the error, its other cells are not run (each would cost a restart)
    and read blocked-by sin, and an op-independent cell no longer draws it (issue 14 item 5)."""
    cells = [("forward", "sin", "float64"), ("grad_vs_torch", "sin", "float64"), ("vjp", "sin", "float32"),
             ("forward", "add", "float64"), ("detach", "*", "float64")]
    out: dict[int, Result] = {}
    pool = WorkerPool(WorkerConfig(FAULTY, "quick", 0, ["sin", "add"], timeout=3.0), 1)
    pool.run(list(enumerate(cells)), out.__setitem__)
    first, *others = (out[i] for i in range(3))
    assert first.status == Status.ERROR and "SIGSEGV" in first.message
    assert all(r.status == Status.BLOCKED_BY and r.blocked_by == "sin" for r in others), [r.message for r in others]
    assert out[3].status == Status.PASSED and out[4].status == Status.PASSED, (out[3].message, out[4].message)
    assert pool.spawned == 2  # the first worker and one restart
    rr = RunResults(run_info("faulty", None, None, "quick", 0, None, []), [out[i] for i in range(len(cells))])
    (f,) = rr.findings()
    assert f.culprit == {"op": "sin"} and len(f.cells) == 3


LATE_ENGINE = '''
import os
from conformance.engines.refengine import RefEngineAdapter
from conformance.errors import ConfigError


class Late(RefEngineAdapter):
    """Starts only where the run's environment and working directory reached the worker."""

    def __init__(self):
        if os.environ.get("LATE_ENGINE_TOKEN") != "set-after-the-forkserver-started":
            raise ConfigError("the worker did not inherit the run's environment")
        if not os.path.exists("late_marker.txt"):
            raise ConfigError("the worker did not start in the run's working directory")
        super().__init__()
'''


def test_a_worker_inherits_the_environment_path_and_cwd_of_the_run_at_its_start(tmp_path, monkeypatch) -> None:
    """Workers are forked from a forkserver started earlier in this process:
    what a spawned worker would inherit at start -- environment, sys.path, working directory -- must
    still be the run's at the moment the worker starts."""
    import multiprocessing.forkserver

    from conformance.runner import workers
    from conformance.runner.processes import start_context
    if start_context(workers.__name__).get_start_method() == "forkserver":
        multiprocessing.forkserver.ensure_running()  # started before the state below changes
    (tmp_path / "late_engine_mod.py").write_text(LATE_ENGINE)
    (tmp_path / "late_marker.txt").write_text("")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("LATE_ENGINE_TOKEN", "set-after-the-forkserver-started")
    monkeypatch.chdir(tmp_path)
    out: dict[int, Result] = {}
    pool = WorkerPool(WorkerConfig("late_engine_mod:Late", "quick", 0, ["add"]), 1)
    pool.run([(0, ("forward", "add", "float64"))], out.__setitem__)
    assert out[0].status == Status.PASSED, out[0].message


def test_an_op_independent_cell_that_drew_a_crashing_op_reads_blocked_by_it() -> None:
    """detach's cell (any op; sin is the only op selected, so it draws sin) crashes in sin: the cell is blocked-by
    sin, not an error of the rule, and sin's own cell is not run again (the crash cost one restart)."""
    cells = [("detach", "*", "float64"), ("forward", "sin", "float64")]
    out: dict[int, Result] = {}
    pool = WorkerPool(WorkerConfig(FAULTY, "quick", 0, ["sin"], timeout=3.0), 1)
    pool.run(list(enumerate(cells)), out.__setitem__)
    rule, own = out[0], out[1]
    assert rule.status == Status.BLOCKED_BY and rule.blocked_by == "sin" and "SIGSEGV" in rule.message, rule.message
    assert rule.culprit == {"op": "sin"} and rule.reproducer and "'sin'" in rule.reproducer
    assert own.status == Status.BLOCKED_BY and "crashed a worker in cell detach" in own.message, own.message
    assert pool.spawned == 2  # the first worker and one restart
    rr = RunResults(run_info("faulty", None, None, "quick", 0, None, []), [out[i] for i in range(len(cells))])
    (f,) = rr.findings()
    assert f.culprit == {"op": "sin"} and not rr.conformant


def _report_frozen(conn) -> None:
    import gc
    import sys
    conn.send((gc.get_freeze_count(), "torch" in sys.modules))


def test_a_worker_starts_with_the_forkservers_imports_frozen() -> None:
    """The forkserver freezes what it preloaded (torch, the harness), so that no worker's garbage collections
    walk those objects again; a worker forked from it starts with them frozen."""
    from conformance.runner import workers
    from conformance.runner.processes import start_context
    ctx = start_context(workers.__name__)
    if ctx.get_start_method() != "forkserver":
        pytest.skip("no forkserver on this platform: workers are spawned")
    parent, child = ctx.Pipe()
    proc = ctx.Process(target=_report_frozen, args=(child,))
    proc.start()
    frozen, has_torch = parent.recv()
    proc.join(10)
    assert has_torch  # preloaded
    assert frozen > 50_000, frozen  # torch alone is ~150,000 objects


def _report_modules(conn, names) -> None:
    import sys
    conn.send({n: n in sys.modules for n in names})


LAZY = ["torch.fx.experimental.symbolic_shapes", "torch._dynamo"]


@pytest.mark.parametrize("engine, preloaded", [("torch", LAZY), ("refengine", LAZY[:1])])
def test_a_worker_starts_with_the_lazy_imports_of_its_engine_and_the_oracle_done(engine, preloaded) -> None:
    """What torch imports on first use in every worker -- symbolic_shapes (and sympy) on the oracle's first
    backward, torch._dynamo on the torch engine's first forward-mode op -- the forkserver imports once, before
    it forks: a worker does not pay it (0.4-1 s each).  In a fresh process: the forkserver is one per process,
    with the modules of the first pool that started it."""
    import ast
    import subprocess
    import sys
    from pathlib import Path

    from conformance.runner.processes import start_context
    if start_context("conformance.runner.workers").get_start_method() != "forkserver":
        pytest.skip("no forkserver on this platform: workers are spawned")
    code = ("from conformance.engines import worker_preloads\n"
            "from conformance.runner.processes import start_context\n"
            "from test_runner_workers import _report_modules\n"
            f"ctx = start_context('conformance.runner.workers', worker_preloads({engine!r}))\n"
            "parent, child = ctx.Pipe()\n"
            f"proc = ctx.Process(target=_report_modules, args=(child, {LAZY!r}))\n"
            "proc.start()\n"
            "print(parent.recv())\n"
            "proc.join(30)\n")
    out = subprocess.run([sys.executable, "-c", code], cwd=Path(__file__).parent, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert ast.literal_eval(out.stdout.strip()) == {n: n in preloaded for n in LAZY}
