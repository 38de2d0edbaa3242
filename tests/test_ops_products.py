"""dot, vdot, mv, outer, einsum, trace, diag, diagonal, tril, triu, cross — forward vs numpy,
gradients and second derivatives vs torch float64, batching/broadcasting, node names, errors."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

import refengine as re
from ops_helpers import FAST, arrays, check, seeds

sizes = st.integers(0, 4)


@given(n=sizes, m=sizes, seed=seeds)
@FAST
def test_dot_mv_outer(n, m, seed):
    a, v, w, A = arrays(seed, (n,), (n,), (m,), (m, n))
    check(re.dot, torch.dot, [a, v], np_fn=np.dot, seed=seed)
    check(re.vdot, torch.vdot, [a, v], np_fn=np.vdot, seed=seed)
    check(re.mv, torch.mv, [A, a], np_fn=np.matmul, seed=seed)
    check(re.outer, torch.outer, [a, w], np_fn=np.outer, seed=seed)
    check(lambda x, y: x.ger(y), lambda x, y: x.ger(y), [a, w], np_fn=np.outer, seed=seed)


EINSUMS = [  # equation, operand shapes
    ("ij,jk->ik", [(2, 3), (3, 4)]), ("ij,jk", [(2, 3), (3, 4)]), ("i,i->", [(3,), (3,)]), ("i,j->ij", [(2,), (3,)]),
    ("bij,bjk->bik", [(2, 2, 3), (2, 3, 2)]), ("ii->i", [(3, 3)]), ("ii", [(3, 3)]), ("ij->ji", [(2, 3)]),
    ("ij->", [(2, 3)]), ("ijk->kj", [(2, 3, 4)]), ("...ij,...jk->...ik", [(2, 1, 2, 3), (3, 3, 2)]),
    ("i...->...", [(2, 3, 4)]), ("ij,ij,ij->i", [(2, 3), (2, 3), (2, 3)]), ("iij->ji", [(3, 3, 2)]),
    ("ij,j->i", [(3, 1), (4,)]), ("ab,bc,cd->ad", [(2, 3), (3, 2), (2, 4)]), ("ijk,ik->j", [(2, 3, 4), (2, 4)]),
]


@pytest.mark.parametrize("eq, shapes", EINSUMS, ids=[e for e, _ in EINSUMS])
def test_einsum(eq, shapes):
    ops = arrays(37, *shapes)
    np_eq = eq
    check(lambda *xs: re.einsum(eq, *xs), lambda *xs: torch.einsum(eq, *xs), ops,
          np_fn=None if "ij,j->i" == eq else lambda *xs: np.einsum(np_eq, *xs), second=True, seed=37)
    check(lambda *xs: re.einsum(eq, list(xs)), lambda *xs: torch.einsum(eq, list(xs)), ops, seed=38)


@given(n=st.integers(1, 4), m=st.integers(1, 4), k=st.integers(-3, 3), seed=seeds)
@FAST
def test_trace_diag_diagonal_tril_triu(n, m, k, seed):
    A, v, B = arrays(seed, (n, m), (n,), (2, n, m))
    check(re.trace, torch.trace, [A], np_fn=np.trace, seed=seed)
    check(lambda x: re.diag(x, k), lambda x: torch.diag(x, k), [v], np_fn=lambda x: np.diag(x, k), seed=seed)
    check(lambda x: re.diag(x, k), lambda x: torch.diag(x, k), [A], np_fn=lambda x: np.diag(x, k), seed=seed)
    check(lambda x: re.diagonal(x, k, 1, 2), lambda x: torch.diagonal(x, k, 1, 2), [B],
          np_fn=lambda x: np.diagonal(x, k, 1, 2), seed=seed)
    check(lambda x: re.diagonal(x, k, -1, 0), lambda x: torch.diagonal(x, k, -1, 0), [B],
          np_fn=lambda x: np.diagonal(x, k, -1, 0), seed=seed)
    for name in ("tril", "triu"):
        check(lambda x: getattr(re, name)(x, k), lambda x: getattr(torch, name)(x, k), [B],
              np_fn=lambda x: getattr(np, name)(x, k), seed=seed)


@given(seed=seeds, lead=st.lists(st.integers(1, 3), max_size=2), bcast=st.booleans())
@FAST
def test_cross(seed, lead, bcast):
    sa = tuple(lead) + (3,)
    sb = tuple(1 for _ in lead) + (3,) if bcast else sa
    a, b = arrays(seed, sa, sb)
    check(lambda x, y: re.linalg.cross(x, y), lambda x, y: torch.linalg.cross(x, y), [a, b],
          np_fn=lambda x, y: np.cross(x, y), seed=seed)
    if lead:
        a2, b2 = np.moveaxis(a, -1, 0), np.moveaxis(np.broadcast_to(b, a.shape), -1, 0)
        check(lambda x, y: re.cross(x, y, dim=0), lambda x, y: torch.cross(x, y, dim=0), [a2, b2], seed=seed)


@pytest.mark.parametrize("fn", [
    lambda m, x, y: m.dot(x[0] * x[0], y[0]), lambda m, x, y: m.mv(x * x, y[1]),
    lambda m, x, y: m.outer(x[0] * x[1], y[0]),
    lambda m, x, y: m.trace(x * x) * x, lambda m, x, y: m.diag(x * x, 1), lambda m, x, y: m.diag(x[0] * x[1]),
    lambda m, x, y: m.diagonal(x * x, -1), lambda m, x, y: m.tril(x * x) * y, lambda m, x, y: m.triu(x * x, 1) * y,
    lambda m, x, y: m.linalg.cross(x * x, y),
], ids=["dot", "mv", "outer", "trace", "diag_embed", "diag_vector", "diagonal", "tril", "triu", "cross"])
def test_second_derivatives_and_node_names(fn):
    a, b = arrays(41, (3, 3), (3, 3))
    check(lambda x, y: fn(re, x, y), lambda x, y: fn(torch, x, y), [a, b], second=True, seed=41)
    x, y = re.tensor(a, requires_grad=True), re.tensor(b, requires_grad=True)
    t, u = torch.tensor(a, requires_grad=True), torch.tensor(b, requires_grad=True)
    assert fn(re, x, y).grad_fn.name() == type(fn(torch, t, u).grad_fn).__name__


@pytest.mark.parametrize("call", [
    lambda m: m.dot(m.ones(2, 2), m.ones(2)), lambda m: m.dot(m.ones(3), m.ones(2)),
    lambda m: m.dot(m.ones(2, dtype=m.float32), m.ones(2, dtype=m.float64)), lambda m: m.mv(m.ones(2, 3), m.ones(2)),
    lambda m: m.outer(m.ones(2, 2), m.ones(2)), lambda m: m.trace(m.ones(2, 2, 2)),
    lambda m: m.linalg.cross(m.ones(2), m.ones(2)), lambda m: m.tril(m.ones(3)), lambda m: m.diag(m.ones(2, 2, 2)),
    lambda m: m.einsum("ij,jk", m.ones(2, 3), m.ones(2, 3)), lambda m: m.diagonal(m.ones(2, 2), 0, 1, 1),
    lambda m: m.einsum("ij", m.ones(2, 3, 4)),
])
def test_bad_input_raises_runtime_error_like_torch(call):
    with pytest.raises(RuntimeError):
        call(re)
    with pytest.raises(RuntimeError):
        call(torch)
