"""Shared draws (runner/draws.py): per-op properties with one strategy check the same drawn examples."""
from __future__ import annotations

import pytest

from conformance import run
from conformance.checks.properties import PROPERTIES
from conformance.checks.properties import base
from conformance.engines import resolve
from conformance.runner import draws
from conformance.runner.results import Status


def test_properties_of_one_strategy_draw_once_per_op_and_dtype(monkeypatch: pytest.MonkeyPatch) -> None:
    """Three properties drawing programs(op, dtype) build that strategy once, not once per cell."""
    built = []
    real = base.programs

    def counting(*args, **kwargs):
        built.append(args[:2])
        return real(*args, **kwargs)
    monkeypatch.setattr(base, "programs", counting)
    monkeypatch.setattr(draws, "_CACHE", type(draws._CACHE)())
    rr = run(resolve("refengine"), profile="quick", ops=["sin"], properties=["forward", "grad_vs_torch", "jvp"],
             dtypes=["float64"], seed=0, corpus=False)
    assert [r.status for r in rr.results] == [Status.PASSED] * 3
    assert built == [("sin", "float64")]
    assert all(r.examples == draws_needed for r, draws_needed in zip(rr.results, (6, 6, 4)))


def test_who_shares_is_read_off_the_strategies() -> None:
    """The default strategy and nonscalar_programs are shared; a property with a strategy of its own draws alone."""
    assert draws.key_of(PROPERTIES["forward"]) == draws.key_of(PROPERTIES["higher_order"]) == "programs"
    assert draws.key_of(PROPERTIES["vjp"]) is draws.key_of(PROPERTIES["zero_cotangent"]) is base.nonscalar_programs
    assert draws.sharing(PROPERTIES["stability"], "ci") == [PROPERTIES["stability"]]  # its own strategy
    assert draws.group_of(PROPERTIES["stability"], "exp", "float64") != draws.group_of(PROPERTIES["forward"], "exp",
                                                                                      "float64")
    # op-independent rules share among themselves (programs over every op), not with per-op cells
    assert draws.key_of(PROPERTIES["leaf_rule"]) == draws.key_of(PROPERTIES["hooks"]) == "programs"
    assert PROPERTIES["forward"] not in draws.sharing(PROPERTIES["leaf_rule"], "ci")
    assert draws.group_of(PROPERTIES["leaf_rule"], "*", "float64") != draws.group_of(PROPERTIES["forward"], "*",
                                                                                      "float64")


def test_a_failure_only_a_shared_example_shows_is_not_dropped(monkeypatch: pytest.MonkeyPatch) -> None:
    """An engine wrong on one shared example's exact input: the cell's own exploration (another seed)
    never draws it, so the cell is explored again with that example first -- and fails."""
    import itertools

    import numpy as np
    import torch
    from broken_engines.engines import _Broken

    from conformance.runner.profiles import PROFILES, cell_seed
    from conformance.spec.ops import REGISTRY

    prop = PROPERTIES["forward"]
    pool = draws.examples(prop, ["sin"], "float64", 6, cell_seed(0, "draws", "sin", "float64"), "quick",
                          frozenset(REGISTRY))
    # values that reach sin as they are: a leaf that is sin's own input (not one scaled or transposed first)
    values = [float(v) for ex in itertools.islice(pool, 6) for n in ex.nodes if n.op == "sin"
              for j in n.inputs if ex.nodes[j].op is None for v in np.ravel(ex.nodes[j].value)]
    magic = next(v for v in values if abs(v) > 0.01 and v not in (0.5, 1.0, 2.0, -1.0, -2.0))

    class SinWrongAtOneInput(_Broken):
        """sin wrong when its input holds one exact float (a bug a drawn example hits by luck)."""

        def apply(self, op, inputs, params):
            out = super().apply(op, inputs, params)
            if op == "sin" and bool(torch.any(inputs[0].detach() == magic)):
                return out + 1.0
            return out

    calls = []
    real = draws.check
    monkeypatch.setattr(draws, "check", lambda *a, **k: calls.append(real(*a, **k)) or calls[-1])
    rr = run(SinWrongAtOneInput(), profile="quick", ops=["sin"], properties=["forward"], dtypes=["float64"],
             seed=0, corpus=False)
    assert calls and calls[0][0] is None and calls[0][1] is not None  # the shared examples showed it
    (r,) = rr.results
    assert r.status == Status.FAILED and "forward" in r.message, (r.status, r.message)
    assert PROFILES["quick"].max_examples == 6


def test_a_cell_whose_every_drawn_example_the_adapter_rejects_is_not_applicable_without_exploring(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """An engine without forward mode for an op rejects every jvp example (torch: cholesky). The shared
    draws' rejections settle the cell: exploring it drew ~460 more examples for the adapter to reject
    (about a second a cell, 6 s of torch's quick run)."""
    from hypothesis import reject

    from conformance.engines.refengine import RefEngineAdapter
    from conformance.runner import cells

    class NoForwardMode(RefEngineAdapter):
        def jvp(self, fn, primals, tangents):
            reject()

    monkeypatch.setattr(cells, "_explore", lambda *a, **k: pytest.fail("explored a cell the draws settled"))
    rr = run(NoForwardMode(), profile="quick", ops=["sin"], properties=["jvp", "forward"], dtypes=["float64"],
             seed=0, corpus=False)
    jvp, forward = rr.results
    assert jvp.status == Status.NOT_APPLICABLE and "adapter rejected every example drawn" in jvp.message, (
        jvp.status, jvp.message)
    assert forward.status == Status.PASSED


def test_an_adapter_that_rejects_only_most_examples_still_gets_its_cell_explored() -> None:
    """Rejections settle a cell only when no example of ``SETTLED_BY`` was expressible: an adapter that
    rejects a quick cell's whole pool (15 examples) but not the 21st gets its cell checked, not not-applicable."""
    from hypothesis import reject

    from conformance.engines.refengine import RefEngineAdapter

    class FirstTwentyRejected(RefEngineAdapter):
        calls = 0

        def jvp(self, fn, primals, tangents):
            type(self).calls += 1
            if type(self).calls <= 20:
                reject()
            return super().jvp(fn, primals, tangents)

    assert 20 < draws.SETTLED_BY
    rr = run(FirstTwentyRejected(), profile="quick", ops=["sin"], properties=["jvp"], dtypes=["float64"], seed=0,
             corpus=False)
    (r,) = rr.results
    assert r.status == Status.PASSED and r.examples, (r.status, r.message)
