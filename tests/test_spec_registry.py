"""Registry invariants: every op is callable on torch with its template, agrees with its numpy
reference, names a torch equivalent, and every refengine op has a spec."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, seed, settings

from conformance.engines import resolve
from conformance.spec.ops import REGISTRY
from conformance.spec.opspec import Domain
from conformance.spec.programs import programs

REQUIRED = {"add", "sub", "mul", "div", "neg", "pow", "exp", "log", "sqrt", "sin", "cos", "tanh", "sigmoid", "relu",
            "abs", "clamp", "maximum", "minimum", "where", "sum", "mean", "max", "min", "amax", "amin", "logsumexp",
            "var", "prod", "matmul", "mm", "bmm", "transpose", "permute", "reshape", "view", "expand", "squeeze",
            "unsqueeze", "flatten", "cat", "stack", "split", "index", "softmax", "log_softmax", "cross_entropy",
            "nll_loss", "mse_loss", "conv2d", "max_pool2d", "avg_pool2d"}


def test_registry_covers_the_required_ops() -> None:
    assert REQUIRED <= set(REGISTRY)
    for spec in REGISTRY.values():
        assert spec.torch_equivalent, spec.name


@pytest.mark.parametrize("op", sorted(REGISTRY))
def test_op_reference_matches_torch(op: str) -> None:
    A = resolve("torch")

    @seed(11)
    @settings(max_examples=15, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(programs(op, "float64"))
    def check(p):  # type: ignore[no-untyped-def]
        np.testing.assert_allclose(A.to_numpy(p.run(A)[p.output]), p.evaluate()[p.output], rtol=1e-12, atol=1e-12)

    check()


def test_domain_keeps_margin() -> None:
    d = Domain(-3, 3, avoid=(0.0,), margin=0.3)
    x = d.sample(np.random.default_rng(0), (10000,))
    assert np.all(np.abs(x) >= 0.3) and d.contains(x)


