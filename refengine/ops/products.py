"""Products and matrix structure: dot, mv, outer, trace, diag, diagonal, tril, triu, cross (einsum is
in contraction.py).

dot and mv reuse matmul's nodes (DotBackward0 / MvBackward0) after torch's checks;
outer is ``reshape(a, (n, 1)) * b`` as torch composes it (MulBackward0).  diagonal
is a flat gather (``selection.Selected``) and diag of a vector its adjoint, a flat
placement; trace/tril/triu multiply by constant masks; cross's gradients are
crosses again.
"""
from __future__ import annotations

import numpy as np

from refengine.function import ArrayFunction
from refengine.ops.common import data_of, is_var, method, shape_of, sum_to_shape
from refengine.ops.index import take
from refengine.ops.linalg import Dot, Mv
from refengine.ops.selection import Selected

_TORCH_DTYPE = {"float32": "Float", "float64": "Double", "int64": "Long"}


@method()
def dot(input, tensor):
    """Inner product of two 1-D tensors of one length and dtype."""
    if input.ndim != 1 or tensor.ndim != 1:
        raise RuntimeError(f"1D tensors expected, but got {input.ndim}D and {tensor.ndim}D tensors")
    if input.shape != tensor.shape:
        raise RuntimeError(f"inconsistent tensor size, expected tensor [{input.shape[0]}] and src "
                           f"[{tensor.shape[0]}] to have the same number of elements, but got {input.shape[0]} "
                           f"and {tensor.shape[0]} elements respectively")
    if input.dtype != tensor.dtype:
        raise RuntimeError(f"dot : expected both vectors to have same dtype, but found "
                           f"{_TORCH_DTYPE.get(input.dtype.name)} and {_TORCH_DTYPE.get(tensor.dtype.name)}")
    return Dot.apply(input, tensor)


vdot = method("vdot")(dot)  # real tensors: no conjugation


@method()
def mv(input, vec):
    """Matrix (n, m) times vector (m,)."""
    if input.ndim != 2 or vec.ndim != 1 or input.shape[1] != vec.shape[0]:
        raise RuntimeError(f"size mismatch, got input ({input.shape[0] if input.ndim else 0}), mat "
                           f"({'x'.join(map(str, input.shape))}), vec ({'x'.join(map(str, vec.shape))})")
    return Mv.apply(input, vec)


@method()
def outer(input, vec2):
    """``input[:, None] * vec2`` for 1-D tensors (torch.outer, alias ger)."""
    from refengine.ops import reshape
    for name, v in (("self", input), ("vec2", vec2)):
        if v.ndim != 1:
            raise RuntimeError(f"outer: Expected 1-D argument {name}, but got {v.ndim}-D")
    return reshape(input, (input.shape[0], 1)) * vec2


ger = method("ger")(outer)


class Trace(ArrayFunction):
    node_name = "TraceBackward0"

    @staticmethod
    def forward(ctx, a):
        ctx.shape = a.shape
        return np.asarray(np.trace(a), a.dtype)

    @staticmethod
    def backward(ctx, g):
        return g * np.eye(*ctx.shape, dtype=data_of(g).dtype)


@method()
def trace(input):
    """Sum of the main diagonal of a matrix."""
    if input.ndim != 2:
        raise RuntimeError(f"trace: expected a matrix, but got tensor with dim {input.ndim}")
    return Trace.apply(input)


class Diagonal(Selected):
    node_name = "DiagonalBackward0"


class DiagOfMatrix(Selected):
    node_name = "DiagonalBackward0_copy"  # torch.diag of a matrix: diagonal's copy variant


def _diagonal_positions(shape, offset, d1, d2):
    grid = np.arange(int(np.prod(shape)), dtype=np.int64).reshape(shape)
    return np.diagonal(grid, offset, d1, d2).copy()


@method()
def diagonal(input, offset=0, dim1=0, dim2=1):
    """The diagonal of the (dim1, dim2) planes, as a new last dim."""
    from refengine.ops.layout import _dim
    nd = input.ndim
    if nd < 2:
        raise RuntimeError(f"diagonal dimensions requires ndim larger than 1, got {nd}")
    d1, d2 = _dim(dim1, nd), _dim(dim2, nd)
    if d1 == d2:
        raise RuntimeError(f"diagonal dimensions cannot be identical {dim1}, {dim2}")
    return Diagonal.apply(input, lin=_diagonal_positions(input.shape, offset, d1, d2))


class DiagEmbed(ArrayFunction):
    """A vector placed on diagonal ``offset`` of a square zero matrix; the adjoint of its gather."""

    node_name = "DiagEmbedBackward0"

    @staticmethod
    def forward(ctx, v, offset=0):
        n = v.shape[0] + abs(offset)
        lin = _diagonal_positions((n, n), offset, 0, 1)
        ctx.lin = lin
        out = np.zeros((n, n), v.dtype)
        out.reshape(-1)[lin] = v
        return out

    @staticmethod
    def backward(ctx, g):
        return take(g, ctx.lin)


@method()
def diag(input, diagonal=0):
    """A vector's diagonal matrix, or a matrix's diagonal (``diagonal`` selects which)."""
    if input.ndim == 1:
        return DiagEmbed.apply(input, offset=int(diagonal))
    if input.ndim == 2:
        return DiagOfMatrix.apply(input, lin=_diagonal_positions(input.shape, int(diagonal), 0, 1))
    raise RuntimeError(f"diag(): Supports 1D or 2D tensors. Got {input.ndim}D")


class _Tri(ArrayFunction):
    lower = True

    @classmethod
    def forward(cls, ctx, a, diagonal=0):
        n, m = a.shape[-2:]
        mask = np.tri(n, m, diagonal, dtype=bool) if cls.lower else ~np.tri(n, m, diagonal - 1, dtype=bool)
        ctx.mask = mask
        return np.where(mask, a, np.zeros((), a.dtype))

    @staticmethod
    def backward(ctx, g):
        return g * ctx.mask


class Tril(_Tri):
    node_name = "TrilBackward0"


class Triu(_Tri):
    node_name = "TriuBackward0"
    lower = False


@method()
def tril(input, diagonal=0):
    """Zero the elements above diagonal ``diagonal`` of the last two dims."""
    if input.ndim < 2:
        raise RuntimeError("tril: input tensor must have at least 2 dimensions")
    return Tril.apply(input, diagonal=int(diagonal))


@method()
def triu(input, diagonal=0):
    """Zero the elements below diagonal ``diagonal`` of the last two dims."""
    if input.ndim < 2:
        raise RuntimeError("triu: input tensor must have at least 2 dimensions")
    return Triu.apply(input, diagonal=int(diagonal))


class Cross(ArrayFunction):
    node_name = "LinalgCrossBackward0"

    @staticmethod
    def forward(ctx, a, b, dim=-1):
        ctx.dim = dim
        ctx.save_for_backward(a, b)
        return np.cross(a, b, axis=dim)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        d = ctx.dim
        ga = sum_to_shape(_cross(b, g, d), shape_of(a)) if ctx.needs_input_grad[0] else None
        gb = sum_to_shape(_cross(g, a, d), shape_of(b)) if ctx.needs_input_grad[1] else None
        return ga, gb


def _cross(a, b, d):
    if is_var(a) or is_var(b):
        return Cross.apply(a, b, dim=d)
    return np.cross(a, b, axis=d)


def linalg_cross(input, other, *, dim=-1):
    """The 3-vector cross product along ``dim`` (broadcasting the other dims)."""
    from refengine.ops.dtypes import broadcast_shape
    nd = max(input.ndim, other.ndim)
    if input.ndim != other.ndim:
        raise RuntimeError("linalg.cross: inputs must have the same number of dimensions.")
    if not -nd <= dim < nd:
        raise IndexError(f"Dimension out of range (expected to be in range of [{-nd}, {nd - 1}], but got {dim})")
    if input.shape[dim] != 3 or other.shape[dim] != 3:
        raise RuntimeError(f"linalg.cross: inputs dimension {dim} must have length 3. Got {input.shape[dim]} and "
                           f"{other.shape[dim]}")
    broadcast_shape(input.shape, other.shape)
    return Cross.apply(input, other, dim=dim % nd)


@method()
def cross(input, other, dim=None):
    """torch.cross: ``dim`` defaults to the first dim of size 3 (deprecated in torch, with a warning)."""
    if dim is None:
        import warnings
        warnings.warn("Using torch.cross without specifying the dim arg is deprecated.", UserWarning, stacklevel=2)
        sizes = np.broadcast_shapes(input.shape, other.shape)
        dim = next((i for i, s in enumerate(sizes) if s == 3), -1)
    return linalg_cross(input, other, dim=dim)
