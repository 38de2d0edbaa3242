"""index_select, index_add and masked_fill.

index_select and index_add run on the gather kernels (``kernels.index_select`` and its adjoint
``kernels.index_add``, ``_gather.pyx``): index_select's backward is an index_add of the gradient
into zeros (repeated indices accumulate) and the reverse, so both are differentiable again.
index_add passes the input's gradient through and gives the source the gradient selected at the
same positions (times ``alpha``).  Inputs the kernels do not take (integers, bools; float16
index_add, which adds in float16 as before) keep the generic route: flat positions
(``selection.linear_index``) and a flat gather / ``np.add.at``.  masked_fill routes the gradient
around the filled positions to the input and, for a 0-d tensor value, sums it there for the value.
All linear in the gradient, so differentiable again.
"""
from __future__ import annotations

import numpy as np

from refengine import kernels as K
from refengine.function import ArrayFunction
from refengine.ops.arith import where
from refengine.ops.common import data_of, is_var, method, shape_of, sum_to_shape
from refengine.ops.reduce import normalize_dims
from refengine.ops.selection import _KERNEL_DTYPES, linear_index


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
    dim ``d`` replaced by len(idx)): the generic route."""
    if len(shape) == 0:
        return np.zeros(idx.shape, np.int64)
    out_shape = tuple(len(idx.reshape(-1)) if i == d else s for i, s in enumerate(shape))
    full = np.broadcast_to(idx.reshape([-1 if i == d else 1 for i in range(len(shape))]), out_shape)
    return linear_index(shape, full, d)


def _select_values(x, dim, idx):
    if x.dtype in _KERNEL_DTYPES:
        return K.index_select(x, dim, idx)
    lin = _positions(x.shape, idx, dim)
    return x.reshape(-1)[lin] if x.size else np.zeros(lin.shape, x.dtype)


class IndexSelect(ArrayFunction):
    """The slices ``idx`` along ``dim`` (the index_select kernel); the gradient is index-added back
    into zeros (``IndexAddZeros``, repeats accumulate)."""

    node_name = "IndexSelectBackward0"

    @staticmethod
    def forward(ctx, x, dim=0, idx=None):
        ctx.shape, ctx.dim, ctx.idx = x.shape, dim, idx
        return _select_values(x, dim, idx)

    @staticmethod
    def backward(ctx, g):
        return index_add_into_zeros(g, ctx.dim, ctx.idx, ctx.shape)


class IndexAddZeros(ArrayFunction):
    """zeros(shape) with the slices of ``g`` added into the slices ``idx`` along ``dim``: the adjoint of
    ``IndexSelect`` (torch's index_select backward, an index_add into zeros)."""

    node_name = "IndexAddBackward0"

    @staticmethod
    def forward(ctx, g, dim=0, idx=None, shape=()):
        ctx.dim, ctx.idx = dim, idx
        return K.index_add(shape, dim, idx, g)

    @staticmethod
    def backward(ctx, gg):
        return selected_slices(gg, ctx.dim, ctx.idx)


def selected_slices(x, dim, idx):
    """index_select of an array or Variable along a non-negative ``dim`` at a checked int64 vector."""
    return IndexSelect.apply(x, dim=dim, idx=idx) if is_var(x) else _select_values(x, dim, idx)


def index_add_into_zeros(g, dim, idx, shape):
    """zeros(shape) with ``g`` (array or Variable) index-added along ``dim`` at ``idx``."""
    if is_var(g):
        return IndexAddZeros.apply(g, dim=dim, idx=idx, shape=tuple(shape))
    return K.index_add(shape, dim, idx, g)


@method()
def index_select(input, dim, index):
    """The slices ``index`` (a vector) along ``dim``."""
    d = _dim(dim, input.ndim)
    n = input.shape[d] if input.ndim else 1
    idx = _index_vector(index, n, "index_select")
    return IndexSelect.apply(input, dim=d, idx=idx)


class IndexAdd(ArrayFunction):
    node_name = "IndexAddBackward0"

    @staticmethod
    def forward(ctx, a, source, dim=0, idx=None, alpha=1):
        ctx.dim, ctx.idx, ctx.alpha, ctx.src_shape = dim, idx, alpha, np.shape(source)
        scaled = np.asarray(source) * alpha if alpha != 1 else np.asarray(source, a.dtype)
        if a.dtype in _KERNEL_DTYPES[1:]:
            s1 = a.shape or (1,)
            want = s1[:dim] + (idx.size,) + s1[dim + 1:]
            return K.index_add(a.shape, dim, idx, np.broadcast_to(np.asarray(scaled, a.dtype), want), base=a)
        # the generic route (integers; float16, which adds in float16 here as it always has)
        lin = _positions(a.shape, idx, dim)
        out = np.array(a, copy=True, order="C")  # C order: reshape(-1) below must be a view of it
        np.add.at(out.reshape(-1), lin.reshape(-1), np.broadcast_to(scaled, lin.shape).reshape(-1))
        return out

    @staticmethod
    def backward(ctx, g):
        gs = None
        if ctx.needs_input_grad[1]:
            gs = sum_to_shape(selected_slices(g, ctx.dim, ctx.idx), ctx.src_shape)
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
    return IndexAdd.apply(input, source, dim=d, idx=idx, alpha=alpha)


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
