"""Reductions over ``dim`` (int, tuple or None) with ``keepdim``."""
from __future__ import annotations

import numpy as np

from refengine.function import ArrayFunction
from refengine.ops.common import is_var, method


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
        out.append(int(d) % max(ndim, 1))
    if len(set(out)) != len(out):
        raise RuntimeError(f"dim {out} appears multiple times in the list of dims")
    return tuple(sorted(out))


def expand_back(g, shape: tuple, dims: tuple, keepdim: bool):
    """Broadcast a reduced gradient back to ``shape`` (array or Variable)."""
    import refengine.ops as ops
    if not keepdim and dims:
        kshape = tuple(1 if i in dims else s for i, s in enumerate(shape))
        g = ops.reshape(g, kshape) if is_var(g) else np.reshape(g, kshape)
    return ops.expand(g, shape) if is_var(g) else np.broadcast_to(g, shape)


class Sum(ArrayFunction):
    node_name = "SumBackward1"

    @staticmethod
    def forward(ctx, a, dim=None, keepdim=False):
        ctx.shape, ctx.dims, ctx.keepdim = a.shape, normalize_dims(dim, a.ndim), keepdim
        return np.sum(a, axis=ctx.dims if a.ndim else None, keepdims=keepdim)

    @staticmethod
    def backward(ctx, g):
        return expand_back(g, ctx.shape, ctx.dims, ctx.keepdim)


class Mean(ArrayFunction):
    node_name = "MeanBackward1"

    @staticmethod
    def forward(ctx, a, dim=None, keepdim=False):
        ctx.shape, ctx.dims, ctx.keepdim = a.shape, normalize_dims(dim, a.ndim), keepdim
        ctx.count = int(np.prod([a.shape[d] for d in ctx.dims])) if a.ndim else 1
        return np.mean(a, axis=ctx.dims if a.ndim else None, keepdims=keepdim)

    @staticmethod
    def backward(ctx, g):
        return expand_back(g / ctx.count, ctx.shape, ctx.dims, ctx.keepdim)


@method()
def sum(input, dim=None, keepdim=False):
    """Sum over ``dim`` (all dims by default)."""
    return Sum.apply(input, dim=dim, keepdim=keepdim)


@method()
def mean(input, dim=None, keepdim=False):
    """Mean over ``dim`` (all dims by default)."""
    return Mean.apply(input, dim=dim, keepdim=keepdim)
