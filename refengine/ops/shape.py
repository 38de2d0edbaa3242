"""Shape ops: reshape/view, expand, transpose/permute/``.T``, squeeze/unsqueeze, flatten,
cat, stack, split.

Backwards are the inverse shape op, written so they also apply to Variables
(create_graph).  Dims are checked with torch's IndexError message.
"""
from __future__ import annotations

import numpy as np

from refengine.function import ArrayFunction
from refengine.ops.common import is_var, method
from refengine.ops.dtypes import result_dtype
from refengine.ops.reduce import normalize_dims


def _shape_arg(shape) -> tuple:
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    return tuple(int(s) for s in shape)


def _dim(d, ndim: int) -> int:
    """One dim in ``[-ndim, ndim)`` (0-d accepts -1 and 0) as a non-negative axis."""
    (a,) = normalize_dims(d, ndim) or (0,)
    return a


class Reshape(ArrayFunction):
    node_name = "ViewBackward0"

    @staticmethod
    def forward(ctx, a, shape=()):
        ctx.shape = a.shape
        try:
            return np.reshape(a, shape)
        except ValueError:
            raise RuntimeError(f"shape '{list(shape)}' is invalid for input of size {a.size}") from None

    @staticmethod
    def backward(ctx, g):
        return reshape(g, ctx.shape) if is_var(g) else np.reshape(g, ctx.shape)

    @staticmethod
    def jvp(ctx, t):
        return np.reshape(t, ctx._output_meta[0][0])  # linear: the op on the tangent (the output's shape)


class Expand(ArrayFunction):
    node_name = "ExpandBackward0"

    @staticmethod
    def forward(ctx, a, shape=()):
        lead = len(shape) - a.ndim
        if lead < 0:
            raise RuntimeError(
                f"expand: the number of sizes provided ({len(shape)}) must be greater or equal to the "
                f"number of dimensions in the tensor ({a.ndim})")
        shape = tuple(a.shape[i - lead] if s == -1 and i >= lead else s for i, s in enumerate(shape))
        ctx.shape = a.shape
        try:
            return np.broadcast_to(a, shape)
        except ValueError:
            raise RuntimeError(
                f"The expanded size of the tensor ({list(shape)}) must match the existing size "
                f"({list(a.shape)}) at non-singleton dimensions") from None

    @staticmethod
    def backward(ctx, g):
        from refengine.ops.common import sum_to_shape
        return sum_to_shape(g, ctx.shape)

    @staticmethod
    def jvp(ctx, t):
        return np.broadcast_to(t, ctx._output_meta[0][0])  # linear: the op on the tangent


class Transpose(ArrayFunction):
    node_name = "TransposeBackward0"

    @staticmethod
    def forward(ctx, a, axes=None):
        ctx.axes = axes
        return np.transpose(a, axes)

    @staticmethod
    def backward(ctx, g):
        inv = None if ctx.axes is None else tuple(int(i) for i in np.argsort(ctx.axes))
        return Transpose.apply(g, axes=inv) if is_var(g) else np.transpose(g, inv)

    @staticmethod
    def jvp(ctx, t):
        return np.transpose(t, ctx.axes)  # linear: the op on the tangent


class Permute(Transpose):
    node_name = "PermuteBackward0"


class Squeeze(Reshape):
    node_name = "SqueezeBackward0"


class SqueezeDim(Reshape):
    node_name = "SqueezeBackward1"


class Unsqueeze(Reshape):
    node_name = "UnsqueezeBackward0"


def _promoted(arrays) -> np.dtype:
    """torch's dtype for cat/stack: operands promote pairwise as a binary op's do, so float32 with
    int64 stays float32 (numpy's concatenate would widen it to float64)."""
    dt = np.asarray(arrays[0]).dtype
    for a in arrays[1:]:
        probe = np.empty(np.shape(a), dt)  # same rank as ``a``: only the dtypes decide
        dt = result_dtype(probe, a) or np.result_type(dt, np.asarray(a).dtype)
    return np.dtype(dt)


class Cat(ArrayFunction):
    node_name = "CatBackward0"

    @staticmethod
    def forward(ctx, *arrays, dim=0):
        ctx.sizes = [a.shape[dim] for a in arrays]
        ctx.dim = dim
        return np.concatenate(arrays, axis=dim, dtype=_promoted(arrays))

    @staticmethod
    def backward(ctx, g):
        out, start = [], 0
        for n in ctx.sizes:
            idx = (slice(None),) * ctx.dim + (slice(start, start + n),)
            out.append(g[idx] if is_var(g) else np.array(g[idx]))
            start += n
        return tuple(out)


class Stack(Cat):
    node_name = "StackBackward0"

    @staticmethod
    def forward(ctx, *arrays, dim=0):
        ctx.sizes, ctx.dim = [1] * len(arrays), dim
        return np.stack(arrays, axis=dim, dtype=_promoted(arrays))

    @staticmethod
    def backward(ctx, g):
        parts = Cat.backward(ctx, g)
        return tuple(squeeze(p, ctx.dim) if is_var(p) else np.squeeze(p, ctx.dim) for p in parts)


class Split(ArrayFunction):
    """One node with one output per chunk; chunks that get no gradient contribute zeros."""

    node_name = "SplitBackward0"

    @staticmethod
    def forward(ctx, a, sections=(), dim=0):
        ctx.dim = dim
        bounds = np.cumsum(sections)[:-1]
        return tuple(np.array(p) for p in np.split(a, bounds, axis=dim))

    @staticmethod
    def backward(ctx, *grads):
        return cat(list(grads), ctx.dim) if is_var(grads[0]) else np.concatenate(grads, axis=ctx.dim)

    @staticmethod
    def jvp(ctx, t):  # linear: the tangent split where the outputs were
        return tuple(np.split(t, np.cumsum([shape[ctx.dim] for shape, _ in ctx._output_meta])[:-1], axis=ctx.dim))


@method()
def reshape(input, *shape):
    """A Variable with the same data in a new shape (one dim may be -1)."""
    return Reshape.apply(input, shape=_shape_arg(shape))


@method()
def view(input, *shape):
    """As reshape (refengine has no strided views to protect)."""
    return Reshape.apply(input, shape=_shape_arg(shape))


@method()
def expand(input, *shape):
    """Broadcast to a larger shape (-1 keeps a dim); the gradient is summed back."""
    return Expand.apply(input, shape=_shape_arg(shape))


@method()
def transpose(input, dim0, dim1):
    """Swap two dims."""
    nd = input.ndim
    a, b = _dim(dim0, nd), _dim(dim1, nd)
    axes = list(range(nd))
    if nd:
        axes[a], axes[b] = axes[b], axes[a]
    return Transpose.apply(input, axes=tuple(axes))


@method()
def permute(input, *dims):
    """Reorder the dims: ``dims`` is a permutation of ``range(ndim)`` (negative allowed)."""
    dims = _shape_arg(dims)
    nd = input.ndim
    if len(dims) != nd:
        raise RuntimeError(f"permute(sparse_coo): number of dimensions in the tensor input does not match "
                           f"the length of the desired ordering of dimensions i.e. input.dim() = {nd} is not "
                           f"equal to len(dims) = {len(dims)}")
    axes = tuple(_dim(d, nd) for d in dims)
    if len(set(axes)) != nd:
        raise RuntimeError("permute(): duplicate dims are not allowed.")
    return Permute.apply(input, axes=axes if nd else None)


def t_all(input):
    """``x.T``: reverse all dims."""
    return Transpose.apply(input, axes=tuple(reversed(range(input.ndim))))


@method()
def squeeze(input, dim=None):
    """Drop size-1 dims (all of them, or those in ``dim`` that have size 1)."""
    shape = input.shape
    if dim is None:
        return Squeeze.apply(input, shape=tuple(s for s in shape if s != 1))
    dims = normalize_dims(dim, len(shape))
    return SqueezeDim.apply(input, shape=tuple(s for i, s in enumerate(shape) if not (i in dims and s == 1)))


@method()
def unsqueeze(input, dim):
    """Insert a size-1 dim at ``dim`` (in ``[-ndim-1, ndim]``)."""
    nd = input.ndim
    if not isinstance(dim, (int, np.integer)) or not -nd - 1 <= dim <= nd:
        raise IndexError(f"Dimension out of range (expected to be in range of [{-nd - 1}, {nd}], but got {dim})")
    s = list(input.shape)
    s.insert(dim % (nd + 1), 1)
    return Unsqueeze.apply(input, shape=tuple(s))


@method()
def flatten(input, start_dim=0, end_dim=-1):
    """Merge dims ``start_dim..end_dim`` into one (a 0-d input becomes 1-D)."""
    shape = input.shape
    if not shape:
        return Reshape.apply(input, shape=(1,))
    a, b = _dim(start_dim, len(shape)), _dim(end_dim, len(shape))
    if a > b:
        raise RuntimeError("flatten() has invalid args: start_dim cannot come after end_dim")
    new = shape[:a] + (int(np.prod(shape[a:b + 1])),) + shape[b + 1:]
    return Reshape.apply(input, shape=new)


def _check_list(tensors, name):
    from refengine.variable import Variable
    if isinstance(tensors, Variable) or not isinstance(tensors, (list, tuple)):
        raise TypeError(f"{name}(): argument 'tensors' must be a tuple or list of Tensors, "
                        f"not {type(tensors).__name__}")
    if not tensors:
        raise ValueError(f"{name}(): expected a non-empty list of Tensors")
    return list(tensors)


def cat(tensors, dim=0):
    """Concatenate along an existing dim; all other dims must match."""
    tensors = _check_list(tensors, "torch.cat")
    shapes = [np.shape(t) for t in tensors]
    for i, s in enumerate(shapes):
        if len(s) == 0:
            raise RuntimeError(f"zero-dimensional tensor (at position {i}) cannot be concatenated")
    d = _dim(dim, len(shapes[0]))
    for i, s in enumerate(shapes[1:], 1):
        if len(s) != len(shapes[0]):
            raise RuntimeError(f"Tensors must have same number of dimensions: got {len(shapes[0])} and {len(s)}")
        for k, (p, q) in enumerate(zip(shapes[0], s)):
            if k != d and p != q:
                raise RuntimeError(f"Sizes of tensors must match except in dimension {d}. Expected size {p} "
                                   f"but got size {q} for tensor number {i} in the list.")
    return Cat.apply(*tensors, dim=d)


def stack(tensors, dim=0):
    """Stack equal-shaped tensors along a new dim."""
    tensors = _check_list(tensors, "stack")
    shapes = [np.shape(t) for t in tensors]
    for i, s in enumerate(shapes[1:], 1):
        if s != shapes[0]:
            raise RuntimeError(f"stack expects each tensor to be equal size, but got {list(shapes[0])} at "
                               f"entry 0 and {list(s)} at entry {i}")
    nd = len(shapes[0])
    if not isinstance(dim, (int, np.integer)) or not -nd - 1 <= dim <= nd:
        raise IndexError(f"Dimension out of range (expected to be in range of [{-nd - 1}, {nd}], but got {dim})")
    return Stack.apply(*tensors, dim=dim % (nd + 1))


@method()
def split(tensor, split_size_or_sections, dim=0):
    """Chunks of ``split_size`` (last may be smaller) or of the listed sizes, along ``dim``."""
    nd = tensor.ndim
    if nd == 0:
        raise RuntimeError("split expects at least a 1-dimensional tensor")
    d = _dim(dim, nd)
    n = tensor.shape[d]
    if isinstance(split_size_or_sections, (int, np.integer)):
        size = int(split_size_or_sections)
        if size <= 0 and n:
            raise RuntimeError(f"split_size can only be 0 if dimension size is 0, but got dimension size of {n}")
        sections = [size] * (n // size) + ([n % size] if n % size else []) if size else [0]
    else:
        sections = [int(s) for s in split_size_or_sections]
        if sum(sections) != n or min(sections, default=0) < 0:
            raise RuntimeError(f"split_with_sizes expects split_sizes to sum exactly to {n} (input tensor's size "
                               f"at dimension {d}), but got split_sizes={sections}")
    out = Split.apply(tensor, sections=tuple(sections), dim=d)
    return out if isinstance(out, tuple) else (out,)
