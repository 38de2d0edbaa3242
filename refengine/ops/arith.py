"""Binary elementwise ops: add, sub, mul, div, neg, pow, maximum, minimum, where.

numpy broadcasting with gradients summed back to each input's shape, torch's
dtype promotion and broadcasting errors (``dtypes.binary``), Python scalars
treated as constants.  Every backward is written with operators and the
polymorphic helpers of ``common`` so it also runs on Variables (create_graph).
"""
from __future__ import annotations

import numpy as np

from refengine.function import ArrayFunction, _register_arith
from refengine.ops.common import dual, is_var, method, shape_of, sum_to_shape, data_of
from refengine.ops.dtypes import binary

_log = dual(np.log, "log")


def _shape(x):
    return x.shape if type(x) is np.ndarray else np.shape(x)


def _is_scalar(x):
    t = type(x)
    return t is float or t is int


def _broadcast_from(a, b, r):
    """The input shapes if an array input was broadcast to ``r``'s shape, else None (backward then
    skips sum_to_shape).  A Python scalar never needs a gradient, so its shape does not matter."""
    rs = r.shape
    if ((_is_scalar(a) or (type(a) is np.ndarray and a.shape == rs))
            and (_is_scalar(b) or (type(b) is np.ndarray and b.shape == rs))):
        return None
    return _shape(a), _shape(b)


class Add(ArrayFunction):
    node_name = "AddBackward0"

    @staticmethod
    def forward(ctx, a, b):
        tb = type(b)
        if tb is float or tb is int:  # y op 0.5: numpy's weak scalar already agrees with torch
            r = np.add(a, b)
            if type(a) is np.ndarray and a.shape == r.shape:
                return r  # nothing broadcast: _op_state stays None
        else:
            r = binary(np.add, a, b)
        ctx._op_state = _broadcast_from(a, b, r)  # a Node slot: no ctx.__dict__ entry
        return r

    @staticmethod
    def backward(ctx, g):
        need = ctx.needs_input_grad
        shapes = ctx._op_state
        if shapes is None:
            return (g if need[0] else None), (g if need[1] else None)
        sa, sb = shapes
        return (sum_to_shape(g, sa) if need[0] else None), (sum_to_shape(g, sb) if need[1] else None)

    @staticmethod
    def jvp(ctx, ta, tb):
        return _plus(ta, tb)  # broadcast to the output by the caller


def _plus(x, y):
    """x + y where None is a zero tangent (a constant operand)."""
    return x if y is None else y if x is None else x + y


def _minus(t):
    return None if t is None else -t


_BOOL_SUB = ("Subtraction, the `-` operator, with a bool tensor is not supported. If you are trying to "
             "invert a mask, use the `~` or `logical_not()` operator instead.")


def _is_bool(x) -> bool:
    t = type(x)
    return t is bool or t is np.bool_ or (t is np.ndarray and x.dtype.kind == "b")


class Sub(ArrayFunction):
    node_name = "SubBackward0"

    @staticmethod
    def forward(ctx, a, b):
        tb = type(b)
        if _is_bool(a) or _is_bool(b):  # here, not in sub(): Variable.__sub__ comes straight to Sub
            raise RuntimeError(_BOOL_SUB)
        if tb is float or tb is int:  # y op 0.5: numpy's weak scalar already agrees with torch
            r = np.subtract(a, b)
            if type(a) is np.ndarray and a.shape == r.shape:
                return r  # nothing broadcast: _op_state stays None
        else:
            r = binary(np.subtract, a, b)
        ctx._op_state = _broadcast_from(a, b, r)
        return r

    @staticmethod
    def backward(ctx, g):
        need = ctx.needs_input_grad
        shapes = ctx._op_state
        if shapes is None:
            return (g if need[0] else None), (-g if need[1] else None)
        sa, sb = shapes
        return (sum_to_shape(g, sa) if need[0] else None), (sum_to_shape(-g, sb) if need[1] else None)

    @staticmethod
    def jvp(ctx, ta, tb):
        return _plus(ta, _minus(tb))


def _unbroadcast(g, like):
    # sum_to_shape only when the shapes differ (skips two Python calls in the common case)
    shape = like.shape
    return g if g.shape == shape else sum_to_shape(g, shape)


class Mul(ArrayFunction):
    node_name = "MulBackward0"

    @staticmethod
    def forward(ctx, a, b):
        ctx._raw_saved = (a, b)  # what ctx.save_for_backward(a, b) does, without the method call
        tb = type(b)
        return np.multiply(a, b) if tb is float or tb is int else binary(np.multiply, a, b)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        need = ctx.needs_input_grad
        ga = gb = None
        if need[0]:  # sum_to_shape only when a was broadcast (inline: no extra Python call)
            ga = g * b
            if ga.shape != a.shape:
                ga = sum_to_shape(ga, a.shape)
        if need[1]:
            gb = g * a
            if gb.shape != b.shape:
                gb = sum_to_shape(gb, b.shape)
        return ga, gb

    @staticmethod
    def jvp(ctx, ta, tb):
        a, b = ctx.saved_tensors
        return _plus(None if ta is None else ta * b, None if tb is None else a * tb)


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
            ga = _unbroadcast(g / b, a) if ctx.needs_input_grad[0] else None
            # torch's -g * ((a / b) / b), not a / (b * b): b * b under- or overflows for |b|
            # beyond 1e+-154 (float64; 1e+-19 float32), turning a finite gradient into 0, inf or NaN
            gb = _unbroadcast(-g * ((a / b) / b), b) if ctx.needs_input_grad[1] else None
        return ga, gb

    @staticmethod
    def jvp(ctx, ta, tb):
        a, b = ctx.saved_tensors
        return _plus(None if ta is None else ta / b, None if tb is None else -tb * ((a / b) / b))


# their small-array cases are computed in C by refengine.function (_apply_arith, _run_arith): the
# same numbers as the forward/backward above, which stay the definition for every other case
_register_arith(Add, Sub, Mul, Div)


class Neg(ArrayFunction):
    node_name = "NegBackward0"

    @staticmethod
    def forward(ctx, a):
        return np.negative(a)

    @staticmethod
    def backward(ctx, g):
        return -g

    jvp = backward  # linear: J t = -t


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
    """maximum/minimum: the gradient goes to the larger (smaller) input; ties split it evenly.

    torch's masks, not "which input equals the result": an input is masked out only where
    it compares strictly worse, so with a NaN on either side both inputs get the gradient."""

    ufunc = None
    loses = None  # a (strictly) loses to b

    @classmethod
    def forward(cls, ctx, a, b):
        ctx.save_for_backward(a, b)
        return binary(cls.ufunc, a, b)

    @classmethod
    def backward(cls, ctx, g):
        a, b = ctx.saved_tensors
        da, db = data_of(a), data_of(b)
        tie = da == db
        wa = np.where(tie, 0.5, ~cls.loses(da, db)).astype(g.dtype)
        wb = np.where(tie, 0.5, ~cls.loses(db, da)).astype(g.dtype)
        ga = sum_to_shape(g * wa, shape_of(a)) if ctx.needs_input_grad[0] else None
        gb = sum_to_shape(g * wb, shape_of(b)) if ctx.needs_input_grad[1] else None
        return ga, gb

    @classmethod
    def jvp(cls, ctx, ta, tb):
        a, b = ctx.saved_tensors  # the same weights as backward, on the tangents (nothing summed back)
        da, db = data_of(a), data_of(b)
        tie = da == db
        wa, wb = np.where(tie, 0.5, ~cls.loses(da, db)), np.where(tie, 0.5, ~cls.loses(db, da))
        return _plus(None if ta is None else ta * wa, None if tb is None else tb * wb)


class Maximum(_MinMax):
    node_name = "MaximumBackward0"
    ufunc = np.maximum
    loses = np.less


class Minimum(_MinMax):
    node_name = "MinimumBackward0"
    ufunc = np.minimum
    loses = np.greater


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

    @staticmethod
    def jvp(ctx, tcond, ta, tb):
        return np.where(ctx.cond, 0.0 if ta is None else ta, 0.0 if tb is None else tb)


@method()
def add(input, other, alpha=1):
    """``input + alpha * other`` with broadcasting."""
    return Add.apply(input, other if alpha == 1 else mul(other, alpha))


@method()
def sub(input, other, alpha=1):
    """``input - alpha * other`` with broadcasting; a bool operand is refused, as torch does."""
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
