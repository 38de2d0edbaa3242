"""Matrix products: matmul (1-D/N-D with batch broadcasting), mm, bmm."""
from __future__ import annotations

from typing import Any

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from conformance.spec.opspec import Domain, OpSpec, Sample

VALS = Domain(-2.0, 2.0)


def _matmul(draw: Any) -> Sample:
    bs = draw(hnp.mutually_broadcastable_shapes(signature="(n?,k),(k,m?)->(n?,m?)", max_dims=4, max_side=4))
    return Sample(bs.input_shapes)


def _mm(draw: Any) -> Sample:
    n, k, m = (draw(st.integers(1, 4)) for _ in range(3))
    return Sample(((n, k), (k, m)))


def _bmm(draw: Any) -> Sample:
    b, n, k, m = (draw(st.integers(1, 4)) for _ in range(4))
    return Sample(((b, n, k), (b, k, m)))


SPECS = [
    OpSpec(name="matmul", family="linalg", arity=2, template="M.matmul($x0, $x1)", sample=_matmul,
           reference=np.matmul, domains=(VALS, VALS), torch_equivalent="torch.matmul",
           notes="1-D operands and broadcast batch dims included"),
    OpSpec(name="mm", family="linalg", arity=2, template="M.mm($x0, $x1)", sample=_mm, reference=np.matmul,
           domains=(VALS, VALS), torch_equivalent="torch.mm"),
    OpSpec(name="bmm", family="linalg", arity=2, template="M.bmm($x0, $x1)", sample=_bmm, reference=np.matmul,
           domains=(VALS, VALS), torch_equivalent="torch.bmm"),
]
