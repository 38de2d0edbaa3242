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




def _draws(op: str, n: int = 50) -> list[tuple[tuple[int, ...], dict]]:
    """The first ``n`` samples of ``op`` (as one ci cell sees them): (input shape, params)."""
    from hypothesis import strategies as st

    seen: list[tuple[tuple[int, ...], dict]] = []

    @seed(0)
    @settings(max_examples=n, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(st.data())
    def draw(data):  # type: ignore[no-untyped-def]
        s = REGISTRY[op].sample(data.draw)
        seen.append((s.shapes[0], s.params))

    draw()
    return seen


def test_index_draws_fewer_indices_ellipsis_anywhere_and_new_axes() -> None:
    """Issue 13: x[1] of a matrix, x[..., 0], x[0, ..., 1], x[None, ...] are drawn, not only one index a dim."""
    forms = set()
    for shp, params in _draws("index"):
        items = params["index"]
        if any(isinstance(i, np.ndarray) and i.dtype == bool for i in items):
            continue  # a mask
        ell = [k for k, i in enumerate(items) if i is Ellipsis]
        real = [i for i in items if i is not None and i is not Ellipsis]
        if not ell and len(real) < len(shp):
            forms.add("fewer indices than dims")
        if ell and any(i is not None for i in items[ell[0] + 1:]):
            forms.add("an index after the Ellipsis")
        if any(i is None for i in items):
            forms.add("None")
    assert forms == {"fewer indices than dims", "an index after the Ellipsis", "None"}, forms


@pytest.mark.parametrize("op", ["sum", "mean", "max", "min", "amax", "amin", "logsumexp", "var", "prod"])
def test_reductions_draw_negative_dims_and_tuples(op: str) -> None:
    """Issue 13: negative dims other than -1, and (where torch takes them) tuples with a negative dim."""
    dims = [params["dim"] for _, params in _draws(op)]
    assert any(isinstance(d, int) and d <= -2 for d in dims), dims
    if op in ("sum", "mean", "amax", "amin", "logsumexp", "var"):
        assert any(isinstance(d, tuple) and any(x < 0 for x in d) for d in dims), dims
    if op in ("amax", "amin"):  # torch.amax(x, dim=None) reduces every dim
        assert None in dims, dims
