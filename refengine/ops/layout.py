"""Layout ops: flip, roll, repeat, tile, narrow, chunk, unbind, movedim, broadcast_to.

Each backward is the inverse rearrangement (flip again, roll back, sum the repeats,
place the slice into zeros, stack the pieces), written so it applies to Variables
too (create_graph).  narrow/chunk/movedim/broadcast_to reuse the existing slice,
split, permute and expand nodes, as torch's are views with those node names.
"""
from __future__ import annotations

import math

import numpy as np

from refengine.function import ArrayFunction
from refengine.ops.common import is_var, method
from refengine.ops.index import Index
from refengine.ops.reduce import normalize_dims
from refengine.ops.shape import _shape_arg


def _dim(d, ndim: int) -> int:
    (a,) = normalize_dims(d, ndim) or (0,)
    return a


def _dims(dims, ndim: int) -> tuple:
    dims = (dims,) if isinstance(dims, (int, np.integer)) else tuple(dims)
    out = tuple(_dim(d, ndim) for d in dims)
    if len(set(out)) != len(out):
        raise RuntimeError(f"dims has duplicates, original flip dims size={len(dims)}, but unique flip dims "
                           f"size={len(set(out))}")
    return out


class Flip(ArrayFunction):
    node_name = "FlipBackward0"

    @staticmethod
    def forward(ctx, a, dims=()):
        ctx.dims = dims
        return np.flip(a, dims).copy() if a.ndim else a.copy()

    @staticmethod
    def backward(ctx, g):
        return Flip.apply(g, dims=ctx.dims) if is_var(g) else (np.flip(g, ctx.dims).copy() if g.ndim else g)


@method()
def flip(input, dims):
    """Reverse the order along ``dims``."""
    return Flip.apply(input, dims=_dims(dims, input.ndim))


class Roll(ArrayFunction):
    node_name = "RollBackward0"

    @staticmethod
    def forward(ctx, a, shifts=(), dims=None):
        ctx.shifts, ctx.dims = shifts, dims
        return np.roll(a, shifts, dims) if a.ndim else a.copy()

    @staticmethod
    def backward(ctx, g):
        back = tuple(-s for s in ctx.shifts) if isinstance(ctx.shifts, tuple) else -ctx.shifts
        return Roll.apply(g, shifts=back, dims=ctx.dims) if is_var(g) else \
            (np.roll(g, back, ctx.dims) if g.ndim else g)


@method()
def roll(input, shifts, dims=None):
    """Rotate the elements along ``dims`` by ``shifts`` (over the flattened tensor when dims is None)."""
    if dims is None:
        if not isinstance(shifts, (int, np.integer)) and len(shifts) != 1:
            raise RuntimeError(f"roll: dims must be specified when shifts has {len(shifts)} elements")
        shifts = int(shifts if isinstance(shifts, (int, np.integer)) else shifts[0])
        return Roll.apply(input, shifts=shifts, dims=None)
    shifts = (shifts,) if isinstance(shifts, (int, np.integer)) else tuple(int(s) for s in shifts)
    dims = (dims,) if isinstance(dims, (int, np.integer)) else tuple(dims)
    if len(shifts) != len(dims):
        raise RuntimeError(f"shifts and dimensions must align. shifts: {len(shifts)}, dims:{len(dims)}")
    return Roll.apply(input, shifts=shifts, dims=tuple(_dim(d, input.ndim) for d in dims))


class Repeat(ArrayFunction):
    node_name = "RepeatBackward0"

    @staticmethod
    def forward(ctx, a, sizes=()):
        lead = (1,) * (len(sizes) - a.ndim)
        ctx.shape, ctx.sizes, ctx.full = a.shape, sizes, lead + a.shape
        return np.tile(a.reshape(ctx.full), sizes)

    @staticmethod
    def backward(ctx, g):
        # out has shape (s0 n0, s1 n1, ...): view it as (s0, n0, s1, n1, ...) and sum the s axes
        split = tuple(x for s, n in zip(ctx.sizes, ctx.full) for x in (s, n))
        axes = tuple(range(0, 2 * len(ctx.sizes), 2))
        if is_var(g):
            from refengine.ops import reshape, sum as _sum
            return reshape(_sum(reshape(g, split), dim=axes), ctx.shape) if axes else reshape(g, ctx.shape)
        return np.sum(g.reshape(split), axis=axes).reshape(ctx.shape)


@method()
def repeat(input, *sizes):
    """Tile the tensor ``sizes[i]`` times along each dim (``len(sizes) >= ndim``)."""
    sizes = _shape_arg(sizes)
    if len(sizes) < input.ndim:
        raise RuntimeError("Number of dimensions of repeat dims can not be smaller than number of dimensions "
                           "of tensor")
    if any(s < 0 for s in sizes):
        raise RuntimeError(f"Trying to create tensor with negative dimension: {list(sizes)}")
    return Repeat.apply(input, sizes=sizes)


@method()
def tile(input, dims):
    """``repeat`` with ``dims`` padded by leading ones to the tensor's ndim (torch.tile)."""
    dims = _shape_arg((dims,)) if not isinstance(dims, (int, np.integer)) else (int(dims),)
    return repeat(input, *((1,) * (input.ndim - len(dims)) + dims))


class Slice(Index):
    """A basic slice (narrow): torch's node is SliceBackward0."""

    node_name = "SliceBackward0"


@method()
def narrow(input, dim, start, length):
    """``length`` elements along ``dim`` from ``start`` (negative counts from the end)."""
    if input.ndim == 0:
        raise RuntimeError("narrow() cannot be applied to a 0-dim tensor.")
    d = _dim(dim, input.ndim)
    n = input.shape[d]
    start = int(start)
    if not -n <= start <= n:
        raise IndexError(f"start out of range (expected to be in range of [{-n}, {n}], but got {start})")
    if start < 0:
        start += n
    if length < 0 or start + length > n:
        raise RuntimeError(f"start ({start}) + length ({length}) exceeds dimension size ({n}).")
    return Slice.apply(input, index=(slice(None),) * d + (slice(start, start + int(length)),))


@method()
def chunk(input, chunks, dim=0):
    """``chunks`` pieces (the last may be smaller, fewer if the dim is short) along ``dim``."""
    from refengine.ops.shape import split
    if chunks <= 0:
        raise RuntimeError(f"chunk expects `chunks` to be greater than 0, got: {chunks}")
    if input.ndim == 0:
        raise RuntimeError("chunk expects at least a 1-dimensional tensor")
    n = input.shape[_dim(dim, input.ndim)]
    if n == 0:  # torch: `chunks` empty pieces
        return split(input, [0] * chunks, dim)
    return split(input, math.ceil(n / chunks), dim)


class Unbind(ArrayFunction):
    node_name = "UnbindBackward0"

    @staticmethod
    def forward(ctx, a, dim=0):
        ctx.dim = dim
        return tuple(np.take(a, i, axis=dim) for i in range(a.shape[dim]))

    @staticmethod
    def backward(ctx, *grads):
        if is_var(grads[0]):
            from refengine.ops import stack
            return stack(list(grads), ctx.dim)
        return np.stack(grads, axis=ctx.dim)


@method()
def unbind(input, dim=0):
    """The slices along ``dim``, as a tuple (the dim removed)."""
    if input.ndim == 0:
        raise IndexError("Dimension specified as 0 but tensor has no dimensions")
    d = _dim(dim, input.ndim)
    if input.shape[d] == 0:
        return ()
    out = Unbind.apply(input, dim=d)
    return out if isinstance(out, tuple) else (out,)


@method()
def movedim(input, source, destination):
    """Move the dims ``source`` to the positions ``destination``; the others keep their order."""
    from refengine.ops import permute
    nd = input.ndim
    src = (source,) if isinstance(source, (int, np.integer)) else tuple(source)
    dst = (destination,) if isinstance(destination, (int, np.integer)) else tuple(destination)
    if len(src) != len(dst):
        raise RuntimeError(f"movedim: Invalid source or destination dims: source ({list(src)} dims) should "
                           f"contain the same number of dims as destination ({list(dst)} dims)")
    src, dst = tuple(_dim(s, nd) for s in src), tuple(_dim(d, nd) for d in dst)
    if len(set(src)) != len(src) or len(set(dst)) != len(dst):
        raise RuntimeError("movedim: repeated dim in `source` or `destination`")
    order = [i for i in range(nd) if i not in src]
    for d, s in sorted(zip(dst, src)):
        order.insert(d, s)
    return permute(input, *order) if nd else permute(input)


moveaxis = method("moveaxis")(movedim)


@method()
def broadcast_to(input, size):
    """``expand`` to ``size`` (torch.broadcast_to)."""
    from refengine.ops import expand
    return expand(input, *_shape_arg((size,)))
