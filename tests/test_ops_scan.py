"""Scans: cumsum, cumprod (zeros included), cummax, cummin — forward vs numpy, gradients and
second derivatives vs torch float64, ties and NaNs in the running extrema, dtypes, errors."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

import refengine as re
from ops_helpers import FAST, arrays, check, seeds, shapes


@st.composite
def shape_and_dim(draw, base=shapes):
    shape = draw(base)
    nd = max(len(shape), 1)
    return shape, draw(st.integers(-nd, nd - 1))


def _np_axis(shape, dim):
    return dim if len(shape) else None


@given(sd=shape_and_dim(), seed=seeds)
@FAST
def test_cumsum(sd, seed):
    shape, dim = sd
    (a,) = arrays(seed, shape)
    check(lambda x: re.cumsum(x, dim), lambda x: torch.cumsum(x, dim), [a],
          np_fn=lambda x: np.cumsum(x, axis=_np_axis(shape, dim)).reshape(shape), seed=seed)


@given(sd=shape_and_dim(), seed=seeds, zeros=st.integers(0, 3))
@FAST
def test_cumprod_with_zeros(sd, seed, zeros):
    """Exact gradients with zero, one or several zeros along the dim (torch's cumprod_backward)."""
    shape, dim = sd
    (a,) = arrays(seed, shape)
    rng = np.random.default_rng(seed)
    flat = a.reshape(-1)
    if flat.size:
        flat[rng.integers(0, flat.size, zeros)] = 0.0
    check(lambda x: re.cumprod(x, dim), lambda x: torch.cumprod(x, dim), [a],
          np_fn=lambda x: np.cumprod(x, axis=_np_axis(shape, dim)).reshape(shape), seed=seed)


@pytest.mark.parametrize("name", ["cummax", "cummin"])
@given(sd=shape_and_dim(), seed=seeds, coarse=st.booleans())
@FAST
def test_cummax_cummin(name, sd, seed, coarse):
    """Coarse values make ties common: the later index wins, as torch's."""
    shape, dim = sd
    (a,) = arrays(seed, shape)
    if coarse:
        a = np.round(a)
    ref = np.maximum.accumulate if name == "cummax" else np.minimum.accumulate
    check(lambda x: getattr(re, name)(x, dim).values, lambda x: getattr(torch, name)(x, dim).values, [a],
          np_fn=lambda x: ref(x.reshape(-1) if x.ndim == 0 else x, axis=dim).reshape(shape) if x.size else x,
          seed=seed)
    r, t = getattr(re, name)(re.tensor(a), dim), getattr(torch, name)(torch.tensor(a), dim)
    assert r.indices.dtype == np.int64
    np.testing.assert_array_equal(r.indices.data, t.indices.numpy())


@pytest.mark.parametrize("name", ["cummax", "cummin"])
def test_nan_sticks_at_its_index(name):
    a = np.array([1.0, np.nan, 2.0, np.nan, 0.0])
    r, t = getattr(re, name)(re.tensor(a), 0), getattr(torch, name)(torch.tensor(a), 0)
    np.testing.assert_array_equal(r.values.data, t.values.numpy())
    np.testing.assert_array_equal(r.indices.data, t.indices.numpy())


@pytest.mark.parametrize("fn", [
    lambda m, x: m.cumsum(x * x, 1), lambda m, x: m.cumprod(x, 1), lambda m, x: m.cumprod(x * x, 0),
    lambda m, x: m.cummax(x * x, 1).values, lambda m, x: m.cummin(x * x, 0).values,
], ids=["cumsum", "cumprod", "cumprod_sq", "cummax", "cummin"])
@pytest.mark.parametrize("zero", [False, True])
def test_second_derivatives(fn, zero):
    (a,) = arrays(17, (3, 4))
    if zero:
        a[1, 1] = 0.0
        a[2, 0] = 0.0
    check(lambda x: fn(re, x), lambda x: fn(torch, x), [a], second=True, seed=17)


def test_cumprod_two_zeros_second_derivative():
    a = np.array([[1.5, 0.0, 2.0, 0.0, -1.2], [0.7, 0.8, 0.0, 1.1, 0.9]])
    check(lambda x: re.cumprod(x, 1), lambda x: torch.cumprod(x, 1), [a], second=True)


def test_integer_inputs_accumulate_in_int64_and_dtype_argument():
    i = np.array([[1, 2], [3, 4]], np.int32)
    assert re.cumsum(re.tensor(i), 0).dtype == np.int64 == re.cumprod(re.tensor(i), 1).dtype
    x = re.tensor(np.ones(3, np.float32), requires_grad=True)
    y = re.cumsum(x, 0, dtype=re.float64)
    assert y.dtype == np.float64
    y.sum().backward()
    assert x.grad.dtype == np.float32


def test_float32_in_float32_out():
    x = re.tensor(np.linspace(-1, 1, 6, dtype=np.float32).reshape(2, 3), requires_grad=True)
    for f in (lambda v: re.cumsum(v, 1), lambda v: re.cumprod(v, 1), lambda v: re.cummax(v, 0).values):
        y = f(x)
        (g,) = re.grad(y.sum(), [x])
        assert y.dtype == g.dtype == np.float32


def test_node_names_and_methods_match_torch():
    x = re.tensor(np.ones((2, 3)), requires_grad=True)
    t = torch.ones((2, 3), requires_grad=True)
    for f in [lambda v: v.cumsum(1), lambda v: v.cumprod(0), lambda v: v.cummax(1)[0], lambda v: v.cummin(1)[0]]:
        assert f(x).grad_fn.name() == type(f(t).grad_fn).__name__


@pytest.mark.parametrize("call, err", [
    (lambda m: m.cumsum(m.ones(3), 1), IndexError),
    (lambda m: m.cumprod(m.ones(2, 3), -3), IndexError),
    (lambda m: m.cummax(m.ones(2, 3), 2), IndexError),
])
def test_bad_dims_raise_like_torch(call, err):
    with pytest.raises(err):
        call(re)
    with pytest.raises(err):
        call(torch)
