"""Selection along a dim by an index tensor: gather, take_along_dim, scatter_add, and the pieces
shared with the ops whose values are selected input elements (sort, topk, kthvalue, median(dim), cummax).

gather / take_along_dim / scatter_add run on the gather kernels (``kernels.gather_dim`` and its
adjoint ``kernels.scatter_add_dim``, ``_gather.pyx``), which find the positions along ``dim``
themselves: ``GatherDim``'s backward is ``ScatterDim``'s forward and the reverse, so second
derivatives work.  Inputs the kernels do not take (integers, bools; float16 scatter_add, which
adds in float16 as before) keep the generic route below.

The generic route, and every other such op (sort, topk, cummax, diagonal, embedding, ...), maps
each output element to one flat input position (``linear_index``) and is then a flat gather,
whose backward is a flat scatter-add of the gradient into zeros (repeats accumulate) -- the
``take`` / ``scatter_add`` pair of ``ops.index``, each the other's adjoint.  This is torch's
"gradient goes to the selected index" rule.
"""
from __future__ import annotations

import numpy as np

from refengine import kernels as K
from refengine.function import ArrayFunction
from refengine.kernels.validate_gather import check_range
from refengine.ops.common import is_var, method
from refengine.ops.index import scatter_add as flat_scatter_add
from refengine.ops.index import take


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
    """torch: same ndim (src's too); index no larger than self (and than ``other``, e.g. src) outside
    ``dim``.  The values (in [0, size along dim)) are checked by the kernel, or ``_check_values``."""
    nd = max(len(shape), 1)
    if max(idx.ndim, 1) != nd:
        raise RuntimeError("Index tensor must have the same number of dimensions as input tensor")
    if other is not None and 1 <= len(other) < nd:  # torch asks src for a size along its dim len(src.shape)
        m = len(other)
        raise IndexError(f"Dimension out of range (expected to be in range of [{-m}, {m - 1}], but got {m})")
    if other is not None and max(len(other), 1) != nd:
        raise RuntimeError("Index tensor must have the same number of dimensions as src tensor")
    s1, i1 = (tuple(shape) or (1,)), (idx.shape or (1,))
    for d in range(nd):
        if d != dim and i1[d] > s1[d]:
            raise RuntimeError(f"Size does not match at dimension {d} expected index {list(idx.shape)} to be "
                               f"smaller than self {list(shape)} apart from dimension {dim}")
        if other is not None and i1[d] > (tuple(other) or (1,))[d]:
            raise RuntimeError(f"Expected index {list(idx.shape)} to be smaller than self {list(shape)} apart "
                               f"from dimension {dim} and to be smaller size than src {list(other)}")


def _check_values(shape, idx, dim):
    """torch's error for an index value outside [0, size along dim) (the generic route's check)."""
    check_range(idx, (tuple(shape) or (1,))[dim], dim, "gather")


def _gather_lin(shape, idx, dim):
    if len(shape) == 0:
        return np.zeros(idx.shape, np.int64)
    return linear_index(shape, idx, dim)


#: dtypes the gather kernels take (float16 through kernels' float32 fallback: gathers are exact,
#: and a gradient scatter-added in float32 and rounded once is what the flat kernel did)
_KERNEL_DTYPES = (np.dtype(np.float16), np.dtype(np.float32), np.dtype(np.float64))


def _gather_values(x, dim, idx):
    if x.dtype in _KERNEL_DTYPES:
        return K.gather_dim(x, dim, idx)
    _check_values(x.shape, idx, dim)
    return x.reshape(-1)[_gather_lin(x.shape, idx, dim)] if x.size else np.zeros(idx.shape, x.dtype)


class GatherDim(ArrayFunction):
    """``x`` gathered along ``dim`` at ``idx`` (the gather kernel); the gradient is scatter-added back
    (``ScatterDim``, repeats accumulate)."""

    node_name = "GatherBackward0"

    @staticmethod
    def forward(ctx, x, dim=0, idx=None):
        ctx.shape, ctx.dim, ctx.idx = x.shape, dim, idx
        return _gather_values(x, dim, idx)

    @staticmethod
    def backward(ctx, g):
        return scatter_dim(g, ctx.dim, ctx.idx, ctx.shape)


class ScatterDim(ArrayFunction):
    """zeros(shape) with ``g`` scatter-added along ``dim`` at ``idx``: the adjoint of ``GatherDim``
    (torch's gather backward, a scatter_add into zeros)."""

    node_name = "ScatterAddBackward0"

    @staticmethod
    def forward(ctx, g, dim=0, idx=None, shape=()):
        ctx.dim, ctx.idx = dim, idx
        return K.scatter_add_dim(shape, dim, idx, g)

    @staticmethod
    def backward(ctx, gg):
        return gather_dim(gg, ctx.dim, ctx.idx)


def gather_dim(x, dim, idx):
    """``x`` (array or Variable) gathered along a non-negative ``dim`` at checked int64 ``idx``."""
    return GatherDim.apply(x, dim=dim, idx=idx) if is_var(x) else _gather_values(x, dim, idx)


def scatter_dim(g, dim, idx, shape):
    """zeros(shape) with ``g`` (array or Variable) scatter-added along ``dim`` at ``idx``."""
    if is_var(g):
        return ScatterDim.apply(g, dim=dim, idx=idx, shape=tuple(shape))
    return K.scatter_add_dim(shape, dim, idx, g)


def gather(input, dim, index, *, sparse_grad=False):
    """``out[i][j][k] = input[i][index[i][j][k]][k]`` for dim 1 (torch.gather); the gradient is
    scatter-added back (repeated indices accumulate)."""
    from refengine.ops.reduce import normalize_dims
    idx = _index_array(index, "gather")
    (d,) = normalize_dims(dim, input.ndim) or (0,)
    _check_gather_shapes(input.shape, idx, d, "gather")
    # contiguous once here (a broadcast index from take_along_dim), not in every kernel call
    return GatherDim.apply(input, dim=d, idx=np.ascontiguousarray(idx))


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
    """``input`` with ``src`` (its corner the index covers) added along ``dim`` at ``idx`` (repeats
    accumulate); the input's gradient passes through, src's is the gradient gathered at ``idx``
    (zeros outside that corner)."""

    node_name = "ScatterAddBackward0"

    @staticmethod
    def forward(ctx, a, src, dim=0, idx=None):
        ctx.dim, ctx.idx, ctx.src_shape = dim, idx, np.shape(src)
        src = np.asarray(src, a.dtype)
        if a.dtype in _KERNEL_DTYPES[1:]:
            return K.scatter_add_dim(a.shape, dim, idx, src, base=a)
        # the generic route (integers; float16, which adds in float16 here as it always has)
        _check_values(a.shape, idx, dim)
        pos = tuple(slice(0, s) for s in idx.shape)
        out = np.array(a, copy=True, order="C")  # C order: reshape(-1) below must be a view of it
        np.add.at(out.reshape(-1), _gather_lin(a.shape, idx, dim).reshape(-1), src[pos].reshape(-1))
        return out

    @staticmethod
    def backward(ctx, g):
        gs = None
        if ctx.needs_input_grad[1]:
            picked = gather_dim(g, ctx.dim, ctx.idx)
            if tuple(picked.shape) == tuple(ctx.src_shape):
                gs = picked
            else:
                pos = tuple(slice(0, s) for s in ctx.idx.shape)
                from refengine.ops.index import IndexBackward
                gs = IndexBackward.apply(picked, shape=ctx.src_shape, index=pos) if hasattr(picked, "grad_fn") \
                    else _placed(picked, ctx.src_shape, pos)
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
    return ScatterAddDim.apply(input, src, dim=d, idx=np.ascontiguousarray(idx))


for _fn in (gather, take_along_dim, scatter_add):
    method()(_fn)
