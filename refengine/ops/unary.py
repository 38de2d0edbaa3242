"""Elementwise unary ops: exp, log, sqrt, sin, cos, tanh, sigmoid, relu, abs, clamp.

Where a fused Cython kernel exists (``refengine.kernels``), the plain backward
calls it (one pass, no temporaries); under ``create_graph`` the same formula is
evaluated with differentiable ops instead, so second derivatives work.
"""
from __future__ import annotations

import numpy as np

from refengine import kernels as K
from refengine.function import ArrayFunction
from refengine.ops.common import data_of, dual, is_var, method

_cos = dual(np.cos, "cos")
_sin = dual(np.sin, "sin")


def _fused(kernel, g, s, *args):
    """Run a fused backward kernel when both operands are plain arrays of one dtype."""
    return None if is_var(g) or g.dtype != s.dtype or g.shape != s.shape else kernel(g, s, *args)


def _transcendental(kernel, ufunc, a):
    """float32 arrays on the vectorised kernel (<= 1 ulp, one pass); float64 on numpy's ufunc,
    whose SIMD float64 exp/log beat the kernel's scalar libm loop at the same accuracy."""
    if a.dtype == np.float32:
        return kernel(a)
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        return ufunc(a)


class Exp(ArrayFunction):
    node_name = "ExpBackward0"

    @staticmethod
    def forward(ctx, a):
        r = _transcendental(K.exp_forward, np.exp, a)
        ctx.save_for_backward(r)
        return r

    @staticmethod
    def backward(ctx, g):
        (r,) = ctx.saved_tensors
        out = _fused(K.exp_backward, g, r)
        return g * r if out is None else out

    jvp = backward  # elementwise: the Jacobian is diagonal, so J t = J^T t


class Log(ArrayFunction):
    node_name = "LogBackward0"

    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return _transcendental(K.log_forward, np.log, a)

    @staticmethod
    def backward(ctx, g):
        (a,) = ctx.saved_tensors
        out = _fused(K.log_backward, g, a)
        if out is None:
            with np.errstate(divide="ignore", invalid="ignore"):
                out = g / a
        return out

    jvp = backward  # elementwise: the Jacobian is diagonal, so J t = J^T t


class Sqrt(ArrayFunction):
    node_name = "SqrtBackward0"

    @staticmethod
    def forward(ctx, a):
        with np.errstate(invalid="ignore"):
            r = np.sqrt(a)
        ctx.save_for_backward(r)
        return r

    @staticmethod
    def backward(ctx, g):
        (r,) = ctx.saved_tensors
        with np.errstate(divide="ignore", invalid="ignore"):
            return g / (2 * r)

    jvp = backward  # elementwise: the Jacobian is diagonal, so J t = J^T t


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

    jvp = backward  # elementwise: the Jacobian is diagonal, so J t = J^T t


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

    jvp = backward  # elementwise: the Jacobian is diagonal, so J t = J^T t


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
        out = _fused(K.tanh_backward, g, r)
        return g * (1 - r * r) if out is None else out

    jvp = backward  # elementwise: the Jacobian is diagonal, so J t = J^T t


class Sigmoid(ArrayFunction):
    node_name = "SigmoidBackward0"

    @staticmethod
    def forward(ctx, a):
        r = K.sigmoid_forward(a)
        ctx.save_for_backward(r)
        return r

    @staticmethod
    def backward(ctx, g):
        (r,) = ctx.saved_tensors
        out = _fused(K.sigmoid_backward, g, r)
        return g * r * (1 - r) if out is None else out

    jvp = backward  # elementwise: the Jacobian is diagonal, so J t = J^T t


class Relu(ArrayFunction):
    """relu; the gradient at 0 is 0 (torch's choice), taken from the saved output's sign."""

    node_name = "ReluBackward0"

    @staticmethod
    def forward(ctx, a):
        r = K.relu_forward(a)
        ctx.save_for_backward(r)
        return r

    @staticmethod
    def backward(ctx, g):
        (r,) = ctx.saved_tensors
        out = _fused(K.relu_backward, g, r)
        # ``~(r <= 0)``, not ``r > 0``: a NaN input passes its gradient, as torch's threshold_backward
        return g * ~(data_of(r) <= 0) if out is None else out

    jvp = backward  # elementwise: the Jacobian is diagonal, so J t = J^T t


class Abs(ArrayFunction):
    node_name = "AbsBackward0"

    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return np.abs(a)

    @staticmethod
    def backward(ctx, g):
        (a,) = ctx.saved_tensors
        x = data_of(a)
        # torch's sgn(NaN) is 0 here (the gradient of abs at NaN is 0, not NaN)
        return g * np.where(np.isnan(x), 0, np.sign(x)).astype(x.dtype, copy=False)

    jvp = backward  # elementwise: the Jacobian is diagonal, so J t = J^T t


class Clamp(ArrayFunction):
    """clamp(x, min, max) with scalar bounds; the gradient passes where min <= x <= max."""

    node_name = "ClampBackward1"

    @staticmethod
    def forward(ctx, a, min=None, max=None):
        ctx.save_for_backward(a)
        ctx.bounds = (min, max)
        return K.clamp_forward(a, min, max)

    @staticmethod
    def backward(ctx, g):
        (a,) = ctx.saved_tensors
        out = _fused(K.clamp_backward, g, a, *ctx.bounds)
        if out is None:
            lo, hi = ctx.bounds
            x = data_of(a)
            keep = np.ones(x.shape, bool)
            if lo is not None:
                keep &= x >= lo
            if hi is not None:
                keep &= x <= hi
            out = g * keep
        return out

    jvp = backward  # elementwise: the Jacobian is diagonal, so J t = J^T t


def _float_input(input, name):
    dt = getattr(input, "dtype", None)
    if dt is None or dt.kind != "f":
        raise TypeError(f"{name}() expects a float32/float64 Variable, got "
                        f"{type(input).__name__}{'' if dt is None else ' of dtype ' + str(dt)}")


for _name, _cls in [("exp", Exp), ("log", Log), ("sqrt", Sqrt), ("sin", Sin), ("cos", Cos),
                    ("tanh", Tanh), ("abs", Abs)]:
    def _make(cls, name):
        def op(input):
            return cls.apply(input)
        op.__name__ = op.__qualname__ = name
        op.__doc__ = f"Elementwise ``{name}`` (torch.{name})."
        return method()(op)
    globals()[_name] = _make(_cls, _name)


@method()
def sigmoid(input):
    """``1 / (1 + exp(-input))`` on the fused kernel."""
    _float_input(input, "sigmoid")
    return Sigmoid.apply(input)


@method()
def relu(input):
    """``max(input, 0)``; gradient 0 at 0."""
    _float_input(input, "relu")
    return Relu.apply(input)


@method()
def clamp(input, min=None, max=None):
    """Clip to ``[min, max]`` (either may be None, not both), as torch.clamp."""
    if min is None and max is None:
        raise RuntimeError("torch.clamp: At least one of 'min' or 'max' must not be None")
    _float_input(input, "clamp")
    return Clamp.apply(input, min=None if min is None else float(data_of(min)),
                       max=None if max is None else float(data_of(max)))


clip = method("clip")(clamp)
