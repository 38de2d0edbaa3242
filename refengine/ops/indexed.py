"""index_select, index_add and masked_fill.

index_select is a gather along one dim (its backward scatter-adds, so repeated
indices accumulate); index_add passes the input's gradient through and gives the
source the gradient selected at the same positions (times ``alpha``); masked_fill
routes the gradient around the filled positions to the input and, for a 0-d tensor
value, sums it there for the value.  All linear in the gradient, so differentiable
again.
"""
from __future__ import annotations

import numpy as np

from refengine.function import ArrayFunction
from refengine.ops.arith import where
from refengine.ops.common import data_of, is_var, method, shape_of, sum_to_shape
from refengine.ops.selection import Selected, linear_index
from refengine.ops.index import take
from refengine.ops.reduce import normalize_dims


def _dim(d, ndim):
    (a,) = normalize_dims(d, ndim) or (0,)
    return a


def _index_vector(index, n, name):
    """A 0-d or 1-D integer index with every value in [0, n) (torch's RuntimeError otherwise)."""
    idx = np.asarray(data_of(index))
    if idx.dtype.kind not in "iu":
        raise RuntimeError(f"{name}(): Expected dtype int32/int64 for index")
    if idx.ndim > 1:
        raise IndexError(f"{name}(): Index is supposed to be a vector")
    bad = idx[(idx < 0) | (idx >= n)]
    if bad.size:
        raise RuntimeError(f"INDICES element is out of DATA bounds, id={int(bad.flat[0])} axis_dim={n}")
    return idx.astype(np.int64, copy=False)


def _positions(shape, idx, d):
    """Flat positions in ``shape`` of the slices ``idx`` along ``d`` (output shape: ``shape`` with
    dim ``d`` replaced by len(idx))."""
    if len(shape) == 0:
        return np.zeros(idx.shape, np.int64)
    out_shape = tuple(len(idx.reshape(-1)) if i == d else s for i, s in enumerate(shape))
    full = np.broadcast_to(idx.reshape([-1 if i == d else 1 for i in range(len(shape))]), out_shape)
    return linear_index(shape, full, d)


class IndexSelect(Selected):
    node_name = "IndexSelectBackward0"


@method()
def index_select(input, dim, index):
    """The slices ``index`` (a vector) along ``dim``."""
    d = _dim(dim, input.ndim)
    n = input.shape[d] if input.ndim else 1
    idx = _index_vector(index, n, "index_select")
    return IndexSelect.apply(input, lin=_positions(input.shape, idx, d))


class IndexAdd(ArrayFunction):
    node_name = "IndexAddBackward0"

    @staticmethod
    def forward(ctx, a, source, lin=None, alpha=1):
        ctx.lin, ctx.alpha, ctx.src_shape = lin, alpha, np.shape(source)
        out = np.array(a, copy=True, order="C")  # C order: reshape(-1) below must be a view of it
        np.add.at(out.reshape(-1), lin.reshape(-1), np.broadcast_to(np.asarray(source) * alpha, lin.shape).reshape(-1))
        return out

    @staticmethod
    def backward(ctx, g):
        gs = None
        if ctx.needs_input_grad[1]:
            lin = ctx.lin.reshape(-1) if ctx.lin.ndim == 0 else ctx.lin
            gs = take(g, lin)
            gs = sum_to_shape(gs.reshape(ctx.lin.shape) if ctx.lin.ndim == 0 else gs, ctx.src_shape)
            if ctx.alpha != 1:
                gs = gs * ctx.alpha
        return g, gs


@method()
def index_add(input, dim, index, source, *, alpha=1):
    """``input`` with ``alpha * source`` added into the slices ``index`` along ``dim`` (repeats
    accumulate); ``source`` has input's shape with that dim of length len(index)."""
    d = _dim(dim, input.ndim)
    n = input.shape[d] if input.ndim else 1
    idx = _index_vector(index, n, "index_add")
    want = tuple(idx.size if i == d else s for i, s in enumerate(input.shape))
    src_shape = shape_of(source)
    if src_shape != want and not (len(src_shape) == 0 and idx.size == 1):
        raise RuntimeError(f"index_add_(): Source/destination tensor must have same slice shapes. Destination "
                           f"slice shape: {list(want)} at dimension {d} and source slice shape: "
                           f"{list(src_shape)} at dimension 0.")
    if getattr(source, "dtype", input.dtype) != input.dtype:
        raise RuntimeError(f"index_add_(): self ({input.dtype}) and source ({source.dtype}) must have the same "
                           "scalar type")
    return IndexAdd.apply(input, source, lin=_positions(input.shape, idx, d), alpha=alpha)


class MaskedFill(ArrayFunction):
    """``where(mask, value, input)`` broadcast; value a number (node 0) or a 0-d tensor (node 1)."""

    node_name = "MaskedFillBackward0"

    @staticmethod
    def forward(ctx, a, value, mask=None):
        ctx.mask, ctx.shape = mask, a.shape
        return np.where(mask, np.asarray(value, a.dtype), a)

    @staticmethod
    def backward(ctx, g):
        ga = gv = None
        if ctx.needs_input_grad[0]:
            ga = sum_to_shape(where(ctx.mask, 0.0, g), ctx.shape)
        if ctx.needs_input_grad[1]:
            from refengine.ops import sum as _sum
            picked = where(ctx.mask, g, 0.0)
            gv = _sum(picked) if is_var(picked) else np.sum(picked)
        return ga, gv


class MaskedFillTensor(MaskedFill):
    node_name = "MaskedFillBackward1"


@method()
def masked_fill(input, mask, value):
    """``value`` where the bool ``mask`` (broadcast) is True, else ``input``."""
    from refengine.ops.dtypes import broadcast_shape
    from refengine.variable import Variable
    m = np.asarray(data_of(mask))
    if m.dtype != np.bool_:
        raise RuntimeError(f"masked_fill_ only supports boolean masks, but got mask with dtype {m.dtype}")
    broadcast_shape(input.shape, m.shape)
    if isinstance(value, Variable):
        if value.ndim != 0:
            raise RuntimeError(f"masked_fill_ only supports a 0-dimensional value tensor, but got tensor with "
                               f"{value.ndim} dimension(s).")
        return MaskedFillTensor.apply(input, value, mask=m)
    return MaskedFill.apply(input, float(value) if input.dtype.kind == "f" else value, mask=m)
