"""numpy twin of the scatter-add kernel (``_scatter.pyx``)."""
from __future__ import annotations

import numpy as np

from refengine.kernels import validate


def scatter_add(size, idx, src):
    size = int(size)
    if size < 0:
        raise ValueError(f"size must be non-negative, got {size}")
    src = validate.float_array(src, "src")
    idx = validate.indices(idx, size, src)
    out = validate.alloc(size, src.dtype, "scatter_add", zero=True)
    np.add.at(out, idx.reshape(-1), src.reshape(-1))
    return out
