"""RunResults built in code for the report tests: every status, nasty strings, NaN errors.

Built here rather than by running an engine because reports must be pure functions of
RunResults (and so the tests do not depend on the runner being finished).
"""
from __future__ import annotations

import math

from conformance.runner.results import ANY_OP, Result, RunInfo, RunResults, Status

#: A reproducer with everything HTML/XML/Markdown must escape.
NASTY_REPRO = (
    "import mypkg as e\n"
    "x = e.tensor([1.0, 2.0], requires_grad=True)\n"
    "y = (x < 0) & (x > -1)  # <b>not bold</b> \"quoted\" 'single' `tick` </pre><script>alert(1)</script>\n"
    "assert y.grad is not None, 'a < b & c'\n"
)


def info(engine: str = "toy <engine> & co", complete: bool = True, ops: int = 5) -> RunInfo:
    """RunInfo with every field set (complete=False models an interrupted run)."""
    return RunInfo(
        engine=engine, engine_version="0.3.1", harness_version="0.1.0", python_version="3.11.9",
        numpy_version="2.4.6", torch_version=None, profile="ci", seed=1234,
        started_at="2026-11-27T03:00:00Z", finished_at="2026-11-27T03:01:00Z" if complete else None,
        complete=complete, ops_in_registry=ops, properties=["grad", "vjp-linearity", "no-grad-mode"],
        argv=["conformance", "run", "--engine", "toy"],
    )


def cell(op: str, prop: str, dtype: str, status: Status, engine: str = "toy <engine> & co", **kw) -> Result:
    """A Result with plausible defaults for its status."""
    kw.setdefault("examples", 20)
    kw.setdefault("max_abs_error", 1e-12 if status == Status.PASSED else None)
    kw.setdefault("max_rel_error", 3e-13 if status == Status.PASSED else None)
    kw.setdefault("duration_s", 0.05)
    kw.setdefault("oracles", ["finite-differences"])
    return Result(engine=engine, op=op, property=prop, dtype=dtype, status=status, **kw)


def make_run(engine: str = "toy <engine> & co", complete: bool = True) -> RunResults:
    """A run covering all six statuses, op '*' rules, NaN errors and a nasty reproducer."""
    S = Status
    rs = [
        cell("add", "grad", "float32", S.PASSED, engine, max_rel_error=2e-7, max_abs_error=1e-7),
        cell("add", "grad", "float64", S.PASSED, engine, max_rel_error=0.0, max_abs_error=0.0),
        cell("mul", "grad", "float64", S.FAILED, engine, message="gradient of mul wrong: x<0 & y>1\nsecond line",
             max_abs_error=0.5, max_rel_error=0.25, reproducer=NASTY_REPRO, expected=[[1.0, 2.0]],
             observed=[[1.0, 2.5]], seed=42),
        cell("mul", "grad", "float32", S.EXPECTED_FAILURE, engine, message="known float32 issue",
             expectation_reason="issue #7: <float32> & friends", max_rel_error=1e-3, max_abs_error=1e-3),
        cell("log", "grad", "float64", S.ERROR, engine, message="RuntimeError: boom <in> 'kernel'",
             traceback='Traceback (most recent call last):\n  File "x.py", line 1\nRuntimeError: boom <in> & out',
             reproducer="import mypkg\nmypkg.log(mypkg.tensor([-1.0])) # & <err>\n", seed=7),
        cell("log", "vjp-linearity", "float64", S.BLOCKED_BY, engine, blocked_by="log[float64] grad",
             message="blocked by log[float64] grad"),
        cell("sqrt", "grad", "float64", S.NOT_APPLICABLE, engine, message="engine lacks float64"),
        cell("div", "grad", "float64", S.FAILED, engine, message="NaN gradient", max_abs_error=math.nan,
             max_rel_error=math.inf, reproducer="x = 1 / 0  # <nan>", expected=[1.0], observed=[math.nan], seed=3),
        cell("add", "vjp-linearity", "float64", S.PASSED, engine, max_rel_error=1e-15, max_abs_error=1e-15),
        cell(ANY_OP, "no-grad-mode", "float64", S.PASSED, engine, max_rel_error=None, max_abs_error=None,
             expected="no graph recorded", observed="no graph recorded"),
    ]
    return RunResults(info(engine, complete), rs)
