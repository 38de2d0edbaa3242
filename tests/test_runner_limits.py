"""--shapes (bounded input shapes for engines that compile) and --budget (examples scaled to fit a time)."""
from __future__ import annotations

import collections
import json
from pathlib import Path
from typing import Any

import pytest

from conformance import ConfigError, run
from conformance.engines import resolve
from conformance.engines.adapter import ALL_CAPABILITIES, COMPILES
from conformance.runner.budget import Budget
from conformance.runner.plan import DEFAULT_SHAPE_POOL, shape_bound
from conformance.spec import shape_pool
from conformance.spec.ops import REGISTRY

FOCUS = ["matmul", "softmax", "max", "conv2d", "cat"]  # no glue op (mul, add, sum, tanh, transpose) among them


def _recording(capabilities: frozenset[str] | None = None) -> tuple[Any, dict[str, dict[int, set]]]:
    """refengine, recording the input shapes of every FOCUS op it applies (by op, then by rank)."""
    adapter = resolve("refengine")
    seen: dict[str, dict[int, set]] = collections.defaultdict(lambda: collections.defaultdict(set))
    apply = adapter.apply

    def recording(op: str, inputs: list, params: dict) -> Any:
        if op in FOCUS:
            for t in inputs:
                shp = tuple(adapter.to_numpy(t).shape)
                seen[op][len(shp)].add(shp)
        return apply(op, inputs, params)
    adapter.apply = recording  # type: ignore[method-assign]
    if capabilities is not None:
        adapter.capabilities = capabilities  # type: ignore[misc]
    return adapter, seen


def test_shapes_2_bounds_distinct_input_shapes_per_op_and_rank() -> None:
    adapter, seen = _recording()
    rr = run(adapter, profile="quick", ops=FOCUS, seed=0, corpus=False, shapes=2)
    assert rr.info.shapes == 2 and not any(r.status.is_problem for r in rr.results)
    assert set(seen) == set(FOCUS)
    for op, by_rank in seen.items():
        for rank, shapes in by_rank.items():
            assert len(shapes) <= 2, (op, rank, sorted(shapes))


def test_unbounded_run_draws_more_shapes_and_compiles_capability_defaults_to_a_pool() -> None:
    adapter, seen = _recording()
    rr = run(adapter, profile="quick", ops=["matmul"], seed=0, corpus=False)
    assert rr.info.shapes is None
    assert max(len(s) for s in seen["matmul"].values()) > DEFAULT_SHAPE_POOL  # the bound is not vacuous
    compiled, seen = _recording(adapter.capabilities | {COMPILES})
    rr = run(compiled, profile="quick", ops=["matmul"], seed=0, corpus=False)
    assert rr.info.shapes == DEFAULT_SHAPE_POOL
    assert max(len(s) for s in seen["matmul"].values()) <= DEFAULT_SHAPE_POOL
    assert COMPILES in ALL_CAPABILITIES
    assert shape_bound(compiled, 0) is None and shape_bound(adapter, 5) == 5


def test_pools_are_seeded_and_keep_param_variety() -> None:
    spec = REGISTRY["sum"]
    a, b = shape_pool.pooled_samples(spec, 2, seed=3), shape_pool.pooled_samples(spec, 2, seed=3)
    assert [(s.shapes, repr(s.params)) for s in a] == [(s.shapes, repr(s.params)) for s in b]
    ranks: dict[int, set] = collections.defaultdict(set)
    for s in a:
        for shp in s.shapes:
            ranks[len(shp)].add(shp)
    assert all(len(v) <= 2 for v in ranks.values())
    assert len({repr(s.params) for s in a}) > 1


def test_budget_scales_examples_and_says_so(tmp_path: Path) -> None:
    # 0.12 s: far less than these cells take (~1 s in one process at 966e49b; 0.02 minutes stopped cutting on a
    # fast hour once the harness got faster)
    rr = run(resolve("refengine"), profile="quick", ops=["sin", "add"], seed=0, corpus=False, budget=0.002,
             report=tmp_path)
    assert rr.info.budget_minutes == 0.002 and rr.info.budget_cut
    full = run(resolve("refengine"), profile="quick", ops=["sin", "add"], seed=0, corpus=False)
    assert sum(r.examples or 0 for r in rr.results) < sum(r.examples or 0 for r in full.results)
    assert not full.info.budget_cut and full.info.budget_minutes is None
    data = json.loads((tmp_path / "results.json").read_text())
    assert data["run"]["budget_cut"] is True
    assert all("examples" in r for r in data["results"])
    assert "budget cut" in (tmp_path / "summary.md").read_text()


class Clock:
    """A test's clock: ``now`` moves only when told."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_budget_estimates_from_first_cells() -> None:
    clock = Clock()
    b = Budget(1.0, [10] * 10, clock)
    assert [b.scale(10) for _ in range(3)] == [1.0, 1.0, 1.0]  # warm-up: full counts
    for _ in range(3):  # 3 cells of 10 examples took 30 s: 1 s an example; 70 examples left, 24 s left
        clock.now += 10.0
        b.finished(10)
    s = b.scale(10)
    assert 0.3 < s < 0.4 and b.cut
    assert Budget(100.0, [10] * 3, clock).scale(10) == 1.0


def test_budget_rate_is_the_later_half_of_the_run() -> None:
    """An engine that compiles pays in its first cells: 10 cells at 2 s an example, then 30 at 0.2 s.
    Over the whole run (260 s for 400 examples) the 600 examples left would need 390 s of the 280 left,
    and the cells would be cut to ~0.7; over its later half (130 s to 260 s) they need ~250 s and run whole."""
    clock = Clock()
    b = Budget(10.0, [10] * 100, clock)
    for per_example in [2.0] * 10 + [0.2] * 30:
        b.scale(10)
        clock.now += 10 * per_example
        b.finished(10)
    assert b.scale(10) == 1.0  # the whole run's rate (0.65 s) would give 280 / (0.65 * 590) = 0.73
    assert 0.35 < b.seconds_per_example(clock.now) < 0.45  # (260 - 120) s / (400 - 60) examples
    clock.now += 400.0  # then slow again: the later half says so
    b.finished(10)
    assert b.scale(10) < 0.1


@pytest.mark.parametrize("kw", [{"shapes": -1}, {"budget": 0}])
def test_bad_limits_are_config_errors(kw: dict) -> None:
    with pytest.raises(ConfigError):
        run("refengine", profile="quick", ops=["sin"], corpus=False, **kw)
