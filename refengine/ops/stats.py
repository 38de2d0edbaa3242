"""std with ``correction`` (Bessel's by default), torch's overloads and gradient conventions.

torch's std_backward is var_backward(grad / (2 std)) with the entries where std == 0
filled with 0 (a constant slice has a zero gradient, not nan); the mask is built so
the second derivative is finite there too.
"""
from __future__ import annotations

import builtins

import numpy as np

from refengine.function import ArrayFunction
from refengine.ops.arith import where
from refengine.ops.common import accumulator, data_of, is_var, method
from refengine.ops.reduce import _all_if_empty, expand_back, normalize_dims


class Std(ArrayFunction):
    node_name = "StdBackward0"

    @staticmethod
    def forward(ctx, a, dim=None, correction=1, keepdim=False):
        dims = normalize_dims(_all_if_empty(dim), a.ndim)
        n = int(np.prod([a.shape[d] for d in dims])) if a.ndim else 1
        ctx.shape, ctx.dims, ctx.keepdim = a.shape, dims, keepdim
        ctx.denom = builtins.max(n - correction, 0)
        with np.errstate(divide="ignore", invalid="ignore"):
            r = np.asarray(np.std(a, axis=dims if a.ndim else None, ddof=correction, keepdims=keepdim,
                                  dtype=accumulator(a)), a.dtype)
        ctx.save_for_backward(a, r)
        return r

    @staticmethod
    def backward(ctx, g):
        a, r = ctx.saved_tensors
        zero = data_of(r) == 0
        # literally torch's (grad / (2 std)).masked_fill_(std == 0, 0): same second derivative there
        with np.errstate(divide="ignore", invalid="ignore"):
            half = where(zero, 0.0, g / (2 * r)) if np.any(zero) else g / (2 * r)
        from refengine.ops import mean as _mean
        ax = ctx.dims
        centered = a - (_mean(a, dim=ax, keepdim=True) if is_var(a) else
                        np.mean(a, axis=ax or None, keepdims=True))
        with np.errstate(divide="ignore", invalid="ignore"):
            scale = 2.0 / ctx.denom if ctx.denom else np.inf
            return expand_back(half, ctx.shape, ctx.dims, ctx.keepdim) * centered * scale


@method()
def std(input, dim=None, *args, correction=None, keepdim=False, unbiased=None):
    """Standard deviation over ``dim`` with ``correction`` (1 = Bessel, torch's default); also
    torch's legacy forms ``std(x, unbiased)`` and ``std(x, dim, unbiased, keepdim)``."""
    if isinstance(dim, bool):
        dim, unbiased = None, dim
    if args:
        unbiased = args[0]
        if len(args) > 1:
            keepdim = args[1]
    if correction is None:
        correction = 1 if unbiased is None or unbiased else 0
    if input.dtype.kind != "f":
        raise RuntimeError("std and var only support floating point and complex dtypes")
    return Std.apply(input, dim=dim, correction=correction, keepdim=keepdim)
