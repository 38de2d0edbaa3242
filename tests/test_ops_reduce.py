"""Reductions: sum, mean, max, min, amax, amin, logsumexp, var, prod over int/tuple/None dims
with keepdim; forward vs numpy, gradients (ties included) and second derivatives vs torch."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

import refengine as re
from ops_helpers import FAST, arrays, check, nonempty_shapes, seeds, shapes


@st.composite
def shape_and_dims(draw, base=shapes, allow_tuple=True, allow_none=True):
    shape = draw(base)
    nd = len(shape)
    options = [st.integers(-max(nd, 1), max(nd, 1) - 1)]
    if allow_tuple and nd:
        options.append(st.lists(st.integers(0, nd - 1), unique=True, max_size=nd).map(tuple))
    if allow_none:
        options.append(st.none())
    return shape, draw(st.one_of(*options)), draw(st.booleans())


def _np_axis(dim, nd):
    if dim is None or nd == 0 or dim == ():
        return None  # torch reads an empty dim list as "all dims"
    return dim if isinstance(dim, int) else tuple(dim)


@pytest.mark.parametrize("name", ["sum", "mean"])
@given(sdk=shape_and_dims(), seed=seeds)
@FAST
def test_sum_mean(name, sdk, seed):
    shape, dim, keepdim = sdk
    (a,) = arrays(seed, shape)
    if name == "mean" and a.size == 0:
        return  # torch gives nan (with a warning) for empty means; covered by no gradient test
    kw = {} if dim is None else {"dim": dim, "keepdim": keepdim}
    nkw = {"keepdims": keepdim} if dim is not None else {}
    nfn = getattr(np, name)
    check(lambda x: getattr(re, name)(x, **kw), lambda x: getattr(torch, name)(x, **kw), [a],
          np_fn=lambda x: nfn(x, axis=_np_axis(dim, x.ndim), **nkw), seed=seed)


@pytest.mark.parametrize("name", ["amax", "amin", "logsumexp"])
@given(sdk=shape_and_dims(base=nonempty_shapes, allow_none=False), seed=seeds)
@FAST
def test_amax_amin_logsumexp(name, sdk, seed):
    shape, dim, keepdim = sdk
    (a,) = arrays(seed, shape)
    a = np.round(a * 2) / 2  # coarse values: ties are common and must share the gradient as torch does
    if name == "logsumexp" and dim == ():
        return  # torch.logsumexp needs at least one dim
    ref = {"amax": np.max, "amin": np.min,
           "logsumexp": lambda x, axis, keepdims: np.log(np.sum(np.exp(x), axis=axis, keepdims=keepdims))}[name]
    check(lambda x: getattr(re, name)(x, dim, keepdim), lambda x: getattr(torch, name)(x, dim, keepdim), [a],
          np_fn=lambda x: ref(x, axis=None if dim == () else _np_axis(dim, x.ndim), keepdims=keepdim), seed=seed)


@pytest.mark.parametrize("name", ["max", "min"])
@given(sdk=shape_and_dims(base=nonempty_shapes, allow_tuple=False), seed=seeds)
@FAST
def test_max_min(name, sdk, seed):
    """Full reduction: ties share the gradient; dim form: (values, indices), gradient to the index."""
    shape, dim, keepdim = sdk
    (a,) = arrays(seed, shape)
    a = np.round(a)
    nfn = getattr(np, name)
    if dim is None:
        check(lambda x: getattr(re, name)(x), lambda x: getattr(torch, name)(x), [a], np_fn=nfn, seed=seed)
        return
    check(lambda x: getattr(re, name)(x, dim, keepdim)[0], lambda x: getattr(torch, name)(x, dim, keepdim)[0],
          [a], np_fn=lambda x: nfn(x, axis=_np_axis(dim, x.ndim), keepdims=keepdim), seed=seed)
    r = getattr(re, name)(re.tensor(a), dim, keepdim)
    t = getattr(torch, name)(torch.tensor(a), dim, keepdim)
    assert r.indices.dtype == np.int64 and r.indices.grad_fn is None
    np.testing.assert_array_equal(r.indices.data, t.indices.numpy())


@given(sdk=shape_and_dims(base=nonempty_shapes), seed=seeds, correction=st.sampled_from([0, 1, 2]))
@FAST
def test_var(sdk, seed, correction):
    shape, dim, keepdim = sdk
    if dim == ():
        dim = None  # torch 2.13's var(dim=()) backward returns +-inf (a torch quirk); refengine reads () as all
    (a,) = arrays(seed, shape)
    dims = range(len(shape)) if dim is None or dim == () else np.atleast_1d(dim)
    n = int(np.prod([shape[d] for d in dims])) if len(shape) else 1
    if n - correction <= 0:
        return  # torch: inf/nan with a warning
    kw = {"dim": dim, "correction": correction, "keepdim": keepdim}
    check(lambda x: re.var(x, **kw), lambda x: torch.var(x, **kw), [a],
          np_fn=lambda x: np.var(x, axis=_np_axis(dim, x.ndim), ddof=correction, keepdims=keepdim), seed=seed)


@given(sdk=shape_and_dims(base=nonempty_shapes, allow_tuple=False), seed=seeds, zeros=st.integers(0, 2))
@FAST
def test_prod_with_zeros(sdk, seed, zeros):
    """The gradient of prod is the product of the others: exact with one or more zeros."""
    shape, dim, keepdim = sdk
    (a,) = arrays(seed, shape)
    flat = a.reshape(-1)
    flat[: min(zeros, flat.size)] = 0.0
    if dim is None:
        check(re.prod, torch.prod, [a], np_fn=np.prod, seed=seed)
    else:
        check(lambda x: re.prod(x, dim, keepdim), lambda x: torch.prod(x, dim, keepdim), [a],
              np_fn=lambda x: np.prod(x, axis=_np_axis(dim, x.ndim), keepdims=keepdim), seed=seed)


@pytest.mark.parametrize("fn", [
    lambda m, x: m.sum(x * x, 1), lambda m, x: m.mean(x * x, (0, 1)), lambda m, x: m.amax(x * x, 1),
    lambda m, x: m.logsumexp(x * x, 0), lambda m, x: m.var(x * x, 1), lambda m, x: m.prod(x, 1),
    lambda m, x: m.max(x * x, 1)[0], lambda m, x: m.max(x * x), lambda m, x: m.amin(x * x, 0),
], ids=["sum", "mean", "amax", "logsumexp", "var", "prod", "max_dim", "max", "amin"])
def test_second_derivatives(fn):
    (a,) = arrays(7, (3, 4))
    check(lambda x: fn(re, x), lambda x: fn(torch, x), [a], second=True)


def test_prod_second_derivative_with_a_zero():
    (a,) = arrays(8, (2, 3))
    a[0, 1] = 0.0
    check(lambda x: re.prod(x, 1), lambda x: torch.prod(x, 1), [a], second=True)


def test_node_names_match_torch():
    x = re.tensor(np.ones((2, 3)), requires_grad=True)
    t = torch.ones((2, 3), requires_grad=True)
    for f in [lambda m, v: m.sum(v), lambda m, v: m.sum(v, 1), lambda m, v: m.mean(v), lambda m, v: m.max(v),
              lambda m, v: m.max(v, 1)[0], lambda m, v: m.amax(v, 1), lambda m, v: m.logsumexp(v, 1),
              lambda m, v: m.var(v), lambda m, v: m.prod(v), lambda m, v: m.prod(v, 0)]:
        assert f(re, x).grad_fn.name() == type(f(torch, t).grad_fn).__name__


def test_invalid_dim_raises_index_error_like_torch():
    with pytest.raises(IndexError, match=r"Dimension out of range \(expected to be in range of \[-2, 1\], but got 2\)"):
        re.sum(re.tensor(np.ones((2, 3))), 2)


def test_max_of_empty_raises():
    with pytest.raises(IndexError, match="non-zero size"):
        re.amax(re.tensor(np.ones((0, 3))), 0)
