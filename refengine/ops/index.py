"""Indexing ``x[index]``: slices, ellipsis, None, integer arrays (repeated indices accumulate
their gradients) and boolean masks, with numpy's semantics; plus the flat gather /
scatter-add pair (``Take`` / ``ScatterAdd``) that index and max-pool backward use.

Basic indices (slices, ints, None, Ellipsis) and masks never select an element
twice, so their backward is a plain assignment into zeros.  Integer-array
indices may repeat: the backward maps every selected element to its flat input
position and scatter-adds with the Cython kernel.  Each backward pair is the
other's adjoint, so create_graph differentiates through them again.
"""
from __future__ import annotations

import numpy as np

from refengine import kernels as K
from refengine.function import ArrayFunction
from refengine.ops.common import data_of, is_var


def _normalize(index):
    """Replace Variables (and lists) inside an index by arrays; indices never carry gradient."""
    items = index if isinstance(index, tuple) else (index,)
    out = []
    for i in items:
        i = data_of(i)
        if isinstance(i, list):
            i = np.asarray(i)
        if isinstance(i, np.ndarray) and i.dtype.kind not in "biu":
            raise IndexError(f"tensors used as indices must be long, int, byte or bool tensors, got {i.dtype}")
        out.append(i)
    return tuple(out) if isinstance(index, tuple) else out[0]


def _advanced(index) -> bool:
    items = index if isinstance(index, tuple) else (index,)
    return any(isinstance(i, np.ndarray) and i.dtype.kind in "iu" for i in items)


def _torch_message(e: IndexError, shape) -> str:
    msg = str(e).replace("axis", "dimension")
    return f"{msg} (indexing a tensor of shape {list(shape)})"


class Take(ArrayFunction):
    """``x.reshape(-1)[idx]`` for flat int64 indices ``idx`` (any shape)."""

    node_name = "TakeBackward0"

    @staticmethod
    def forward(ctx, x, idx=None):
        ctx.shape, ctx.idx = x.shape, idx
        return x.reshape(-1)[idx]

    @staticmethod
    def backward(ctx, g):
        return scatter_add(g, ctx.idx, ctx.shape)


class ScatterAdd(ArrayFunction):
    """zeros(shape) with ``g`` added at flat ``idx`` (repeats accumulate); adjoint of Take."""

    node_name = "IndexPutBackward0"

    @staticmethod
    def forward(ctx, g, idx=None, shape=()):
        ctx.idx = idx
        return K.scatter_add(int(np.prod(shape)), idx, g).reshape(shape)

    @staticmethod
    def backward(ctx, gg):
        return take(gg, ctx.idx)


def take(x, idx):
    """Flat gather (array or Variable)."""
    return Take.apply(x, idx=idx) if is_var(x) else x.reshape(-1)[idx]


def scatter_add(g, idx, shape):
    """Flat scatter-add into zeros of ``shape`` (array or Variable)."""
    if is_var(g):
        return ScatterAdd.apply(g, idx=idx, shape=tuple(shape))
    return K.scatter_add(int(np.prod(shape)), idx, np.ascontiguousarray(g, g.dtype)).reshape(shape)


class Index(ArrayFunction):
    node_name = "IndexBackward0"

    @staticmethod
    def forward(ctx, a, index=None):
        ctx.shape, ctx.index = a.shape, index
        try:
            return np.array(a[index])  # a copy: results never alias their input
        except IndexError as e:
            raise IndexError(_torch_message(e, a.shape)) from None

    @staticmethod
    def backward(ctx, g):
        if _advanced(ctx.index):
            lin = np.arange(int(np.prod(ctx.shape)), dtype=np.int64).reshape(ctx.shape)[ctx.index]
            return scatter_add(g, lin, ctx.shape)
        if is_var(g):
            return IndexBackward.apply(g, shape=ctx.shape, index=ctx.index)
        out = np.zeros(ctx.shape, g.dtype)
        out[ctx.index] = g
        return out


class IndexBackward(ArrayFunction):
    """Assignment of a gradient into zeros for basic/mask indices; its gradient is ``Index``."""

    node_name = "IndexBackwardBackward0"

    @staticmethod
    def forward(ctx, g, shape=(), index=None):
        ctx.index = index
        out = np.zeros(shape, g.dtype)
        out[index] = g
        return out

    @staticmethod
    def backward(ctx, gg):
        return Index.apply(gg, index=ctx.index) if is_var(gg) else np.array(gg[ctx.index])


def index(input, idx):
    """``input[idx]``."""
    return Index.apply(input, index=_normalize(idx))
