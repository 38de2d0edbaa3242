"""The test collected by ``pytest --pyargs conformance --engine E`` (see conformance.plugin)."""
from __future__ import annotations

from typing import Any

import pytest


def test_cell(conformance_cell: Any, request: Any) -> None:
    if conformance_cell is None:
        pytest.skip("pass --engine to run the conformance suite")
    from . import runner
    from .plugin import _adapter, run_seed
    from .registry import REGISTRY
    from .results import Status

    prop, op, dtype = conformance_cell
    adapter = _adapter(request.config)
    prof = runner.PROFILES[request.config.getoption("--conformance-profile")]
    seed = run_seed(request.config)  # one seed per session, shared with pytest-xdist workers
    ops = [o for o in REGISTRY if adapter.has_op(o)]
    r = runner.run_cell(adapter, prop, op, dtype, prof, seed, ops)
    if r.status == Status.NOT_APPLICABLE:
        pytest.skip(r.message)
    if r.status.is_problem:
        pytest.fail(f"{r.status.value}: {r.message}\n\n{r.reproducer or r.traceback or ''}", pytrace=False)
