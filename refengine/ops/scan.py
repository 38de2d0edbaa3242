"""Scans along one dim: cumsum, cumprod, cummax, cummin.

cumsum's backward is the reversed cumsum of the gradient (a ``Cumsum`` with
``reverse=True``, whose own backward is the forward one).  cumprod's is torch's:
``reversed_cumsum(g * out) / x`` when no input is zero, otherwise the exact sum over
prefixes of products of the other elements (O(n^2) along the dim, only then).
cummax/cummin send each output's gradient to the index it took its value from
(ties take the later index, and a NaN sticks, as in torch).  Float scans in the input's
dtype run on the scan kernels (accumulated in double, as torch's are); integer inputs and
an explicit other ``dtype`` on numpy's.
"""
from __future__ import annotations

from collections import namedtuple

import numpy as np

from refengine import kernels as K
from refengine.function import ArrayFunction
from refengine.ops.arith import where
from refengine.ops.common import data_of, is_var, method, shape_of
from refengine.ops.selection import Selected, linear_index
from refengine.ops.reduce import normalize_dims

CumResult = namedtuple("return_types", ["values", "indices"])


def _dim(dim, ndim: int) -> int:
    (d,) = normalize_dims(dim, ndim) or (0,)
    return d


def _scan_dtype(a, dtype):
    """torch: integer and bool inputs accumulate in int64 unless ``dtype`` says otherwise."""
    if dtype is not None:
        return np.dtype(dtype)
    return np.dtype(np.int64) if a.dtype.kind in "biu" else a.dtype


class Cumsum(ArrayFunction):
    node_name = "CumsumBackward0"

    @staticmethod
    def forward(ctx, a, dim=0, reverse=False, dtype=None):
        ctx.dim, ctx.reverse, ctx.in_dtype = dim, reverse, a.dtype
        dt = _scan_dtype(a, dtype)
        if a.ndim == 0:
            return a.astype(dt, copy=True)
        if a.dtype.kind == "f" and dt == a.dtype:
            return K.cumsum(a, dim, reverse)
        if reverse:
            return np.flip(np.cumsum(np.flip(a, dim), axis=dim, dtype=dt), dim).copy()
        return np.cumsum(a, axis=dim, dtype=dt)

    @staticmethod
    def backward(ctx, g):
        r = _cumsum(g, ctx.dim, not ctx.reverse)
        return r if r.dtype == ctx.in_dtype else (r.to(ctx.in_dtype) if is_var(r) else r.astype(ctx.in_dtype))

    @staticmethod
    def jvp(ctx, t):
        return _cumsum(t, ctx.dim, ctx.reverse)  # linear: the op on the tangent


def _cumsum(x, dim, reverse=False):
    if is_var(x):
        return Cumsum.apply(x, dim=dim, reverse=reverse)
    return Cumsum.forward(_Ctx(), x, dim=dim, reverse=reverse)


class _Ctx:
    """A throwaway ctx for calling a forward on arrays."""


def _swap(x, d):
    """Swap dim ``d`` with the last (its own inverse), for an array or a Variable."""
    nd = len(shape_of(x))
    if d == nd - 1:
        return x
    if is_var(x):
        from refengine.ops.shape import transpose
        return transpose(x, d, -1)
    return np.swapaxes(x, d, -1)


def _cumprod_grad_with_zeros(g, x, d):
    """sum_{j >= k} g_j prod_{i <= j, i != k} x_i, exact with zeros: (prod_{i < k} x_i) times
    sum_{j >= k} g_j prod_{k < i <= j} x_i, both from masked copies of x (O(n^2) along ``d``)."""
    from refengine.ops import prod, sum as _sum, unsqueeze
    xm, gm = _swap(x, d), _swap(g, d)
    n = shape_of(xm)[-1]
    i = np.arange(n)
    after_k, before_k, from_k = i[None, :] > i[:, None], i[None, :] < i[:, None], i[None, :] >= i[:, None]
    xe = unsqueeze(xm, -2) if is_var(xm) else np.expand_dims(xm, -2)
    ge = unsqueeze(gm, -2) if is_var(gm) else np.expand_dims(gm, -2)
    runs = _cumprod(where(after_k, xe, 1.0), -1)
    left = prod(where(before_k, xe, 1.0), -1) if is_var(xe) else np.prod(np.where(before_k, xe, 1.0), -1)
    both = where(from_k, runs, 0.0) * ge
    right = _sum(both, -1) if is_var(both) else np.sum(both, -1)
    return _swap(left * right, d)


class Cumprod(ArrayFunction):
    node_name = "CumprodBackward0"

    @staticmethod
    def forward(ctx, a, dim=0, dtype=None):
        ctx.dim = dim
        dt = _scan_dtype(a, dtype)
        if a.ndim == 0:
            r = a.astype(dt, copy=True)
        elif a.dtype.kind == "f" and dt == a.dtype:
            r = K.cumprod(a, dim)
        else:
            r = np.cumprod(a, axis=dim, dtype=dt)
        ctx.save_for_backward(a, r)
        return r

    @staticmethod
    def backward(ctx, g):
        a, r = ctx.saved_tensors
        if len(shape_of(a)) == 0:
            return g * 1
        if not np.any(data_of(a) == 0):
            return _cumsum(g * r, ctx.dim, reverse=True) / a
        d = ctx.dim if ctx.dim >= 0 else ctx.dim + len(shape_of(a))
        return _cumprod_grad_with_zeros(g, a, d)


def _cumprod(x, dim):
    if is_var(x):
        return Cumprod.apply(x, dim=dim % len(x.shape))
    return np.cumprod(x, axis=dim)


class Cummax(Selected):
    node_name = "CummaxBackward0"


class Cummin(Selected):
    node_name = "CumminBackward0"


def _cum_extreme_indices(a, d, better):
    """Running arg-extreme along ``d``: an element takes over when it is NaN, or when the running
    value is not NaN and the element is at least as good (>= / <=: ties go to the later index)."""
    am = np.moveaxis(a, d, 0)
    idx = np.zeros(am.shape, np.int64)
    if am.shape[0] == 0:
        return np.moveaxis(idx, 0, d)
    cur, cur_i = am[0].copy(), np.zeros(am.shape[1:], np.int64)
    for k in range(1, am.shape[0]):
        v = am[k]
        take = np.isnan(v) | (~np.isnan(cur) & better(v, cur))
        cur = np.where(take, v, cur)
        cur_i = np.where(take, k, cur_i)
        idx[k] = cur_i
    return np.moveaxis(idx, 0, d)


def _cum_extreme(input, dim, cls, better):
    a = data_of(input)
    nd = a.ndim
    d = _dim(dim, nd)
    if nd == 0:
        idx = np.zeros((), np.int64)
    else:
        af = a if a.dtype.kind == "f" else a.astype(np.float64)
        idx = _cum_extreme_indices(af, d, better)
    values, indices = cls.apply(input, lin=linear_index(a.shape, idx, d), extra=idx)
    return CumResult(values, indices)


@method()
def cumsum(input, dim, *, dtype=None):
    """Running sum along ``dim``; integers accumulate in int64 (torch)."""
    d = _dim(dim, input.ndim)
    return Cumsum.apply(input, dim=d, dtype=None if dtype is None else np.dtype(dtype))


@method()
def cumprod(input, dim, *, dtype=None):
    """Running product along ``dim``; exact gradients with zeros present."""
    d = _dim(dim, input.ndim)
    return Cumprod.apply(input, dim=d, dtype=None if dtype is None else np.dtype(dtype))


@method()
def cummax(input, dim):
    """(values, indices) of the running maximum; the gradient goes to the indices."""
    return _cum_extreme(input, dim, Cummax, np.greater_equal)


@method()
def cummin(input, dim):
    """(values, indices) of the running minimum; the gradient goes to the indices."""
    return _cum_extreme(input, dim, Cummin, np.less_equal)
