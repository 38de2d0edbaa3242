"""The numpy-style op table translates torch's conventions right: on numpy itself, every op it maps
gives the OpSpec's own float64 reference, on samples the OpSpec draws (dims, keepdim, 0-d inputs...).

A peer built on the table (mygrad, HIPS autograd, jax) then fails only for its own reasons."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

from conformance.engines.numpy_ops import composite_log_softmax, numpy_ops
from conformance.spec.ops import REGISTRY

OPS = numpy_ops(np, composite_log_softmax(np))


def _inputs(spec, shapes, rng: np.random.Generator) -> list[np.ndarray]:
    out = []
    for k, shp in enumerate(shapes):
        dom = spec.domains[k] if k < len(spec.domains) else None
        lo, hi = (dom.lo, dom.hi) if dom is not None else (-3.0, 3.0)
        out.append(rng.uniform(lo, hi, size=shp))
    return out


@pytest.mark.parametrize("op", sorted(OPS))
def test_numpy_table_matches_the_opspec_reference(op: str) -> None:
    spec = REGISTRY[op]

    @settings(max_examples=15, database=None, deadline=None, suppress_health_check=list(HealthCheck))
    @seed(0)
    @given(st.data())
    def check(data: st.DataObject) -> None:
        s = spec.sample(data.draw)
        xs = _inputs(spec, s.shapes, np.random.default_rng(len(data.conjecture_data.choices)))
        expected = np.asarray(spec.reference(*[x.copy() for x in xs], **s.params))
        got = np.asarray(OPS[op]([x.copy() for x in xs], s.params))
        assert got.shape == expected.shape, f"{op}{s.shapes} {s.params}: shape {got.shape}, expected {expected.shape}"
        np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-12, equal_nan=True,
                                   err_msg=f"{op}{s.shapes} {s.params}")
    check()
