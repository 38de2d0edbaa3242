"""numpy twins of the fused elementwise kernels (``_elementwise.pyx``): same signatures,
same validation, the plain numpy expression (several passes over memory)."""
from __future__ import annotations

import numpy as np

from refengine.kernels import validate


def _out(x, r):
    """Fresh C-contiguous result in the input's dtype (as the Cython kernels return)."""
    return np.array(r, dtype=x.dtype, order="C", copy=None)  # (ascontiguousarray would make 0-d 1-d)


def exp_forward(x):
    x = validate.float_array(x, "input")
    with np.errstate(over="ignore"):
        return _out(x, np.exp(x))


def log_forward(x):
    x = validate.float_array(x, "input")
    with np.errstate(divide="ignore", invalid="ignore"):
        return _out(x, np.log(x))


def _sigmoid(x):
    # e / (1 + e) with e = exp(-|x|): the kernel's formula (see vmath.h re_sigmoidf)
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1, e) / (1 + e)


def _erf(x):
    import math  # numpy has no erf; the twin is a reference, not a fast path
    return np.asarray(np.frompyfunc(math.erf, 1, 1)(x), dtype=x.dtype)


def softplus_forward(x, beta=1.0, threshold=20.0):
    x = validate.float_array(x, "input")
    beta, threshold = x.dtype.type(beta), x.dtype.type(threshold)
    z = x * beta
    with np.errstate(over="ignore"):
        return _out(x, np.where(z > threshold, x, np.log1p(np.exp(z)) / beta))


def softplus_backward(g, x, beta=1.0, threshold=20.0):
    g, x = validate.same_layout(g, x)
    beta, threshold = x.dtype.type(beta), x.dtype.type(threshold)
    z = x * beta
    return _out(g, np.where(z > threshold, g, g * _sigmoid(z)))


def silu_forward(x):
    x = validate.float_array(x, "input")
    return _out(x, x * _sigmoid(x))


def silu_backward(g, x):
    g, x = validate.same_layout(g, x)
    s = _sigmoid(x)
    return _out(g, g * (s * (1 + x * (1 - s))))


def gelu_forward(x):
    x = validate.float_array(x, "input")
    return _out(x, x * 0.5 * (1 + _erf(x * x.dtype.type(0.70710678118654752440))))


def gelu_backward(g, x):
    g, x = validate.same_layout(g, x)
    cdf = 0.5 * (1 + _erf(x * x.dtype.type(0.70710678118654752440)))
    pdf = np.exp(-0.5 * (x * x)) * x.dtype.type(0.39894228040143267794)
    return _out(g, g * (cdf + x * pdf))


def sigmoid_forward(x):
    x = validate.float_array(x, "input")
    return _out(x, _sigmoid(x))


def relu_forward(x):
    x = validate.float_array(x, "input")
    return _out(x, np.where((x > 0) | np.isnan(x), x, 0))


def clamp_forward(x, lo=None, hi=None):
    x = validate.float_array(x, "input")
    lo, hi = validate.bounds(lo, hi)
    # bounds in the input's dtype, as the kernel casts them (1e300 is inf for float32)
    with np.errstate(over="ignore"):
        lo, hi = x.dtype.type(lo), x.dtype.type(hi)
    if np.isnan(lo) or np.isnan(hi):        # torch: a NaN bound gives NaN everywhere
        return _out(x, np.full(x.shape, np.nan))
    if lo > hi:
        return _out(x, np.where(np.isnan(x), x, hi))
    return _out(x, np.clip(x, lo, hi))


def sigmoid_backward(g, y):
    g, y = validate.same_layout(g, y)
    return _out(g, g * y * (1 - y))


def tanh_backward(g, y):
    g, y = validate.same_layout(g, y)
    return _out(g, g * (1 - y * y))


def relu_backward(g, x):
    g, x = validate.same_layout(g, x)
    return _out(g, np.where(x <= 0, 0, g))  # NaN x passes g (torch's threshold_backward)


def clamp_backward(g, x, lo=None, hi=None):
    g, x = validate.same_layout(g, x)
    lo, hi = validate.bounds(lo, hi)
    with np.errstate(over="ignore"):
        lo, hi = x.dtype.type(lo), x.dtype.type(hi)
    return _out(g, np.where((x >= lo) & (x <= hi), g, 0))


def exp_backward(g, y):
    g, y = validate.same_layout(g, y)
    return _out(g, g * y)


def log_backward(g, x):
    g, x = validate.same_layout(g, x)
    with np.errstate(divide="ignore", invalid="ignore"):
        return _out(g, g / x)
