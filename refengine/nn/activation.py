"""Activations of ``torch.nn.functional``: softplus, gelu (exact and tanh), silu, elu,
leaky_relu, hardtanh, logsigmoid.

Forward and backward follow torch's kernels (aten/src/ATen/native/cpu/Activation.cpp):
the same thresholds and the same gradient at the kinks (elu's and leaky_relu's
x == 0 take the negative branch, hardtanh's bounds pass no gradient, softplus
is the identity with gradient 1 above ``threshold``).  Each backward is a
formula in the saved input written with ``dual`` helpers, so under create_graph
it is differentiable again (torch differentiates all of these twice).
"""
from __future__ import annotations

import math

import numpy as np

from refengine import kernels as K
from refengine.function import ArrayFunction
from refengine.ops.arith import where
from refengine.ops.common import data_of, dual, is_var
from refengine.ops.inplace import _inplace
from refengine.ops.special import np_erf

_exp = dual(np.exp, "exp")
_tanh = dual(np.tanh, "tanh")
_erf = dual(np_erf, "erf")


def _np_sigmoid(x):
    # exp(-logaddexp(0, -x)): no overflow warning for large |x|
    return np.exp(-np.logaddexp(0, -x)).astype(x.dtype, copy=False)


_sigmoid = dual(_np_sigmoid, "sigmoid")


def _plain(g, x):
    """The plain backward (ndarray gradient of the input's dtype and shape) runs on the fused
    kernel (``refengine.kernels``); under create_graph the formula below it is used."""
    return not is_var(g) and g.dtype == x.dtype and g.shape == x.shape


def _float_only(x, kernel):
    """torch's activations have float kernels only: NotImplementedError names the kernel."""
    dt = getattr(x, "dtype", None)
    if dt is None:
        raise TypeError(f"{kernel.split('_')[0]}(): argument 'input' must be Tensor, not {type(x).__name__}")
    if dt.kind != "f":
        torch_name = {"i": "Long", "u": "Byte", "b": "Bool"}.get(dt.kind, str(dt))
        raise NotImplementedError(f'"{kernel}" not implemented for \'{torch_name}\'')


class Softplus(ArrayFunction):
    """``log(1 + exp(beta x)) / beta``, and ``x`` itself where ``beta x > threshold``."""

    node_name = "SoftplusBackward0"

    @staticmethod
    def forward(ctx, x, beta=1.0, threshold=20.0):
        ctx.beta, ctx.threshold = beta, threshold
        ctx.save_for_backward(x)
        return K.softplus_forward(x, beta, threshold)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        beta, threshold = ctx.beta, ctx.threshold
        if _plain(g, x):
            return K.softplus_backward(g, x, beta, threshold)
        bx = data_of(x) * beta
        # torch's softplus_backward: z / (z + 1) with z = exp(beta x), i.e. sigmoid(beta x), and 1 above
        # the threshold; softplus_double_backward masks with beta x < threshold (strict), so at
        # beta x == threshold the first derivative is sigmoid(threshold) but its derivative is 0:
        # there it is a constant
        edge = np.where(bx > threshold, 1.0, _np_sigmoid(bx)).astype(bx.dtype, copy=False)
        return g * where(bx < threshold, _sigmoid(x * beta), edge)


_SQRT1_2 = math.sqrt(0.5)
_PDF_C = 2.0 / math.sqrt(math.pi) * _SQRT1_2 * 0.5      # 1 / sqrt(2 pi), as torch spells it
_K_BETA = math.sqrt(2.0) * 2.0 / math.sqrt(math.pi) * 0.5  # sqrt(2 / pi)
_K_KAPPA = 0.044715


class Gelu(ArrayFunction):
    """``x Phi(x)``; ``approximate='tanh'``: ``x/2 (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))``."""

    node_name = "GeluBackward0"

    @staticmethod
    def forward(ctx, x, approximate="none"):
        ctx.approximate = approximate
        ctx.save_for_backward(x)
        if approximate == "tanh":
            r = 0.5 * x * (1 + np.tanh(_K_BETA * (x + _K_KAPPA * x * x * x)))
        else:
            return K.gelu_forward(x)
        return r.astype(x.dtype, copy=False)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        if ctx.approximate != "tanh" and _plain(g, x):
            return K.gelu_backward(g, x)
        if ctx.approximate == "tanh":
            x_sq = x * x
            t = _tanh(_K_BETA * (x + _K_KAPPA * x_sq * x))
            left, right = 0.5 * x, 1 + t
            right_derivative = (1 - t * t) * (_K_BETA * (1 + 3 * _K_KAPPA * x_sq))
            return g * (0.5 * right + left * right_derivative)
        cdf = 0.5 * (1 + _erf(x * _SQRT1_2))
        pdf = _exp(-0.5 * (x * x)) * _PDF_C
        return g * (cdf + x * pdf)


class Silu(ArrayFunction):
    """``x sigmoid(x)``."""

    node_name = "SiluBackward0"

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return K.silu_forward(x)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        if _plain(g, x):
            return K.silu_backward(g, x)
        s = _sigmoid(x)
        return g * (s * (1 + x * (1 - s)))


class Elu(ArrayFunction):
    """``x`` for x > 0, ``alpha (exp(x) - 1)`` otherwise; the gradient at 0 is ``alpha`` (torch's
    elu_backward tests ``x <= 0``)."""

    node_name = "EluBackward0"

    @staticmethod
    def forward(ctx, x, alpha=1.0):
        ctx.alpha = alpha
        ctx.save_for_backward(x)
        with np.errstate(over="ignore"):
            return np.where(x <= 0, alpha * np.expm1(np.minimum(x, 0)), x).astype(x.dtype, copy=False)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        xd = data_of(x)
        # elu_backward tests x <= 0 (gradient alpha at 0) but elu_double_backward masks with x < 0:
        # at 0 the first derivative is the constant alpha
        neg = xd < 0
        edge = np.where(xd <= 0, ctx.alpha, 1.0).astype(xd.dtype, copy=False)
        return g * where(neg, ctx.alpha * _exp(where(neg, x, 0.0)), edge)


class EluInplace(Elu):
    node_name = "EluBackward1"


class LeakyRelu(ArrayFunction):
    """``x`` for x > 0, ``negative_slope x`` otherwise (gradient ``negative_slope`` at 0)."""

    node_name = "LeakyReluBackward0"

    @staticmethod
    def forward(ctx, x, negative_slope=0.01):
        ctx.slope = negative_slope
        ctx.save_for_backward(x)
        return np.where(x > 0, x, x * negative_slope).astype(x.dtype, copy=False)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        pos = data_of(x) > 0
        return g * np.where(pos, 1.0, ctx.slope).astype(data_of(g).dtype, copy=False)


class LeakyReluInplace(LeakyRelu):
    node_name = "LeakyReluBackward1"


class Hardtanh(ArrayFunction):
    """``clip(x, min_val, max_val)``; unlike clamp, no gradient at the bounds themselves."""

    node_name = "HardtanhBackward0"

    @staticmethod
    def forward(ctx, x, min_val=-1.0, max_val=1.0):
        ctx.bounds = (min_val, max_val)
        ctx.save_for_backward(x)
        return np.minimum(np.maximum(x, min_val), max_val).astype(x.dtype, copy=False)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        lo, hi = ctx.bounds
        xd = data_of(x)
        return g * ~((xd <= lo) | (xd >= hi))


class LogSigmoid(ArrayFunction):
    """``log(sigmoid(x)) = min(x, 0) - log1p(exp(-|x|))`` (stable for large |x|)."""

    node_name = "LogSigmoidBackward0"

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return (np.minimum(x, 0) - np.log1p(np.exp(-np.abs(x)))).astype(x.dtype, copy=False)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * _sigmoid(-x)


def softplus(input, beta=1.0, threshold=20.0):
    """``log(1 + exp(beta x)) / beta``, linear above ``threshold`` (torch.nn.functional.softplus)."""
    _float_only(input, "softplus_cpu")
    return Softplus.apply(input, beta=float(beta), threshold=float(threshold))


def gelu(input, approximate="none"):
    """Gaussian error linear unit, exact (``'none'``) or with the ``'tanh'`` approximation."""
    if approximate not in ("none", "tanh"):
        raise RuntimeError("approximate argument must be either none or tanh.")
    _float_only(input, "GeluKernelImpl")
    return Gelu.apply(input, approximate=approximate)


def silu(input, inplace=False):
    """``x * sigmoid(x)`` (swish)."""
    _float_only(input, "silu_cpu")
    return _inplace(input, Silu) if inplace else Silu.apply(input)


def elu(input, alpha=1.0, inplace=False):
    """Exponential linear unit; ``inplace=True`` is ``elu_`` (node EluBackward1)."""
    _float_only(input, "elu_cpu")
    if inplace:
        return _inplace(input, EluInplace, alpha=float(alpha))
    return Elu.apply(input, alpha=float(alpha))


def leaky_relu(input, negative_slope=0.01, inplace=False):
    """``max(x, 0) + negative_slope * min(x, 0)``; ``inplace=True`` is ``leaky_relu_``."""
    _float_only(input, "leaky_relu_cpu")
    if inplace:
        if negative_slope < 0 and getattr(input, "requires_grad", False):
            # torch's leaky_relu_ backward reads the result, whose sign no longer tells x's
            raise RuntimeError("In-place leakyReLu backward calculation is triggered with a negative slope "
                               "which is not supported. This is caused by calling in-place forward function "
                               "with a negative slope, please call out-of-place version instead.")
        return _inplace(input, LeakyReluInplace, negative_slope=float(negative_slope))
    return LeakyRelu.apply(input, negative_slope=float(negative_slope))


def hardtanh(input, min_val=-1.0, max_val=1.0, inplace=False):
    """``clip(x, min_val, max_val)`` with zero gradient at and beyond the bounds."""
    if min_val > max_val:
        raise ValueError("min_val cannot be greater than max_val")
    dt = getattr(input, "dtype", None)
    if dt is not None and dt.kind != "f":  # torch clips integer tensors too (no gradient)
        from refengine.variable import Variable
        return Variable(np.clip(input.data, min_val, max_val).astype(dt))
    if inplace:  # hardtanh_ keeps the node name HardtanhBackward0 in torch
        return _inplace(input, Hardtanh, min_val=float(min_val), max_val=float(max_val))
    return Hardtanh.apply(input, min_val=float(min_val), max_val=float(max_val))


def logsigmoid(input):
    """``log(sigmoid(x))``, stable at both tails."""
    _float_only(input, "log_sigmoid_cpu")
    return LogSigmoid.apply(input)


__all__ = ["softplus", "gelu", "silu", "elu", "leaky_relu", "hardtanh", "logsigmoid"]


class Glu(ArrayFunction):
    """``a * sigmoid(b)`` for the two halves (a, b) of ``dim``."""

    node_name = "GluBackward0"

    @staticmethod
    def forward(ctx, x, dim=-1):
        ctx.dim = dim
        ctx.save_for_backward(x)
        a, b = np.split(x, 2, axis=dim)
        return a * _np_sigmoid(b)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        d = ctx.dim
        n = x.shape[d] // 2
        idx = (slice(None),) * d
        a, b = x[idx + (slice(0, n),)], x[idx + (slice(n, 2 * n),)]
        s = _sigmoid(b)
        ga, gb = g * s, g * a * s * (1 - s)
        if is_var(ga) or is_var(gb):
            from refengine.ops import cat
            return cat([ga, gb], d)
        return np.concatenate([ga, gb], d)


def glu(input, dim=-1):
    """Gated linear unit: the first half of ``dim`` times the sigmoid of the second half."""
    from refengine.ops.reduce import normalize_dims
    if input.ndim == 0:
        raise RuntimeError("glu does not support scalars because halving size must be even")
    (d,) = normalize_dims(dim, input.ndim)
    if input.shape[d] % 2:
        raise RuntimeError(f"Halving dimension must be even, but dimension {d} is size {input.shape[d]}")
    _float_only(input, "glu_cpu")
    return Glu.apply(input, dim=d)


__all__ += ["glu"]
