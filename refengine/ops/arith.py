"""Arithmetic: add, sub, mul, div, neg, pow — with numpy broadcasting, gradients summed
back to each input's shape, and Python scalars treated as constants."""
from __future__ import annotations

import numpy as np

from refengine.function import ArrayFunction
from refengine.ops.common import dual, method, shape_of, sum_to_shape

_log = dual(np.log, "log")


class Add(ArrayFunction):
    node_name = "AddBackward0"

    @staticmethod
    def forward(ctx, a, b):
        ctx.shapes = (np.shape(a), np.shape(b))
        return np.add(a, b)

    @staticmethod
    def backward(ctx, g):
        sa, sb = ctx.shapes
        return sum_to_shape(g, sa), sum_to_shape(g, sb)


class Sub(ArrayFunction):
    node_name = "SubBackward0"

    @staticmethod
    def forward(ctx, a, b):
        ctx.shapes = (np.shape(a), np.shape(b))
        return np.subtract(a, b)

    @staticmethod
    def backward(ctx, g):
        sa, sb = ctx.shapes
        return sum_to_shape(g, sa), sum_to_shape(-g, sb)


class Mul(ArrayFunction):
    node_name = "MulBackward0"

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return np.multiply(a, b)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        ga = sum_to_shape(g * b, shape_of(a)) if ctx.needs_input_grad[0] else None
        gb = sum_to_shape(g * a, shape_of(b)) if ctx.needs_input_grad[1] else None
        return ga, gb


class Div(ArrayFunction):
    node_name = "DivBackward0"

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return np.divide(a, b)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        ga = sum_to_shape(g / b, shape_of(a)) if ctx.needs_input_grad[0] else None
        gb = sum_to_shape(-g * a / (b * b), shape_of(b)) if ctx.needs_input_grad[1] else None
        return ga, gb


class Neg(ArrayFunction):
    node_name = "NegBackward0"

    @staticmethod
    def forward(ctx, a):
        return np.negative(a)

    @staticmethod
    def backward(ctx, g):
        return -g


class Pow(ArrayFunction):
    node_name = "PowBackward1"

    @staticmethod
    def forward(ctx, a, b):
        r = np.power(a, b)
        ctx.save_for_backward(a, b, r)
        return r

    @staticmethod
    def backward(ctx, g):
        a, b, r = ctx.saved_tensors
        ga = gb = None
        if ctx.needs_input_grad[0]:
            # b * a**(b-1), written so that a == 0 with b >= 1 stays finite
            ga = sum_to_shape(g * b * a ** (b - 1), shape_of(a))
        if ctx.needs_input_grad[1]:
            gb = sum_to_shape(g * r * _log(a), shape_of(b))
        return ga, gb


@method()
def add(input, other):
    """``input + other`` with broadcasting."""
    return Add.apply(input, other)


@method()
def sub(input, other):
    """``input - other`` with broadcasting."""
    return Sub.apply(input, other)


@method()
def mul(input, other):
    """``input * other`` with broadcasting."""
    return Mul.apply(input, other)


@method()
def div(input, other):
    """``input / other`` (true division) with broadcasting."""
    return Div.apply(input, other)


@method()
def neg(input):
    return Neg.apply(input)


@method()
def pow(input, exponent):
    """``input ** exponent``; a Variable exponent gets a gradient too."""
    return Pow.apply(input, exponent)
