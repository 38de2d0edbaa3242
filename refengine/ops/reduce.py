"""Reductions over ``dim`` (int, tuple or None) with ``keepdim``: sum, mean, max, min,
amax, amin, logsumexp, var (``correction``), prod.

Gradient routing follows torch: ``max(x, dim)`` sends the gradient to the returned
index only; a full ``max(x)``/``min(x)`` and ``amax``/``amin`` split it evenly
among ties.  Masks and counts are constants, so each backward (written with
operators) is differentiable again under create_graph.
"""
from __future__ import annotations

import builtins
from collections import namedtuple

import numpy as np

from refengine import kernels as K
from refengine.function import ArrayFunction
from refengine.ops.common import accumulator, data_of, dual, is_var, method

_exp = dual(np.exp, "exp")

#: torch.return_types.max / min: (values, indices)
MaxMin = namedtuple("return_types", ["values", "indices"])


def normalize_dims(dim, ndim: int) -> tuple:
    """``dim`` as a sorted tuple of non-negative axes, with torch's error for a bad one."""
    if dim is None:
        return tuple(range(ndim))
    dims = (dim,) if isinstance(dim, (int, np.integer)) else tuple(dim)
    out = []
    for d in dims:
        lo, hi = (-1, 0) if ndim == 0 else (-ndim, ndim - 1)
        if not isinstance(d, (int, np.integer)) or not lo <= d <= hi:
            raise IndexError(f"Dimension out of range (expected to be in range of [{lo}, {hi}], but got {d})")
        out.append(int(d) % builtins.max(ndim, 1))
    if len(set(out)) != len(out):
        raise RuntimeError(f"dim {out} appears multiple times in the list of dims")
    return tuple(sorted(out)) if ndim else ()


def expand_back(g, shape: tuple, dims: tuple, keepdim: bool):
    """Broadcast a reduced gradient back to ``shape`` (array or Variable)."""
    import refengine.ops as ops
    if not keepdim and dims:
        kshape = tuple(1 if i in dims else s for i, s in enumerate(shape))
        g = ops.reshape(g, kshape) if is_var(g) else np.reshape(g, kshape)
    return ops.expand(g, shape) if is_var(g) else np.broadcast_to(g, shape)


def _all_if_empty(dim):
    """torch reads an empty dim list of sum/mean as "all dims"."""
    return None if isinstance(dim, (tuple, list)) and len(dim) == 0 else dim


def _axes(a, dims):
    return dims if a.ndim else None


class Sum(ArrayFunction):
    node_name = "SumBackward1"

    @staticmethod
    def forward(ctx, a, dim=None, keepdim=False):
        ctx.shape, ctx.dims, ctx.keepdim = a.shape, normalize_dims(_all_if_empty(dim), a.ndim), keepdim
        acc = accumulator(a)  # float16 sums in float32; integers keep numpy's (int32 and bool sum into int64)
        r = np.sum(a, axis=_axes(a, ctx.dims), keepdims=keepdim, dtype=acc)
        return r if acc is None else r.astype(a.dtype)

    @staticmethod
    def backward(ctx, g):
        return expand_back(g, ctx.shape, ctx.dims, ctx.keepdim)

    @staticmethod
    def jvp(ctx, t):
        return np.sum(t, axis=_axes(t, ctx.dims), keepdims=ctx.keepdim)  # linear: the op on the tangent


class SumAll(Sum):
    node_name = "SumBackward0"


class Mean(ArrayFunction):
    node_name = "MeanBackward1"

    @staticmethod
    def forward(ctx, a, dim=None, keepdim=False):
        ctx.shape, ctx.dims, ctx.keepdim = a.shape, normalize_dims(_all_if_empty(dim), a.ndim), keepdim
        ctx.count = int(np.prod([a.shape[d] for d in ctx.dims])) if a.ndim else 1
        with np.errstate(invalid="ignore", divide="ignore"):
            acc = accumulator(a)
            r = np.mean(a, axis=_axes(a, ctx.dims), keepdims=keepdim, dtype=acc)
            return r if acc is None else r.astype(a.dtype)

    @staticmethod
    def backward(ctx, g):
        return expand_back(g / ctx.count, ctx.shape, ctx.dims, ctx.keepdim)

    @staticmethod
    def jvp(ctx, t):
        return np.sum(t, axis=_axes(t, ctx.dims), keepdims=ctx.keepdim) / ctx.count  # linear


class MeanAll(Mean):
    node_name = "MeanBackward0"


def _nonempty(a, dims, name):
    # only the reduced dims must be non-empty (torch: amax of a (1, 0) tensor over dim 0 is a
    # (0,) tensor); a 0-d input has one element and no dims
    if any(a.shape[d] == 0 for d in dims):
        raise IndexError(f"{name}(): Expected reduction dim to have non-zero size.")


class MaxDim(ArrayFunction):
    """``max(x, dim)``: (values, indices); the gradient goes to the returned (first) index."""

    node_name = "MaxBackward0"
    arg, pick = staticmethod(np.argmax), staticmethod(np.max)

    @classmethod
    def forward(cls, ctx, a, dim=0, keepdim=False):
        (d,) = normalize_dims(dim, a.ndim) or (0,)
        a1 = a.reshape(1) if a.ndim == 0 else a
        _nonempty(a1, (d,), cls.__name__[:3].lower())
        idx = np.expand_dims(cls.arg(a1, axis=d), d)
        vals = np.take_along_axis(a1, idx, d)
        n = a1.shape[d]
        ctx.shape, ctx.dims, ctx.keepdim = a.shape, (d,) if a.ndim else (), keepdim
        ctx.mask = (np.arange(n).reshape((n,) + (1,) * (a1.ndim - d - 1)) == idx).reshape(a.shape)
        if not keepdim or a.ndim == 0:
            vals, idx = vals.reshape(np.delete(a1.shape, d) if a.ndim else ()), \
                idx.reshape(np.delete(a1.shape, d) if a.ndim else ())
        idx = idx.astype(np.int64)
        ctx.mark_non_differentiable(idx)
        return vals, idx

    @staticmethod
    def backward(ctx, g, _gi=None):
        return expand_back(g, ctx.shape, ctx.dims, ctx.keepdim) * ctx.mask.astype(data_of(g).dtype)


class MinDim(MaxDim):
    node_name = "MinBackward0"
    arg, pick = staticmethod(np.argmin), staticmethod(np.min)


class Amax(ArrayFunction):
    """amax/amin and the full max()/min(): the gradient is split evenly among tied extrema."""

    node_name = "AmaxBackward0"
    pick = staticmethod(np.max)
    label = "amax"
    nan_share = False

    @classmethod
    def forward(cls, ctx, a, dim=None, keepdim=False):
        dims = normalize_dims(None if dim == () else dim, a.ndim)
        _nonempty(a, dims, cls.label)
        r = cls.pick(a, axis=_axes(a, dims), keepdims=True)
        mask = a == r
        if cls.nan_share:
            # torch's max()/min() (no dim) share the gradient among the NaNs when the result
            # is NaN; amax/amin leave it NaN (no element equals a NaN result)
            mask |= np.isnan(a) & np.isnan(r)
        ctx.weight = mask / np.sum(mask, axis=_axes(a, dims), keepdims=True)
        ctx.shape, ctx.dims, ctx.keepdim = a.shape, dims, keepdim
        return r if keepdim else r.reshape([s for i, s in enumerate(a.shape) if i not in dims])

    @staticmethod
    def backward(ctx, g):
        return expand_back(g, ctx.shape, ctx.dims, ctx.keepdim) * ctx.weight.astype(data_of(g).dtype)


class Amin(Amax):
    node_name = "AminBackward0"
    pick = staticmethod(np.min)
    label = "amin"


class MaxAll(Amax):
    node_name = "MaxBackward1"
    label = "max"
    nan_share = True


class MinAll(Amin):
    node_name = "MinBackward1"
    label = "min"
    nan_share = True


class Logsumexp(ArrayFunction):
    """Over one dim: the row kernel (max, sum of exp, log in one pass per row; backward
    ``g * exp(x - r)`` fused); over several dims: numpy, max-shifted."""

    node_name = "LogsumexpBackward0"

    @staticmethod
    def forward(ctx, a, dim=None, keepdim=False):
        dims = normalize_dims(dim, a.ndim)
        ctx.shape, ctx.dims, ctx.keepdim = a.shape, dims, keepdim
        ctx.kernel = len(dims) == 1 or a.ndim == 0
        if ctx.kernel:
            r = K.logsumexp_forward(a, dims[0] if dims else 0)
            out = r.reshape(expand_shape(a.shape, dims)) if keepdim and a.ndim else r
            ctx.save_for_backward(a, out)
            return out
        ax = _axes(a, dims)
        m = np.max(a, axis=ax, keepdims=True) if a.size else np.zeros((1,) * a.ndim, a.dtype)
        m = np.where(np.isfinite(m), m, 0)
        with np.errstate(divide="ignore"):
            r = (np.log(np.sum(np.exp(a - m), axis=ax, keepdims=True, dtype=accumulator(a))) + m).astype(a.dtype)
        out = r if keepdim else r.reshape([s for i, s in enumerate(a.shape) if i not in dims])
        ctx.save_for_backward(a, out)
        return out

    @staticmethod
    def backward(ctx, g):
        a, r = ctx.saved_tensors
        if ctx.kernel and not is_var(g) and g.dtype == a.dtype:
            d = ctx.dims[0] if ctx.dims else 0
            reduced = tuple(s for i, s in enumerate(ctx.shape) if i != d)
            return K.logsumexp_backward(g.reshape(reduced), a, r.reshape(reduced), d)
        return expand_back(g, ctx.shape, ctx.dims, ctx.keepdim) * _exp(a - expand_back(r, ctx.shape, ctx.dims, ctx.keepdim))


def expand_shape(shape: tuple, dims: tuple) -> tuple:
    """``shape`` with each reduced dim kept as 1 (the keepdim shape)."""
    return tuple(1 if i in dims else s for i, s in enumerate(shape))


class Var(ArrayFunction):
    """var with ``correction`` (Bessel's by default): d/dx = 2 (x - mean) / (N - correction)."""

    node_name = "VarBackward0"

    @staticmethod
    def forward(ctx, a, dim=None, correction=1, keepdim=False):
        dims = normalize_dims(_all_if_empty(dim), a.ndim)
        n = int(np.prod([a.shape[d] for d in dims])) if a.ndim else 1
        ctx.shape, ctx.dims, ctx.keepdim, ctx.denom = a.shape, dims, keepdim, builtins.max(n - correction, 0)
        ctx.save_for_backward(a)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.asarray(np.var(a, axis=_axes(a, dims), ddof=correction, keepdims=keepdim,
                                     dtype=accumulator(a)), a.dtype)

    @staticmethod
    def backward(ctx, g):
        (a,) = ctx.saved_tensors
        from refengine.ops import mean as _mean
        ax = ctx.dims
        centered = a - (_mean(a, dim=ax, keepdim=True) if is_var(a) else np.mean(a, axis=ax or None, keepdims=True))
        with np.errstate(divide="ignore", invalid="ignore"):
            return expand_back(g, ctx.shape, ctx.dims, ctx.keepdim) * centered * (2.0 / ctx.denom if ctx.denom else np.inf)


def _prod_others(a, d: int):
    """For each element along axis ``d``: the product of the others (exact with zeros)."""
    if not is_var(a):
        n = a.shape[d]
        ones = np.ones_like(np.take(a, [0], axis=d))
        left = np.cumprod(np.concatenate([ones, np.take(a, range(n - 1), axis=d)], d), axis=d)
        rev = np.flip(a, d)
        right = np.flip(np.cumprod(np.concatenate([ones, np.take(rev, range(n - 1), axis=d)], d), axis=d), d)
        return left * right
    from refengine.ops import cat, prod
    n = a.shape[d]
    onehot = np.arange(n).reshape((n,) + (1,) * (a.ndim - d - 1))
    from refengine.ops.arith import where
    return cat([prod(where(onehot == i, 1.0, a), dim=d, keepdim=True) for i in range(n)], d)


class Prod(ArrayFunction):
    node_name = "ProdBackward1"

    @staticmethod
    def forward(ctx, a, dim=None, keepdim=False):
        dims = normalize_dims(dim, a.ndim)
        ctx.shape, ctx.dims, ctx.keepdim = a.shape, dims, keepdim
        r = np.prod(a, axis=_axes(a, dims), keepdims=keepdim)
        ctx.save_for_backward(a, r)
        return r

    @staticmethod
    def backward(ctx, g):
        a, r = ctx.saved_tensors
        ge = expand_back(g, ctx.shape, ctx.dims, ctx.keepdim)
        if len(ctx.shape) == 0:
            return ge                     # prod of one 0-d element is the identity (torch: grad, even at inf)
        if a.size == 0:
            return ge * 0
        if not np.any(data_of(a) == 0):
            return ge * expand_back(r, ctx.shape, ctx.dims, ctx.keepdim) / a
        if len(ctx.dims) == 1:
            return ge * _prod_others(a, ctx.dims[0])
        flat = a.reshape(-1) if not is_var(a) else a.reshape(-1)
        return ge * _prod_others(flat, 0).reshape(ctx.shape)


class ProdAll(Prod):
    node_name = "ProdBackward0"


@method()
def sum(input, dim=None, keepdim=False):
    """Sum over ``dim`` (int or tuple; all dims by default)."""
    return (SumAll if dim is None else Sum).apply(input, dim=dim, keepdim=keepdim)


def _torch_name(dtype: np.dtype) -> str:
    """torch's name of an integer dtype in messages (int64: Long)."""
    return {"int64": "Long", "int32": "Int", "bool": "Bool"}.get(np.dtype(dtype).name, np.dtype(dtype).name)


@method()
def mean(input, dim=None, keepdim=False):
    """Mean over ``dim`` (all dims by default)."""
    if np.dtype(input.dtype).kind not in "fc":  # torch will not guess a float dtype for integers
        raise RuntimeError("mean(): could not infer output dtype. Input dtype must be either a floating point "
                           f"or complex dtype. Got: {_torch_name(input.dtype)}")
    return (MeanAll if dim is None else Mean).apply(input, dim=dim, keepdim=keepdim)


def _maxmin(input, dim, keepdim, other, full, bydim, binary_name):
    if other is not None:
        from refengine.ops import arith
        return getattr(arith, binary_name)(input, other)
    if dim is None:
        return full.apply(input)
    if not isinstance(dim, (int, np.integer)):
        raise TypeError(f"dim must be an int, got {type(dim).__name__}")
    values, indices = bydim.apply(input, dim=dim, keepdim=keepdim)
    return MaxMin(values, indices)


@method()
def max(input, dim=None, keepdim=False, other=None):
    """``max(x)``: the maximum (ties share the gradient); ``max(x, dim)``: (values, indices);
    ``max(x, y)`` with a Variable ``y`` is ``maximum``."""
    if is_var(dim):
        dim, other = None, dim
    return _maxmin(input, dim, keepdim, other, MaxAll, MaxDim, "maximum")


@method()
def min(input, dim=None, keepdim=False, other=None):
    """``min(x)``, ``min(x, dim)`` -> (values, indices), or ``minimum`` for a Variable."""
    if is_var(dim):
        dim, other = None, dim
    return _maxmin(input, dim, keepdim, other, MinAll, MinDim, "minimum")


@method()
def amax(input, dim=(), keepdim=False):
    """Maximum over ``dim`` (all dims for ``()``); ties share the gradient evenly."""
    return Amax.apply(input, dim=dim, keepdim=keepdim)


@method()
def amin(input, dim=(), keepdim=False):
    """Minimum over ``dim`` (all dims for ``()``); ties share the gradient evenly."""
    return Amin.apply(input, dim=dim, keepdim=keepdim)


@method()
def logsumexp(input, dim, keepdim=False):
    """``log(sum(exp(x)))`` over ``dim``, max-shifted so large inputs do not overflow."""
    if np.dtype(input.dtype).kind in "biu":  # torch: integers and bools become the default float dtype
        input = input.float()
    return Logsumexp.apply(input, dim=dim, keepdim=keepdim)


@method()
def var(input, dim=None, *, correction=1, keepdim=False, unbiased=None):
    """Variance over ``dim`` with ``correction`` (1 = Bessel, as torch's default)."""
    if unbiased is not None:
        correction = 1 if unbiased else 0
    if np.dtype(input.dtype).kind not in "fc":
        raise RuntimeError("std and var only support floating point and complex dtypes")
    return Var.apply(input, dim=dim, correction=correction, keepdim=keepdim)


@method()
def prod(input, dim=None, keepdim=False):
    """Product over ``dim`` (one int) or of all elements; exact gradients with zeros present."""
    if dim is not None and not isinstance(dim, (int, np.integer)):
        raise TypeError(f"prod(): dim must be an int, got {type(dim).__name__}")
    return (ProdAll if dim is None else Prod).apply(input, dim=dim, keepdim=keepdim)
