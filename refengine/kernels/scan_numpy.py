"""numpy twins of the scan kernels (``_scan.pyx``): accumulated in double, as torch's CPU
scans are, and rounded to the input's dtype once per element."""
from __future__ import annotations

import numpy as np

from refengine.kernels import validate


def _run(x, dim, scan, reverse):
    x = validate.float_array(x, "input")
    ax = validate.axis(dim, x.ndim)
    if x.ndim == 0 or x.size == 0:
        return np.array(x, order="C", copy=True)
    src = np.flip(x, ax) if reverse else x
    out = scan(src, axis=ax, dtype=np.float64).astype(x.dtype, copy=False)
    return np.ascontiguousarray(np.flip(out, ax) if reverse else out)


def cumsum(x, dim, reverse=False):
    return _run(x, dim, np.cumsum, reverse)


def cumprod(x, dim):
    return _run(x, dim, np.cumprod, False)
