"""Forward mode on a functional peer: jax's own ``jax.jvp`` (and forward-over-reverse) through the adapter."""
from __future__ import annotations

import pytest

from conformance import run
from conformance.engines import resolve
from conformance.engines.adapter import FORWARD_AD
from conformance.runner.results import Status

pytest.importorskip("jax")


def test_jax_passes_the_forward_properties() -> None:
    A = resolve("jax")
    assert FORWARD_AD in A.capabilities
    rr = run(A, profile="quick", ops=["sin", "matmul"], properties=["jvp", "jvp_vjp_transpose", "jvp_of_grad"],
             seed=0, corpus=False)
    assert len(rr.results) == 10
    assert all(r.status == Status.PASSED for r in rr.results), [(r.op, r.property, r.dtype, r.message)
                                                                for r in rr.results if r.status != Status.PASSED]
