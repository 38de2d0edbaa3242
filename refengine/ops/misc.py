"""Copies, dtype casts and comparisons (comparisons never carry gradient)."""
from __future__ import annotations

import numpy as np

from refengine.function import ArrayFunction
from refengine.ops.common import data_of, is_var, method
from refengine.variable import Variable


class Clone(ArrayFunction):
    node_name = "CloneBackward0"

    @staticmethod
    def forward(ctx, a):
        return np.array(a, copy=True)

    @staticmethod
    def backward(ctx, g):
        return g


class Cast(ArrayFunction):
    node_name = "ToCopyBackward0"

    @staticmethod
    def forward(ctx, a, dtype=None):
        ctx.dtype = a.dtype
        return a.astype(dtype)

    @staticmethod
    def backward(ctx, g):
        return Cast.apply(g, dtype=ctx.dtype) if is_var(g) else g.astype(ctx.dtype)


@method()
def clone(input):
    """A copy that stays in the graph."""
    return Clone.apply(input)


def cast(input, dtype):
    """``input`` converted to ``dtype``, differentiably."""
    return Cast.apply(input, dtype=np.dtype(dtype))


@method()
def to(input, dtype):
    return input if input.dtype == np.dtype(dtype) else cast(input, dtype)


@method("float")
def float_(input):
    return to(input, np.float32)


@method("double")
def double(input):
    return to(input, np.float64)


_CMP = {"lt": np.less, "le": np.less_equal, "gt": np.greater, "ge": np.greater_equal,
        "eq": np.equal, "ne": np.not_equal}


def compare(a, b, op: str) -> Variable:
    """Elementwise comparison as a bool Variable.

    A new leaf that does not require grad, whatever its operands do: a step function has no
    useful derivative, and torch records no graph for it (``(x < y).requires_grad`` is False),
    so a mask made from a tensor that requires grad can drive ``where`` or ``masked_fill``."""
    return Variable(np.asarray(_CMP[op](data_of(a), data_of(b))))


# torch's module functions and methods (torch.lt(x, y), x.lt(y)); the operators above call compare too
@method()
def eq(input, other):
    return compare(input, other, "eq")


@method()
def ne(input, other):
    return compare(input, other, "ne")


@method()
def lt(input, other):
    return compare(input, other, "lt")


@method()
def le(input, other):
    return compare(input, other, "le")


@method()
def gt(input, other):
    return compare(input, other, "gt")


@method()
def ge(input, other):
    return compare(input, other, "ge")
