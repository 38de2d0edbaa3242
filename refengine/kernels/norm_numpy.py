"""numpy twins of the normalisation kernels (``_norm.pyx``): statistics summed in double,
the elementwise passes in the input's precision, as the kernels do."""
from __future__ import annotations

import numpy as np

from refengine.kernels import validate


def _col(v, dtype):
    """A per-c statistic as a (1, C, 1) column in ``dtype``."""
    return v.astype(dtype)[None, :, None]


def norm_forward(x, eps):
    x = validate.norm_input(x, "input")
    eps = float(eps)
    A, C, B = x.shape
    if A * B == 0:
        return np.empty(x.shape, x.dtype), np.full(C, np.nan), np.full(C, np.nan)
    mean = np.sum(x, axis=(0, 2), dtype=np.float64) / (A * B)
    d = x - mean[None, :, None]
    with np.errstate(divide="ignore"):
        rstd = 1.0 / np.sqrt(np.sum(d * d, axis=(0, 2)) / (A * B) + eps)
    with np.errstate(invalid="ignore"):
        xhat = (x - _col(mean, x.dtype)) * _col(rstd, x.dtype)
    return xhat, mean, rstd


def norm_backward(gxhat, x, mean, rstd):
    g, x, mean, rstd = validate.norm_operands(gxhat, x, mean, rstd)
    A, C, B = x.shape
    if x.size == 0:
        return np.empty(x.shape, x.dtype)
    dt = x.dtype
    r = _col(rstd, dt)
    with np.errstate(invalid="ignore"):
        xh = (x - _col(mean, dt)) * r
        c1 = _col(np.sum(g, axis=(0, 2), dtype=np.float64) / (A * B), dt)
        c2 = _col(np.sum(g * xh, axis=(0, 2), dtype=np.float64) / (A * B), dt)
        return r * ((g - c1) - xh * c2)
