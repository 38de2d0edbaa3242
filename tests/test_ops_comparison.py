"""refengine's comparisons (eq, ne, lt, le, gt, ge): torch's bool values on broadcast float and integer
operands, a result that never requires grad, and a mask that drives where and masked_fill with
gradients reaching only the selected input (vs torch float64)."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

import refengine as re
from ops_helpers import FAST, pair_shapes, seeds

NAMES = ("eq", "ne", "lt", "le", "gt", "ge")


def _operands(seed: int, shapes, ints: bool):
    """Values from a few simple numbers, so ties (eq True, lt False) are common."""
    rng = np.random.default_rng(seed)
    a, b = (rng.choice([-1.0, 0.0, 0.5, 1.0], s) for s in shapes)
    return (np.round(a).astype(np.int64), b) if ints else (a, b)


@pytest.mark.parametrize("name", NAMES)
@given(shapes=pair_shapes, seed=seeds, ints=st.booleans())
@FAST
def test_comparison_values_dtype_and_no_grad_match_torch(name, shapes, seed, ints):
    a, b = _operands(seed, shapes.input_shapes, ints)
    ra = re.tensor(a, requires_grad=not ints)
    ta = torch.tensor(a, requires_grad=not ints)
    for got, want in ((getattr(re, name)(ra, re.tensor(b)), getattr(torch, name)(ta, torch.tensor(b))),
                      (getattr(ra, name)(re.tensor(b)), getattr(ta, name)(torch.tensor(b))),
                      (getattr(re, name)(ra, 0.5), getattr(torch, name)(ta, 0.5))):
        assert got.dtype == re.bool and want.dtype == torch.bool, (got.dtype, want.dtype)
        assert np.array_equal(got.data, want.numpy()), f"{name}{shapes.input_shapes}: {got.data} vs {want.numpy()}"
        assert not got.requires_grad and got.grad_fn is None and got.is_leaf, f"{name}: its result requires grad"


@given(shapes=pair_shapes, seed=seeds)
@FAST
def test_a_comparison_mask_selects_gradients_in_where_and_masked_fill(shapes, seed):
    a, b = _operands(seed, shapes.input_shapes, False)
    shape = np.broadcast_shapes(a.shape, b.shape)
    x, y, cot = np.random.default_rng(seed + 1).uniform(-2, 2, (3,) + shape)
    grads = {}
    for M in (re, torch):
        ta = M.tensor(a, requires_grad=True)
        tx, ty, tz = (M.tensor(v, requires_grad=True) for v in (x, y, x))
        m = M.lt(ta, M.tensor(b))
        M.where(m, tx, ty).backward(M.tensor(cot))
        M.masked_fill(tz, m, 2.0).backward(M.tensor(cot))
        grads[M.__name__] = [None if t.grad is None else np.asarray(t.grad.detach().numpy()) for t in (ta, tx, ty, tz)]
    (ga, *rest), (ta_grad, *trest) = grads["refengine"], grads["torch"]
    assert ga is None and ta_grad is None, "no gradient reaches a comparison's operand"
    for got, want in zip(rest, trest):
        assert np.array_equal(got, want), (got, want)
