"""Order statistics: sort, argsort, msort, topk, kthvalue, median — forward vs numpy, gradients
(to the selected index) and second derivatives vs torch float64, stable ties, NaN as the
largest value, median()'s even split among ties, and errors."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

import refengine as re
from ops_helpers import FAST, arrays, check, nonempty_shapes, seeds, shapes


@st.composite
def shape_and_dim(draw, base=shapes):
    shape = draw(base)
    nd = max(len(shape), 1)
    return shape, draw(st.integers(-nd, nd - 1))


def _same_indices(r, t):
    assert r.indices.dtype == np.int64
    np.testing.assert_array_equal(r.indices.data, t.indices.numpy())


@given(sd=shape_and_dim(), seed=seeds, descending=st.booleans(), coarse=st.booleans())
@FAST
def test_sort(sd, seed, descending, coarse):
    """Coarse values tie often: torch's CPU sort is stable both ways, so indices agree exactly."""
    shape, dim = sd
    (a,) = arrays(seed, shape)
    if coarse:
        a = np.round(a)
    ref = (lambda x: -np.sort(-x, axis=dim)) if descending else (lambda x: np.sort(x, axis=dim))
    check(lambda x: re.sort(x, dim, descending).values, lambda x: torch.sort(x, dim, descending).values, [a],
          np_fn=ref if len(shape) else None, seed=seed)
    _same_indices(re.sort(re.tensor(a), dim, descending), torch.sort(torch.tensor(a), dim, descending))
    np.testing.assert_array_equal(re.argsort(re.tensor(a), dim, descending).data,
                                  torch.argsort(torch.tensor(a), dim=dim, descending=descending, stable=True).numpy())


@given(sd=shape_and_dim(base=nonempty_shapes), seed=seeds, largest=st.booleans(), data=st.data())
@FAST
def test_topk(sd, seed, largest, data):
    shape, dim = sd
    n = shape[dim] if shape else 1
    k = data.draw(st.integers(0, n))
    (a,) = arrays(seed, shape)
    check(lambda x: re.topk(x, k, dim, largest).values, lambda x: torch.topk(x, k, dim, largest).values, [a],
          seed=seed)
    _same_indices(re.topk(re.tensor(a), k, dim, largest), torch.topk(torch.tensor(a), k, dim, largest))


@given(sd=shape_and_dim(base=nonempty_shapes), seed=seeds, keepdim=st.booleans(), data=st.data())
@FAST
def test_kthvalue(sd, seed, keepdim, data):
    shape, dim = sd
    k = data.draw(st.integers(1, shape[dim] if shape else 1))
    (a,) = arrays(seed, shape)
    ref = None if not shape else (lambda x: np.take(np.sort(x, axis=dim), [k - 1], axis=dim) if keepdim
                                  else np.take(np.sort(x, axis=dim), k - 1, axis=dim))
    check(lambda x: re.kthvalue(x, k, dim, keepdim).values, lambda x: torch.kthvalue(x, k, dim, keepdim).values,
          [a], np_fn=ref, seed=seed)
    _same_indices(re.kthvalue(re.tensor(a), k, dim, keepdim), torch.kthvalue(torch.tensor(a), k, dim, keepdim))


@given(sd=shape_and_dim(base=nonempty_shapes), seed=seeds, keepdim=st.booleans())
@FAST
def test_median_dim(sd, seed, keepdim):
    shape, dim = sd
    (a,) = arrays(seed, shape)
    check(lambda x: re.median(x, dim, keepdim).values, lambda x: torch.median(x, dim, keepdim).values, [a],
          seed=seed)
    _same_indices(re.median(re.tensor(a), dim, keepdim), torch.median(torch.tensor(a), dim, keepdim))


@given(shape=nonempty_shapes, seed=seeds, coarse=st.booleans())
@FAST
def test_median_all_splits_ties_evenly(shape, seed, coarse):
    """median(): the lower median; tied elements share the gradient (torch's evenly_distribute)."""
    (a,) = arrays(seed, shape)
    if coarse:
        a = np.round(a)
    check(re.median, torch.median, [a], np_fn=lambda x: np.sort(x.reshape(-1))[(x.size - 1) // 2], seed=seed)


def test_nan_is_largest_and_median_returns_it():
    a = np.array([[1.0, np.nan, 2.0, 0.5], [np.nan, 3.0, np.nan, -1.0]])
    for f in [lambda m, x: m.sort(x, 1), lambda m, x: m.sort(x, 1, descending=True), lambda m, x: m.topk(x, 2),
              lambda m, x: m.topk(x, 2, largest=False), lambda m, x: m.kthvalue(x[:, :2], 2),
              lambda m, x: m.kthvalue(x, 1),
              lambda m, x: m.median(x, 1)]:
        r, t = f(re, re.tensor(a)), f(torch, torch.tensor(a))
        np.testing.assert_array_equal(r.values.data, t.values.numpy())
        _same_indices(r, t)
    x, tx = re.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)
    r, t = re.median(x), torch.median(tx)
    assert np.isnan(r.item()) and np.isnan(t.item())
    np.testing.assert_array_equal(re.grad(r, [x])[0].data, torch.autograd.grad(t, [tx])[0].numpy())


@pytest.mark.parametrize("fn", [
    lambda m, x: m.sort(x * x, 1)[0], lambda m, x: m.sort(x, 0, descending=True)[0] * x,
    lambda m, x: m.topk(x * x, 2)[0], lambda m, x: m.kthvalue(x * x, 2, 1)[0], lambda m, x: m.median(x * x, 1)[0],
    lambda m, x: m.median(x * x), lambda m, x: m.msort(x * x),
], ids=["sort", "sort_desc", "topk", "kthvalue", "median_dim", "median", "msort"])
def test_second_derivatives(fn):
    (a,) = arrays(19, (3, 4))
    check(lambda x: fn(re, x), lambda x: fn(torch, x), [a], second=True, seed=19)


def test_zero_dim_and_empty():
    for f in [lambda m, x: m.sort(x)[0], lambda m, x: m.topk(x, 1)[0], lambda m, x: m.kthvalue(x, 1)[0],
              lambda m, x: m.median(x, 0)[0]]:
        check(lambda x: f(re, x), lambda x: f(torch, x), [np.array(1.5)])
    check(lambda x: re.sort(x, 0)[0], lambda x: torch.sort(x, 0)[0], [np.ones((0, 3))])
    check(lambda x: re.median(x, 1)[0], lambda x: torch.median(x, 1)[0], [np.ones((0, 3))])
    assert np.isnan(re.median(re.tensor(np.ones(0))).item())


def test_node_names_and_methods_match_torch():
    x = re.tensor([[1.0, 3.0, 2.0]], requires_grad=True)
    t = torch.tensor([[1.0, 3.0, 2.0]], requires_grad=True)
    for f in [lambda v: v.sort()[0], lambda v: v.topk(2)[0], lambda v: v.kthvalue(1)[0], lambda v: v.median(),
              lambda v: v.median(1)[0], lambda v: v.msort()]:
        assert f(x).grad_fn.name() == type(f(t).grad_fn).__name__


@pytest.mark.parametrize("call, err", [
    (lambda m: m.topk(m.ones(3), 4), RuntimeError),
    (lambda m: m.kthvalue(m.ones(3), 0), RuntimeError),
    (lambda m: m.kthvalue(m.ones(3), 4), RuntimeError),
    (lambda m: m.sort(m.ones(3), 1), IndexError),
    (lambda m: m.median(m.ones(2, 0), 1), IndexError),
])
def test_bad_input_errors_match_torch(call, err):
    with pytest.raises(err):
        call(re)
    with pytest.raises(err):
        call(torch)
