"""The stability property: ops declaring OpSpec.stable are checked at large and tiny magnitudes, the references
are finite there, correct engines pass, and a textbook (overflowing) softmax is caught by it alone."""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, seed, settings

from conformance import run
from conformance.checks.properties import PROPERTIES
from conformance.checks.properties.stability import _numerical, _strategy
from conformance.engines import resolve
from conformance.runner.plan import plan
from conformance.runner.profiles import PROFILES
from conformance.runner.results import Status
from conformance.spec.ops import REGISTRY

sys.path.insert(0, str(Path(__file__).resolve().parent))
from broken_engines.engines import NaiveSoftmax  # noqa: E402

STABLE = sorted(name for name, spec in REGISTRY.items() if spec.stable)


def test_declared_ops_and_profiles() -> None:
    assert {"softmax", "log_softmax", "logsumexp", "cross_entropy", "sigmoid", "tanh", "pow"} <= set(STABLE)
    p = PROPERTIES["stability"]
    assert p.profiles == {"quick", "ci", "thorough"} and p.oracles == {"numpy", "numerical"} and not p.uses_torch
    assert {c[1] for c in plan(PROFILES["ci"], properties=["stability"])} == set(STABLE)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("op", STABLE)
def test_regions_are_extreme_and_their_references_finite(op: str, dtype: str) -> None:
    """Every drawn example has a finite reference value and gradient (nothing is rejected), and the regions
    reach the magnitudes they are for (|x| >= 40 somewhere; softmax-like logits near 1e3)."""
    biggest = []

    @seed(0)
    @settings(max_examples=40, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(_strategy([op], dtype))
    def check(p) -> None:  # type: ignore[no-untyped-def]
        with np.errstate(all="ignore"):
            y = p.evaluate()[p.output]
            g = _numerical(p)
        assert np.all(np.isfinite(y)) and all(np.all(np.isfinite(v)) for v in g.values()), p
        biggest.append(max(float(np.max(np.abs(p.nodes[i].value), initial=0.0)) for i in p.leaves))

    check()
    assert max(biggest) >= (900 if op not in ("sigmoid", "tanh", "pow") else 40), biggest


@pytest.mark.parametrize("engine", ["refengine", "torch"])
def test_correct_engines_pass(engine: str) -> None:
    rr = run(resolve(engine), profile="quick", properties=["stability"], seed=0, corpus=False)
    assert rr.results and all(r.status == Status.PASSED for r in rr.results), [
        (r.op, r.dtype, r.message) for r in rr.results if r.status != Status.PASSED]


def test_a_naive_softmax_is_caught_by_stability_only() -> None:
    """exp(x) / sum(exp(x)) passes every gradient check at moderate logits and is NaN at logits of 1e3."""
    rr = run(NaiveSoftmax(), profile="quick", ops=["softmax"], properties=["stability", "grad_vs_torch", "forward"],
             seed=0, corpus=False)
    status = {(r.property, r.dtype): r for r in rr.results}
    for dt in ("float64", "float32"):
        bad = status[("stability", dt)]
        assert bad.status == Status.FAILED and "nan" in bad.message and "import" in bad.reproducer, bad.message
        assert status[("grad_vs_torch", dt)].status == Status.PASSED
        assert status[("forward", dt)].status == Status.PASSED
