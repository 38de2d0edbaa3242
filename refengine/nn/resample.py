"""interpolate (nearest, bilinear) and adaptive_avg_pool2d.

All three are linear maps of the input.  nearest is a gather (torch's source index
``min(floor(dst * scale), in - 1)`` computed in float32 as torch's kernel does, with
``scale = in / out``, or ``1 / scale_factor`` when one is given); its backward
scatter-adds.  bilinear and adaptive average pooling are separable: the output is
``Ph @ x @ Pw^T`` with small constant matrices per spatial dim (bilinear: two taps
of weights ``1 - l`` and ``l`` at torch's source positions, with or without
align_corners; adaptive: windows ``[floor(i in / out), ceil((i + 1) in / out))``),
so the backward is ``Ph^T @ g @ Pw`` and the second derivative is exact.
"""
from __future__ import annotations

import math

import numpy as np

from refengine.function import ArrayFunction
from refengine.ops.common import is_var
from refengine.ops.selection import Selected


class UpsampleNearest1d(Selected):
    node_name = "UpsampleNearest1DBackward0"


class UpsampleNearest2d(Selected):
    node_name = "UpsampleNearest2DBackward0"


class UpsampleNearest3d(Selected):
    node_name = "UpsampleNearest3DBackward0"


def _nearest_index(n_in, n_out, scale_factor):
    if n_out == n_in:
        return np.arange(n_out)
    scale = np.float32(1.0 / scale_factor) if scale_factor else np.float32(n_in) / np.float32(n_out)
    src = np.floor(np.arange(n_out, dtype=np.float32) * scale).astype(np.int64)
    return np.minimum(src, n_in - 1)


def _bilinear_matrix(n_in, n_out, align_corners, scale_factor):
    """(n_out, n_in) interpolation weights along one dim, as torch's upsample_bilinear2d."""
    m = np.zeros((n_out, n_in))
    i = np.arange(n_out, dtype=np.float64)
    if align_corners:
        scale = (n_in - 1) / (n_out - 1) if n_out > 1 else 0.0
        src = i * scale
    else:
        scale = 1.0 / scale_factor if scale_factor else n_in / n_out
        src = np.maximum(scale * (i + 0.5) - 0.5, 0.0)
    i0 = np.minimum(np.floor(src).astype(np.int64), n_in - 1)
    i1 = np.minimum(i0 + 1, n_in - 1)
    l1 = src - i0
    np.add.at(m, (np.arange(n_out), i0), 1 - l1)
    np.add.at(m, (np.arange(n_out), i1), l1)
    return m


def _adaptive_matrix(n_in, n_out):
    m = np.zeros((n_out, n_in))
    for i in range(n_out):
        lo, hi = (i * n_in) // n_out, -((-(i + 1) * n_in) // n_out)
        m[i, lo:hi] = 1.0 / (hi - lo)
    return m


class Separable2d(ArrayFunction):
    """``Ph @ x @ Pw^T`` over the last two dims, with constant ``Ph``, ``Pw``."""

    node_name = "UpsampleBilinear2DBackward0"

    @staticmethod
    def forward(ctx, x, ph=None, pw=None):
        ph, pw = ph.astype(x.dtype), pw.astype(x.dtype)
        ctx.ph, ctx.pw = ph, pw
        return np.matmul(np.matmul(ph, x), pw.T)

    @staticmethod
    def backward(ctx, g):
        if is_var(g):
            from refengine.ops import matmul
            return matmul(matmul(ctx.ph.T.copy(), g), ctx.pw.copy())
        return np.matmul(np.matmul(ctx.ph.T, g), ctx.pw)


class AdaptiveAvgPool2d(Separable2d):
    node_name = "AdaptiveAvgPool2DBackward0"


def _out_sizes(shape, size, scale_factor, k):
    spatial = shape[-k:]
    if (size is None) == (scale_factor is None):
        raise ValueError("either size or scale_factor should be defined" if size is None else
                         "only one of size or scale_factor should be defined")
    if size is not None:
        sizes = (size,) * k if isinstance(size, int) else tuple(size)
        if len(sizes) != k:
            raise ValueError(f"Input and output must have the same number of spatial dimensions, but got input with "
                             f"spatial dimensions of {list(spatial)} and output size of {list(sizes)}. Please provide "
                             "input tensor in (N, C, d1, d2, ...,dK) format and output size in (o1, o2, ...,oK) "
                             "format.")
        return tuple(int(s) for s in sizes), (None,) * k
    scales = (scale_factor,) * k if isinstance(scale_factor, (int, float)) else tuple(scale_factor)
    return tuple(int(math.floor(n * s)) for n, s in zip(spatial, scales)), tuple(float(s) for s in scales)


def interpolate(input, size=None, scale_factor=None, mode="nearest", align_corners=None,
                recompute_scale_factor=None, antialias=False):
    """Resize the spatial dims: ``mode`` 'nearest' (1-3 spatial dims) or 'bilinear' (2)."""
    if antialias:
        raise NotImplementedError("interpolate: antialias is not supported by refengine")
    nd = input.ndim
    k = nd - 2
    if input.dtype.kind != "f":  # torch's resampling kernels are float-only
        raise NotImplementedError(f"\"compute_indices_weights_{mode}\" not implemented for '{input.dtype}'")
    if mode == "nearest":
        if align_corners is not None:
            raise ValueError("align_corners option can only be set with the interpolating modes: linear | bilinear "
                             "| bicubic | trilinear")
        if k not in (1, 2, 3):
            raise NotImplementedError(f"Input Error: Only 3D, 4D and 5D input Tensors supported (got {nd}D) for the "
                                      "modes: nearest | linear | bilinear | bicubic | trilinear | area | "
                                      "nearest-exact "
                                      f"(got {mode})")
        outs, scales = _out_sizes(input.shape, size, scale_factor, k)
        if recompute_scale_factor:
            scales = (None,) * k
        grid = np.arange(int(np.prod(input.shape)), dtype=np.int64).reshape(input.shape)
        for i in range(k):
            idx = _nearest_index(input.shape[2 + i], outs[i], scales[i])
            grid = np.take(grid, idx, axis=2 + i)
        cls = (UpsampleNearest1d, UpsampleNearest2d, UpsampleNearest3d)[k - 1]
        return cls.apply(input, lin=grid)
    if mode == "bilinear":
        if k != 2:
            raise NotImplementedError(f"Got {nd}D input, but bilinear mode needs 4D input")
        outs, scales = _out_sizes(input.shape, size, scale_factor, k)
        if recompute_scale_factor:
            scales = (None, None)
        ac = bool(align_corners)
        ph = _bilinear_matrix(input.shape[2], outs[0], ac, None if ac else scales[0])
        pw = _bilinear_matrix(input.shape[3], outs[1], ac, None if ac else scales[1])
        return Separable2d.apply(input, ph=ph, pw=pw)
    raise NotImplementedError(f"interpolate: mode {mode!r} is not implemented in refengine (nearest, bilinear)")


def adaptive_avg_pool2d(input, output_size):
    """Average over adaptive windows so the last two dims become ``output_size`` (None keeps one)."""
    if input.ndim < 2:  # torch accepts any input with two trailing spatial dims
        raise IndexError("Dimension out of range (expected to be in range of [-1, 0], but got -2)")
    if input.dtype.kind != "f":
        raise RuntimeError(f"mean(): could not infer output dtype. Input dtype must be either a floating point or "
                           f"complex dtype. Got: {input.dtype}")
    h, w = input.shape[-2:]
    if h == 0 or w == 0:
        raise RuntimeError("adaptive_avg_pool2d(): Expected input to have non-zero size for non-batch dimensions")
    oh, ow = (output_size, output_size) if isinstance(output_size, int) else tuple(output_size)
    oh, ow = h if oh is None else oh, w if ow is None else ow
    return AdaptiveAvgPool2d.apply(input, ph=_adaptive_matrix(h, oh), pw=_adaptive_matrix(w, ow))
