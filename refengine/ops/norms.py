"""Vector norms: ``linalg.vector_norm`` (any ``ord``: 0, 1, 2, inf, -inf, p) and ``norm``.

The backward is torch's linalg_vector_norm_backward case by case: ord 0 has a zero
gradient; 1 is ``sign(x)``; 2 is ``x / norm`` filled with 0 where the norm is 0; inf
and -inf split the gradient evenly among the elements whose |x| attains the norm;
other p use ``sign(x) |x|^(p-1) / norm^(p-1)`` (zero at x == 0 for p < 1, zero where
the norm is 0 otherwise).  Written with dual helpers, so differentiable again.
"""
from __future__ import annotations

import math

import numpy as np

from refengine.function import ArrayFunction
from refengine.ops.arith import where
from refengine.ops.common import accumulator, data_of, dual, method
from refengine.ops.reduce import expand_back, normalize_dims

_abs = dual(np.abs, "abs")


def _sign(x):
    return np.sign(np.asarray(data_of(x)))  # a constant: sgn's derivative is zero


def _safe_div(num, den, norm):
    """``num / den`` filled with 0 where ``norm`` == 0: torch's masked_fill after dividing, kept
    literally so the second derivative there is torch's too (0 / 0 = nan through the division)."""
    zero = data_of(norm) == 0
    if not np.any(zero):
        return num / den
    return where(zero, 0.0, num / den)


class VectorNorm(ArrayFunction):
    node_name = "LinalgVectorNormBackward0"

    @staticmethod
    def forward(ctx, a, ord=2.0, dim=None, keepdim=False):
        dims = normalize_dims(dim, a.ndim)
        ax = dims if a.ndim else None
        x = np.abs(a).astype(accumulator(a) or a.dtype, copy=False)  # float16: sums in float32, as torch
        if any(a.shape[d] == 0 for d in dims) and (ord < 0 or math.isinf(ord)):
            raise RuntimeError(f"linalg.vector_norm cannot compute the {ord} norm on an empty tensor because "
                               "the operation does not have an identity")
        with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
            if ord == math.inf:
                r = np.max(x, axis=ax, keepdims=keepdim)
            elif ord == -math.inf:
                r = np.min(x, axis=ax, keepdims=keepdim)
            elif ord == 0:
                r = np.sum(x != 0, axis=ax, keepdims=keepdim)
            elif ord == 1:
                r = np.sum(x, axis=ax, keepdims=keepdim)
            elif ord == 2:
                r = np.sqrt(np.sum(x * x, axis=ax, keepdims=keepdim))
            else:
                r = np.sum(x ** ord, axis=ax, keepdims=keepdim) ** (1.0 / ord)
        r = np.asarray(r, a.dtype)
        ctx.ord, ctx.shape, ctx.dims, ctx.keepdim = ord, a.shape, dims, keepdim
        ctx.save_for_backward(a, r)
        return r

    @staticmethod
    def backward(ctx, g):
        a, r = ctx.saved_tensors
        p = ctx.ord
        ge = expand_back(g, ctx.shape, ctx.dims, ctx.keepdim)
        rn = expand_back(r, ctx.shape, ctx.dims, ctx.keepdim)
        dt = data_of(a).dtype
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            if p == 0:
                return ge * 0
            if p == 1:
                return ge * _sign(a).astype(dt)
            if p == 2:
                return ge * _safe_div(a, rn, rn)
            if math.isinf(p):
                mask = np.abs(data_of(a)) == data_of(rn)
                count = np.sum(mask, axis=ctx.dims if len(ctx.shape) else None, keepdims=True)
                return ge * (_sign(a) * mask / count).astype(dt)
            if p < 1:
                ad = data_of(a)
                # torch: |x|^(p-1) filled with 0 at x == 0 (literally: its second derivative there is nan)
                scaled = _sign(a).astype(dt) * where(ad == 0, 0.0, _abs(a) ** (p - 1))
                return scaled * ge * rn ** (1 - p)
            if p < 2:
                return _sign(a).astype(dt) * _abs(a) ** (p - 1) * _safe_div(ge, rn ** (p - 1), rn)
            return a * _abs(a) ** (p - 2) * _safe_div(ge, rn ** (p - 1), rn)


def _check_float(input, name):
    if input.dtype.kind != "f":
        raise RuntimeError(f"{name}: Expected a floating point or complex tensor as input. Got Long")


def vector_norm(x, ord=2, dim=None, keepdim=False, *, dtype=None):
    """``(sum |x|^ord)^(1/ord)`` over ``dim`` (all dims by default); ord may be 0, +-inf."""
    if dtype is not None:
        x = x.to(dtype)
    _check_float(x, "linalg.vector_norm")
    if isinstance(ord, str):
        raise RuntimeError(f"linalg.vector_norm: ord must be a number, got {ord!r}")
    return VectorNorm.apply(x, ord=float(ord), dim=None if dim == () else dim, keepdim=keepdim)


@method()
def norm(input, p="fro", dim=None, keepdim=False, dtype=None):
    """torch.norm: 'fro' (or a number) is the vector norm over ``dim`` (all elements by default);
    'nuc' the nuclear norm of matrices."""
    if p is None or p == "fro":
        p = 2
    elif p == "nuc":  # the nuclear norm of the matrices in ``dim`` (the last two by default)
        from refengine.linalg import matrix_norm
        return matrix_norm(input, "nuc", (-2, -1) if dim is None else tuple(dim), keepdim, dtype=dtype)
    elif isinstance(p, str):
        raise RuntimeError(f"norm: unknown p {p!r}")
    return vector_norm(input, p, dim, keepdim, dtype=dtype)
