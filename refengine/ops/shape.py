"""Shape ops: reshape/view, expand, transpose, ``.T``."""
from __future__ import annotations

import numpy as np

from refengine.function import ArrayFunction
from refengine.ops.common import is_var, method


def _shape_arg(shape) -> tuple:
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    return tuple(int(s) for s in shape)


class Reshape(ArrayFunction):
    node_name = "ReshapeAliasBackward0"

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


class Expand(ArrayFunction):
    node_name = "ExpandBackward0"

    @staticmethod
    def forward(ctx, a, shape=()):
        shape = tuple(a.shape[i - (len(shape) - a.ndim)] if s == -1 else s for i, s in enumerate(shape))
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


class Transpose(ArrayFunction):
    node_name = "TransposeBackward0"

    @staticmethod
    def forward(ctx, a, axes=None):
        ctx.axes = axes
        return np.transpose(a, axes)

    @staticmethod
    def backward(ctx, g):
        inv = None if ctx.axes is None else tuple(np.argsort(ctx.axes))
        return Transpose.apply(g, axes=inv) if is_var(g) else np.transpose(g, inv)


@method()
def reshape(input, *shape):
    """A Variable with the same data in a new shape (one dim may be -1)."""
    return Reshape.apply(input, shape=_shape_arg(shape))


@method()
def view(input, *shape):
    return Reshape.apply(input, shape=_shape_arg(shape))


@method()
def expand(input, *shape):
    """Broadcast to a larger shape (-1 keeps a dim); the gradient is summed back."""
    return Expand.apply(input, shape=_shape_arg(shape))


@method()
def transpose(input, dim0, dim1):
    """Swap two dims."""
    nd = input.ndim
    axes = list(range(nd))
    for d in (dim0, dim1):
        if not -max(nd, 1) <= d < max(nd, 1):
            raise IndexError(f"Dimension out of range (expected to be in range of [{-nd}, {nd - 1}], but got {d})")
    if nd:
        axes[dim0], axes[dim1] = axes[dim1], axes[dim0]
    return Transpose.apply(input, axes=tuple(axes))


def t_all(input):
    """``x.T``: reverse all dims."""
    return Transpose.apply(input, axes=tuple(reversed(range(input.ndim))))
