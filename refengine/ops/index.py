"""Indexing ``x[index]``: slices, ellipsis, None, integer arrays (repeated indices accumulate
their gradients) and boolean masks, with numpy's semantics."""
from __future__ import annotations

import numpy as np

from refengine.function import ArrayFunction
from refengine.ops.common import data_of, is_var


def _normalize(index):
    """Replace Variables inside an index by their arrays (indices never carry gradient)."""
    if isinstance(index, tuple):
        return tuple(data_of(i) for i in index)
    return data_of(index)


class Index(ArrayFunction):
    node_name = "IndexBackward0"

    @staticmethod
    def forward(ctx, a, index=None):
        ctx.shape, ctx.dtype, ctx.index = a.shape, a.dtype, index
        try:
            return np.array(a[index])  # a copy: results never alias their input
        except IndexError as e:
            raise IndexError(f"index out of range for tensor of shape {list(a.shape)}: {e}") from None

    @staticmethod
    def backward(ctx, g):
        if is_var(g):
            return IndexBackward.apply(g, shape=ctx.shape, index=ctx.index)
        out = np.zeros(ctx.shape, g.dtype)
        np.add.at(out, ctx.index, g)
        return out


class IndexBackward(ArrayFunction):
    """Scatter-add of a gradient into zeros; its own gradient is the gather ``Index``."""

    node_name = "IndexPutBackward0"

    @staticmethod
    def forward(ctx, g, shape=(), index=None):
        ctx.index = index
        out = np.zeros(shape, g.dtype)
        np.add.at(out, index, g)
        return out

    @staticmethod
    def backward(ctx, gg):
        return Index.apply(gg, index=ctx.index) if is_var(gg) else gg[ctx.index]


def index(input, idx):
    """``input[idx]``."""
    return Index.apply(input, index=_normalize(idx))
