"""Binary elementwise ops: add, sub, mul, div, neg, pow, maximum, minimum, where.

numpy broadcasting with gradients summed back to each input's shape, torch's
dtype promotion and broadcasting errors (``dtypes.binary``), Python scalars
treated as constants.  Every backward is written with operators and the
polymorphic helpers of ``common`` so it also runs on Variables (create_graph).
"""
from __future__ import annotations

import numpy as np

from refengine.function import ArrayFunction
from refengine.ops.common import dual, is_var, method, shape_of, sum_to_shape, data_of
from refengine.ops.dtypes import binary

_log = dual(np.log, "log")


def _shape(x):
    return x.shape if type(x) is np.ndarray else np.shape(x)


class Add(ArrayFunction):
    node_name = "AddBackward0"

    @staticmethod
    def forward(ctx, a, b):
        ctx.shapes = (_shape(a), _shape(b))
        return binary(np.add, a, b)

    @staticmethod
    def backward(ctx, g):
        sa, sb = ctx.shapes
        need = ctx.needs_input_grad
        return (sum_to_shape(g, sa) if need[0] else None), (sum_to_shape(g, sb) if need[1] else None)


class Sub(ArrayFunction):
    node_name = "SubBackward0"

    @staticmethod
    def forward(ctx, a, b):
        ctx.shapes = (_shape(a), _shape(b))
        return binary(np.subtract, a, b)

    @staticmethod
    def backward(ctx, g):
        sa, sb = ctx.shapes
        need = ctx.needs_input_grad
        return (sum_to_shape(g, sa) if need[0] else None), (sum_to_shape(-g, sb) if need[1] else None)


class Mul(ArrayFunction):
    node_name = "MulBackward0"

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return binary(np.multiply, a, b)

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
        with np.errstate(divide="ignore", invalid="ignore"):
            return binary(np.divide, a, b)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        with np.errstate(divide="ignore", invalid="ignore"):
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
    """``a ** b``; torch masks the two 0 * inf cases: d/da at b == 0 and d/db at a == 0, b >= 0."""

    node_name = "PowBackward1"

    @staticmethod
    def forward(ctx, a, b):
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            r = binary(np.power, a, b)
        ctx.save_for_backward(a, b, r)
        return r

    @staticmethod
    def backward(ctx, g):
        a, b, r = ctx.saved_tensors
        ga = gb = None
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            if ctx.needs_input_grad[0]:
                if is_var(b) or isinstance(b, np.ndarray):
                    da = where(data_of(b) == 0, 0.0, b * a ** (b - 1))
                else:
                    da = b * a ** (b - 1) if b != 0 else 0.0 * a
                ga = sum_to_shape(g * da, shape_of(a))
            if ctx.needs_input_grad[1]:
                mask = (data_of(a) == 0) & (data_of(b) >= 0)
                db = r * _log(where(mask, 1.0, a)) if np.any(mask) else r * _log(a)
                gb = sum_to_shape(g * db, shape_of(b))
        return ga, gb


class PowScalar(Pow):
    node_name = "PowBackward0"


class PowScalarBase(Pow):
    node_name = "PowBackward2"


class _MinMax(ArrayFunction):
    """maximum/minimum: the gradient goes to the larger (smaller) input; ties split it evenly."""

    ufunc = None

    @classmethod
    def forward(cls, ctx, a, b):
        ctx.save_for_backward(a, b)
        return binary(cls.ufunc, a, b)

    @classmethod
    def backward(cls, ctx, g):
        a, b = ctx.saved_tensors
        da, db = data_of(a), data_of(b)
        win = cls.ufunc(da, db) == da          # a wins (or ties)
        tie = da == db
        wa = np.where(tie, 0.5, win).astype(g.dtype)
        wb = np.where(tie, 0.5, ~win).astype(g.dtype)
        ga = sum_to_shape(g * wa, shape_of(a)) if ctx.needs_input_grad[0] else None
        gb = sum_to_shape(g * wb, shape_of(b)) if ctx.needs_input_grad[1] else None
        return ga, gb


class Maximum(_MinMax):
    node_name = "MaximumBackward0"
    ufunc = np.maximum


class Minimum(_MinMax):
    node_name = "MinimumBackward0"
    ufunc = np.minimum


class Where(ArrayFunction):
    node_name = "WhereBackward0"

    @staticmethod
    def forward(ctx, cond, a, b):
        cond = np.asarray(cond)
        if cond.dtype != np.bool_:
            raise RuntimeError(f"where expected condition to be a boolean tensor, but got a tensor with dtype {cond.dtype}")
        ctx.cond, ctx.shapes = cond, (np.shape(a), np.shape(b))
        from refengine.ops.dtypes import broadcast_shape, result_dtype
        broadcast_shape(broadcast_shape(cond.shape, np.shape(a)), np.shape(b))
        dt = result_dtype(a, b)
        r = np.where(cond, a, b)
        return r if dt is None else r.astype(dt)

    @staticmethod
    def backward(ctx, g):
        sa, sb = ctx.shapes
        ga = sum_to_shape(where(ctx.cond, g, 0.0), sa) if ctx.needs_input_grad[1] else None
        gb = sum_to_shape(where(ctx.cond, 0.0, g), sb) if ctx.needs_input_grad[2] else None
        return None, ga, gb


@method()
def add(input, other, alpha=1):
    """``input + alpha * other`` with broadcasting."""
    return Add.apply(input, other if alpha == 1 else mul(other, alpha))


@method()
def sub(input, other, alpha=1):
    """``input - alpha * other`` with broadcasting."""
    return Sub.apply(input, other if alpha == 1 else mul(other, alpha))


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
    if not is_var(exponent):
        return PowScalar.apply(input, exponent)
    if not is_var(input):
        return PowScalarBase.apply(input, exponent)
    return Pow.apply(input, exponent)


@method()
def maximum(input, other):
    """Elementwise max; at ties each input gets half the gradient (as torch)."""
    return Maximum.apply(input, other)


@method()
def minimum(input, other):
    """Elementwise min; at ties each input gets half the gradient (as torch)."""
    return Minimum.apply(input, other)


def where(condition, input, other):
    """``input`` where ``condition`` else ``other`` (arrays in, arrays out; Variables differentiably)."""
    if not (is_var(input) or is_var(other)):
        return np.where(data_of(condition), input, other)
    return Where.apply(data_of(condition), input, other)
