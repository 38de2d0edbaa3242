"""Selection along a dim by an index tensor: the pieces shared by gather/take_along_dim and by
the ops whose values are selected input elements (sort, topk, kthvalue, median(dim), cummax).

Every such op maps each output element to one flat input position (``linear_index``)
and is then a flat gather, whose backward is a flat scatter-add of the gradient into
zeros (repeats accumulate) — the ``take`` / ``scatter_add`` pair of ``ops.index``, each
the other's adjoint, so second derivatives work.  This is torch's "gradient goes to
the selected index" rule.
"""
from __future__ import annotations

import numpy as np

from refengine.function import ArrayFunction
from refengine.ops.index import scatter_add, take


def strides_of(shape) -> list:
    """Element strides of a C-ordered array of ``shape``."""
    out, acc = [], 1
    for s in reversed(tuple(shape)):
        out.append(acc)
        acc *= int(s)
    return out[::-1]


def linear_index(shape, idx, dim: int) -> np.ndarray:
    """Flat positions in an array of ``shape`` of ``x[..., idx[...], ...]`` along ``dim``: for every
    element of ``idx`` (same ndim as ``shape``; other dims no larger), its own coordinates with
    the one along ``dim`` replaced by the index value."""
    idx = np.asarray(idx, np.int64)
    nd = len(shape)
    if nd == 0:
        return np.zeros(idx.shape, np.int64)
    st = strides_of(shape)
    lin = idx * st[dim]
    for a in range(nd):
        if a != dim:
            r = np.arange(idx.shape[a], dtype=np.int64).reshape([-1 if i == a else 1 for i in range(nd)])
            lin = lin + r * st[a]
    return lin


class Selected(ArrayFunction):
    """Values ``x.flat[lin]`` for precomputed flat positions; the gradient is scattered back.

    Subclasses name the node; ``extra`` outputs (indices) ride along non-differentiable."""

    node_name = "GatherBackward0"

    @staticmethod
    def forward(ctx, x, lin=None, extra=None):
        ctx.shape, ctx.lin = x.shape, lin
        values = x.reshape(-1)[lin] if x.size else np.zeros(lin.shape, x.dtype)
        if extra is None:
            return values
        ctx.mark_non_differentiable(extra)
        return values, extra

    @staticmethod
    def backward(ctx, g, *_ignored):
        lin = ctx.lin
        if lin.ndim == 0:  # the kernel wants 1-D data for a single element (ascontiguousarray of 0-d is 1-D)
            lin, g = lin.reshape(1), g.reshape(1)
        return scatter_add(g, lin, ctx.shape)


def selected(cls, x, lin, extra=None):
    """Apply a ``Selected`` subclass; returns values, or (values, extra)."""
    return cls.apply(x, lin=lin, extra=extra)


def gathered(x, lin):
    """Flat gather of an array or Variable (differentiable)."""
    return take(x, lin)
