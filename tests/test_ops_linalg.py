"""matmul (1-D, 2-D, batched, broadcast batch dims), mm, bmm: values vs numpy, gradients and
second derivatives vs torch, torch's shape/dtype errors."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

import refengine as re
from ops_helpers import FAST, arrays, check, seeds

sizes = st.integers(0, 4)


@st.composite
def matmul_shapes(draw):
    n, k, m = draw(sizes), draw(sizes), draw(sizes)
    kind = draw(st.sampled_from(["vv", "mv", "vm", "mm", "batched", "broadcast"]))
    if kind == "vv":
        return (k,), (k,)
    if kind == "mv":
        return (n, k), (k,)
    if kind == "vm":
        return (k,), (k, m)
    if kind == "mm":
        return (n, k), (k, m)
    b = draw(st.integers(1, 3))
    if kind == "batched":
        return (b, n, k), (b, k, m)
    return (b, 1, n, k), (draw(st.integers(1, 2)), k, m)


@given(shapes=matmul_shapes(), seed=seeds)
@FAST
def test_matmul(shapes, seed):
    a, b = arrays(seed, *shapes)
    check(re.matmul, torch.matmul, [a, b], np_fn=np.matmul, seed=seed)
    check(lambda x, y: x @ y, lambda x, y: x @ y, [a, b], np_fn=np.matmul, seed=seed)


@given(n=sizes, k=sizes, m=sizes, b=st.integers(0, 3), seed=seeds)
@FAST
def test_mm_bmm(n, k, m, b, seed):
    a, c = arrays(seed, (n, k), (k, m))
    check(re.mm, torch.mm, [a, c], np_fn=np.matmul, seed=seed)
    a, c = arrays(seed, (b, n, k), (b, k, m))
    check(re.bmm, torch.bmm, [a, c], np_fn=np.matmul, seed=seed)


@pytest.mark.parametrize("shapes", [((3,), (3,)), ((2, 3), (3,)), ((3,), (3, 2)), ((2, 3), (3, 4)),
                                    ((2, 1, 2, 3), (3, 3, 2))])
def test_matmul_second_derivative(shapes):
    a, b = arrays(11, *shapes)
    check(lambda x, y: re.matmul(x * x, y * x.sum()), lambda x, y: torch.matmul(x * x, y * x.sum()), [a, b],
          second=True)


def test_mm_bmm_second_derivative():
    a, b = arrays(12, (2, 3, 4), (2, 4, 2))
    check(lambda x, y: re.bmm(x * x, y), lambda x, y: torch.bmm(x * x, y), [a, b], second=True)
    check(lambda x, y: re.mm(x[0] * x[0], y[1]), lambda x, y: torch.mm(x[0] * x[0], y[1]), [a, b], second=True)


def test_node_names_match_torch():
    for sa, sb in [((3,), (3,)), ((2, 3), (3,)), ((2, 3), (3, 2))]:
        x = re.tensor(np.ones(sa), requires_grad=True)
        t = torch.ones(sa, requires_grad=True)
        assert (x @ re.tensor(np.ones(sb))).grad_fn.name() == type((t @ torch.ones(sb)).grad_fn).__name__
    x = re.tensor(np.ones((2, 2, 3)), requires_grad=True)
    assert re.bmm(x, re.tensor(np.ones((2, 3, 1)))).grad_fn.name() == "BmmBackward0"


@pytest.mark.parametrize("call, msg", [
    (lambda m: m.matmul(m.ones(2, 3), m.ones(4, 5)), r"mat1 and mat2 shapes cannot be multiplied \(2x3 and 4x5\)"),
    (lambda m: m.mm(m.ones(2, 3), m.ones(3)), "mat2 must be a matrix"),
    (lambda m: m.mm(m.ones(3), m.ones(3, 2)), "self must be a matrix"),
    (lambda m: m.bmm(m.ones(2, 2, 3), m.ones(3, 3, 2)), r"Expected size for first two dimensions of batch2 tensor "
                                                         r"to be: \[2, 3\] but got: \[3, 3\]"),
    (lambda m: m.bmm(m.ones(2, 3), m.ones(2, 3, 2)), "batch1 must be a 3D tensor"),
    (lambda m: m.matmul(m.ones(2, 3, dtype=m.float32), m.ones(3, 2, dtype=m.float64)),
     "expected m1 and m2 to have the same dtype"),
])
def test_bad_shapes_and_dtypes_raise_like_torch(call, msg):
    with pytest.raises(RuntimeError, match=msg):
        call(re)
    with pytest.raises(RuntimeError, match=msg):
        call(torch)
