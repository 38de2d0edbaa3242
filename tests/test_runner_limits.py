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
    b = Budget(1.0, dict.fromkeys(range(10), 10), clock)
    assert [b.scale(k) for k in range(3)] == [1.0, 1.0, 1.0]  # warm-up: full counts
    for k in range(3):  # 3 cells of 10 examples took 30 s: 1 s an example; 70 examples left, 24 s left
        clock.now += 10.0
        b.finished(k, 10)
    s = b.scale(3)
    assert 0.3 < s < 0.4 and b.cut
    assert Budget(100.0, dict.fromkeys(range(3), 10), clock).scale(0) == 1.0


def simulate(b: Budget, clock: Clock, cells: int, nominal: int, cost: Any) -> int:
    """One worker runs ``cells`` cells of ``nominal`` examples under ``b``; ``cost(k, examples)`` is the
    seconds cell k takes.  Returns the examples run."""
    ran = 0
    for k in range(cells):
        examples = max(2, round(b.scale(k) * nominal))
        clock.now += cost(k, examples)
        b.finished(k, examples)
        ran += examples
    return ran


def test_a_budget_is_used_by_an_engine_with_a_cost_per_cell_and_slow_first_cells() -> None:
    """An engine that compiles: each cell costs 0.5 s of its own (drawing, compiling its programs) plus
    0.05 s an example, the first 20 cells 0.3 s an example (cold compiles); 200 cells of 50 examples
    would take 640 s.  In a 5-minute budget the run ends within it, having used most of it (269 s, the
    budget's MARGIN).  The pace of the whole run per example run (before 2026-12-05) used 253 s."""
    clock = Clock()
    b = Budget(5.0, dict.fromkeys(range(200), 50), clock)
    ran = simulate(b, clock, 200, 50, lambda k, n: 0.5 + (0.3 if k < 20 else 0.05) * n)
    assert b.cut and 0.87 * 300 < clock.now <= 300, clock.now
    assert ran > 2 * 200


def test_the_last_cells_are_not_starved_where_examples_are_not_what_costs() -> None:
    """An engine that compiles pays per cell, whatever its examples: 100 cells of 0.5 s, then 70 dearer
    ones of 2 s (a second shared draw), then 30 of 0.3 s (rules drawing their own examples, last in the
    plan), plus 5 ms an example.  In 4 minutes the pace, learnt on the cheap cells, lags behind the dear
    ones, and cutting their examples saves little: the controller cut on and the last 30 cells got 2
    examples of 50 (as jax's at ci in 20 minutes, 2026-12-05).  Now each gets at least half the mean share
    of the cells paced before it, for an overrun of a few seconds."""
    clock = Clock()
    b = Budget(4.0, dict.fromkeys(range(200), 50), clock)
    given: list[int] = []
    for k in range(200):
        given.append(max(2, round(b.scale(k) * 50)))
        clock.now += (0.5 if k < 100 else 2.0 if k < 170 else 0.3) + 0.005 * given[-1]
        b.finished(k, given[-1])
    paced = given[3:170]  # after the warm-up
    assert b.cut and min(given[170:]) >= 0.4 * sum(paced) / len(paced), given[170:]  # 2 before
    assert clock.now <= 4 * 60


def test_cells_the_engine_cannot_be_asked_are_no_work_to_come() -> None:
    """Half the plan not-applicable (as tinygrad's at ci): skipped, the other half fits the budget whole;
    counted as work to come, each cell would get about half its examples."""
    for skip in (True, False):
        clock = Clock()
        b = Budget(5.0, dict.fromkeys(range(200), 50), clock)
        if skip:
            b.skip(range(100, 200))
        ran = simulate(b, clock, 100, 50, lambda k, n: 0.05 * n)  # 250 s for the 100 cells that run
        assert (ran == 100 * 50 and not b.cut) if skip else (ran < 0.6 * 100 * 50 and b.cut)


def test_a_budget_that_fits_cuts_nothing() -> None:
    clock = Clock()
    b = Budget(10.0, dict.fromkeys(range(100), 50), clock)
    assert simulate(b, clock, 100, 50, lambda k, n: 0.5 + 0.05 * n) == 100 * 50 and not b.cut


@pytest.mark.parametrize("kw", [{"shapes": -1}, {"budget": 0}])
def test_bad_limits_are_config_errors(kw: dict) -> None:
    with pytest.raises(ConfigError):
        run("refengine", profile="quick", ops=["sin"], corpus=False, **kw)


@pytest.mark.parametrize("isolate", [False, True])
def test_the_budget_learns_the_cells_the_engine_does_not_declare(isolate: bool, monkeypatch) -> None:
    """In process from the adapter, in workers from the first worker's EngineInfo: the same cells."""
    pytest.importorskip("micrograd", reason="micrograd not installed (pip install 'autograd-conformance[peers]')")
    from conformance.runner.plan import plan, undeclared
    from conformance.runner.profiles import PROFILES
    skipped: set = set()
    monkeypatch.setattr(Budget, "skip", lambda self, cells: skipped.update(cells))
    run("micrograd", profile="quick", ops=["add"], budget=5, corpus=False, isolate=isolate, workers=1)
    adapter = resolve("micrograd")
    want = {(p.name, o, d) for p, o, d in plan(PROFILES["quick"], ["add"]) if undeclared(adapter, p, o, d)}
    assert want and want <= skipped




def test_a_budget_cuts_the_search_of_a_cell_not_the_search_for_its_other_bugs(monkeypatch) -> None:
    """A cell scaled down by --budget looks for its first failure with the scaled count; the rounds after
    it (the bugs found set aside, looking for another) keep half the cell's nominal count, as without a
    budget, while such rounds have taken at most a share of the process's cell time.  An engine whose
    mul widens float32 times a Python float and whose mul backward raises with an int64 operand: its
    promotion cell shows the same distinct failures at a tenth of its examples as at all of them
    (before, the round after the first failure ran 2 examples and found no other; jax at ci in 10
    minutes, cache empty, reported one of xlogy's three backward errors so)."""
    from broken_engines.dtypes import MulIntBackwardRaises, MulScalarUpcasts

    from conformance.checks.properties import PROPERTIES
    from conformance.runner import cells
    from conformance.runner.plan import nominal_examples
    from conformance.runner.profiles import PROFILES

    class TwoMulBugs(MulScalarUpcasts, MulIntBackwardRaises):
        """Both bugs at once."""

    rounds: list[int] = []
    explore = cells._explore

    def counting(*args: Any) -> dict[str, Any]:
        rounds.append(args[8])  # n: the examples this round may run
        return explore(*args)
    monkeypatch.setattr(cells, "_explore", counting)
    prop, ci = PROPERTIES["promotion"], PROFILES["ci"]

    def failures(scale: float, spent: float = 0.0) -> set[str]:
        """The cell's distinct failures, the process having spent ``spent`` of its cell time on follow-ups."""
        monkeypatch.setattr(cells, "_SPENT", {"cells": 100.0, "follow_up": 100.0 * spent})
        rounds.clear()
        r = cells.run_cell(TwoMulBugs(), prop, "mul", "float64", ci, 0, ["mul"], scale=scale)
        assert r.status.is_problem, (r.status, r.message)
        return {r.signature, *(a["signature"] for a in r.also or [])}

    everything = failures(1.0)
    assert len(everything) > 1, everything
    assert failures(0.1) == everything
    nominal = nominal_examples(ci, prop)
    assert rounds[0] == round(nominal * 0.1) and rounds[1:] == [nominal // 2] * (len(rounds) - 1), rounds
    # once such rounds have taken their share of the process's cell time, they are cut like the rest
    failures(0.1, spent=cells.FOLLOW_UP_SHARE + 0.01)
    assert rounds[1:] and rounds[1:] == [max(2, round(nominal * 0.1) // 2)] * (len(rounds) - 1), rounds
