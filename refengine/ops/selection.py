"""Selection along a dim by an index tensor: gather, take_along_dim, scatter_add, and the pieces
shared with the ops whose values are selected input elements (sort, topk, kthvalue, median(dim), cummax).

Every such op maps each output element to one flat input position (``linear_index``)
and is then a flat gather, whose backward is a flat scatter-add of the gradient into
zeros (repeats accumulate) — the ``take`` / ``scatter_add`` pair of ``ops.index``, each
the other's adjoint, so second derivatives work.  This is torch's "gradient goes to
the selected index" rule.
"""
from __future__ import annotations

import numpy as np

from refengine.function import ArrayFunction
from refengine.ops.common import method
from refengine.ops.index import scatter_add as flat_scatter_add, take


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
        return flat_scatter_add(g, lin, ctx.shape)


def selected(cls, x, lin, extra=None):
    """Apply a ``Selected`` subclass; returns values, or (values, extra)."""
    return cls.apply(x, lin=lin, extra=extra)


def gathered(x, lin):
    """Flat gather of an array or Variable (differentiable)."""
    return take(x, lin)


def _index_array(index, name):
    """An index argument as an int64 array, with torch's dtype error."""
    from refengine.ops.common import data_of
    idx = np.asarray(data_of(index))
    if idx.dtype.kind not in "iu":
        raise RuntimeError(f"{name}(): Expected dtype int64 for index")
    return idx.astype(np.int64, copy=False)


def _check_gather_shapes(shape, idx, dim, name, other=None):
    """torch: same ndim; index no larger than self (and than ``other``, e.g. src) outside ``dim``;
    values in [0, size along dim)."""
    nd = max(len(shape), 1)
    if max(idx.ndim, 1) != nd:
        raise RuntimeError("Index tensor must have the same number of dimensions as input tensor")
    s1, i1 = (tuple(shape) or (1,)), (idx.shape or (1,))
    for d in range(nd):
        if d != dim and i1[d] > s1[d]:
            raise RuntimeError(f"Size does not match at dimension {d} expected index {list(idx.shape)} to be "
                               f"smaller than self {list(shape)} apart from dimension {dim}")
        if other is not None and i1[d] > (tuple(other) or (1,))[d]:
            raise RuntimeError(f"Expected index {list(idx.shape)} to be smaller than self {list(shape)} apart "
                               f"from dimension {dim} and to be smaller size than src {list(other)}")
    n = s1[dim]
    bad = idx[(idx < 0) | (idx >= n)]
    if bad.size:
        raise RuntimeError(f"index {int(bad.flat[0])} is out of bounds for dimension {dim} with size {n}")


def _gather_lin(shape, idx, dim):
    if len(shape) == 0:
        return np.zeros(idx.shape, np.int64)
    return linear_index(shape, idx, dim)


def gather(input, dim, index, *, sparse_grad=False):
    """``out[i][j][k] = input[i][index[i][j][k]][k]`` for dim 1 (torch.gather); the gradient is
    scatter-added back (repeated indices accumulate)."""
    from refengine.ops.reduce import normalize_dims
    idx = _index_array(index, "gather")
    (d,) = normalize_dims(dim, input.ndim) or (0,)
    _check_gather_shapes(input.shape, idx, d, "gather")
    return Selected.apply(input, lin=_gather_lin(input.shape, idx, d))


def take_along_dim(input, indices, dim=None):
    """Values along ``dim`` at ``indices`` (input and indices broadcast outside ``dim``); with
    ``dim=None``, of the flattened input."""
    from refengine.ops import expand, reshape
    from refengine.ops.reduce import normalize_dims
    idx = _index_array(indices, "take_along_dim")
    if dim is None:
        return gather(reshape(input, (-1,)), 0, idx.reshape(-1))
    (d,) = normalize_dims(dim, input.ndim) or (0,)
    if idx.ndim != input.ndim:
        raise RuntimeError(f"torch.take_along_dim(): input and indices should have the same number of "
                           f"dimensions, but got {input.ndim} dimensions for input, and {idx.ndim} dimensions "
                           "for indices")
    if input.ndim == 0:
        return gather(input, 0, idx)
    s_in = list(input.shape)
    s_idx = list(idx.shape)
    s_in[d] = s_idx[d] = 1
    b = list(np.broadcast_shapes(tuple(s_in), tuple(s_idx)))
    in_shape = tuple(input.shape[d] if i == d else s for i, s in enumerate(b))
    idx_shape = tuple(idx.shape[d] if i == d else s for i, s in enumerate(b))
    x = input if tuple(input.shape) == in_shape else expand(input, *in_shape)
    return gather(x, d, np.broadcast_to(idx, idx_shape))


class ScatterAddDim(ArrayFunction):
    """``input`` with ``src[pos]`` added at flat positions ``lin`` (repeats accumulate); the input's
    gradient passes through, src's is the gradient gathered at ``lin`` (zeros outside ``pos``)."""

    node_name = "ScatterAddBackward0"

    @staticmethod
    def forward(ctx, a, src, lin=None, pos=None):
        ctx.lin, ctx.pos, ctx.src_shape = lin, pos, src.shape
        out = np.array(a, copy=True, order="C")  # C order: reshape(-1) below must be a view of it
        np.add.at(out.reshape(-1), lin.reshape(-1), np.asarray(src, a.dtype)[pos].reshape(-1))
        return out

    @staticmethod
    def backward(ctx, g):
        gs = None
        if ctx.needs_input_grad[1]:
            lin = ctx.lin.reshape(-1) if ctx.lin.ndim == 0 else ctx.lin
            picked = take(g, lin)
            full = ctx.pos == tuple(slice(0, s) for s in ctx.src_shape)
            if full:
                gs = picked.reshape(ctx.src_shape)
            else:
                from refengine.ops.index import IndexBackward
                gs = IndexBackward.apply(picked, shape=ctx.src_shape, index=ctx.pos) if hasattr(picked, "grad_fn") \
                    else _placed(picked, ctx.src_shape, ctx.pos)
        return g, gs


def _placed(values, shape, pos):
    out = np.zeros(shape, values.dtype)
    out[pos] = values
    return out


def scatter_add(input, dim, index, src):
    """``input`` plus ``src`` scatter-added along ``dim`` at ``index`` (torch.scatter_add)."""
    from refengine.ops.common import shape_of
    from refengine.ops.reduce import normalize_dims
    idx = _index_array(index, "scatter_add")
    (d,) = normalize_dims(dim, input.ndim) or (0,)
    _check_gather_shapes(input.shape, idx, d, "scatter_add", other=shape_of(src))
    if getattr(src, "dtype", input.dtype) != input.dtype:
        raise RuntimeError("scatter(): Expected self.dtype to be equal to src.dtype")
    pos = tuple(slice(0, s) for s in idx.shape)
    return ScatterAddDim.apply(input, src, lin=_gather_lin(input.shape, idx, d), pos=pos)


for _fn in (gather, take_along_dim, scatter_add):
    method()(_fn)
