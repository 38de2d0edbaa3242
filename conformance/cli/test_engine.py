"""The test collected by ``pytest --pyargs conformance --engine E`` (see conformance.cli.pytest_plugin)."""
from __future__ import annotations

from typing import Any

import pytest

from conformance.cli.pytest_plugin import engine, run_seed
from conformance.runner.results import ANY_OP, Status
from conformance.runner.session import run


def test_cell(conformance_cell: Any, request: Any) -> None:
    if conformance_cell is None:
        pytest.skip("pass --engine to run the conformance suite")
    prop, op, dtype = conformance_cell
    config = request.config
    # one cell: any-op properties draw over every op of the engine, as in a whole run
    rr = run(engine(config), profile=config.getoption("--conformance-profile"),
             ops=None if op == ANY_OP else [op], properties=[prop], dtypes=[dtype],
             seed=run_seed(config), corpus=False)
    (r,) = [r for r in rr.results if r.op == op]
    if r.status == Status.NOT_APPLICABLE:
        pytest.skip(r.message)
    if r.status.is_problem:
        pytest.fail(f"{r.status.value}: {r.message}\n\n{r.reproducer or r.traceback or ''}", pytrace=False)
