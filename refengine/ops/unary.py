"""Elementwise unary ops (a first set; the ops issue widens it onto Cython kernels)."""
from __future__ import annotations

import numpy as np

from refengine.function import ArrayFunction
from refengine.ops.common import dual, method

_cos = dual(np.cos, "cos")
_sin = dual(np.sin, "sin")
_sign = dual(np.sign, "sign")


class Exp(ArrayFunction):
    node_name = "ExpBackward0"

    @staticmethod
    def forward(ctx, a):
        r = np.exp(a)
        ctx.save_for_backward(r)
        return r

    @staticmethod
    def backward(ctx, g):
        (r,) = ctx.saved_tensors
        return g * r


class Log(ArrayFunction):
    node_name = "LogBackward0"

    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return np.log(a)

    @staticmethod
    def backward(ctx, g):
        (a,) = ctx.saved_tensors
        return g / a


class Sqrt(ArrayFunction):
    node_name = "SqrtBackward0"

    @staticmethod
    def forward(ctx, a):
        r = np.sqrt(a)
        ctx.save_for_backward(r)
        return r

    @staticmethod
    def backward(ctx, g):
        (r,) = ctx.saved_tensors
        return g / (2 * r)


class Sin(ArrayFunction):
    node_name = "SinBackward0"

    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return np.sin(a)

    @staticmethod
    def backward(ctx, g):
        (a,) = ctx.saved_tensors
        return g * _cos(a)


class Cos(ArrayFunction):
    node_name = "CosBackward0"

    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return np.cos(a)

    @staticmethod
    def backward(ctx, g):
        (a,) = ctx.saved_tensors
        return -g * _sin(a)


class Tanh(ArrayFunction):
    node_name = "TanhBackward0"

    @staticmethod
    def forward(ctx, a):
        r = np.tanh(a)
        ctx.save_for_backward(r)
        return r

    @staticmethod
    def backward(ctx, g):
        (r,) = ctx.saved_tensors
        return g * (1 - r * r)


class Abs(ArrayFunction):
    node_name = "AbsBackward0"

    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return np.abs(a)

    @staticmethod
    def backward(ctx, g):
        (a,) = ctx.saved_tensors
        return g * np.sign(a.data if hasattr(a, "grad_fn") else a)


@method()
def exp(input):
    return Exp.apply(input)


@method()
def log(input):
    return Log.apply(input)


@method()
def sqrt(input):
    return Sqrt.apply(input)


@method()
def sin(input):
    return Sin.apply(input)


@method()
def cos(input):
    return Cos.apply(input)


@method()
def tanh(input):
    return Tanh.apply(input)


@method()
def abs(input):
    return Abs.apply(input)
