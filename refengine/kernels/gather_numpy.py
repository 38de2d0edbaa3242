"""numpy twins of the gather / scatter kernels (``_gather.pyx``): the same checks and (A, N, B)
views (``validate_gather``), then numpy's own gather (``np.take_along_axis``, ``np.take``) and
unbuffered ``np.add.at`` -- which adds in the index array's C order, the kernels' loop order,
so twin and kernel agree bit for bit, repeated indices included."""
from __future__ import annotations

import numpy as np

from refengine.kernels import validate_gather as vg


def gather_dim(x, dim, idx):
    x3, i3, out_shape = vg.gather_operands(x, dim, idx)
    return np.take_along_axis(x3, i3, axis=1).reshape(out_shape)


def scatter_add_dim(shape, dim, idx, src, base=None):
    out, o3, corner, i3, s3 = vg.scatter_operands(shape, dim, idx, src, base)
    if s3.size:
        A, N, B = o3.shape
        pos = i3 * B + (np.arange(A, dtype=np.int64)[:, None, None] * (N * B) + np.arange(B, dtype=np.int64))
        np.add.at(o3.reshape(-1), pos.reshape(-1), s3.reshape(-1))
    return vg.write_back(out, o3, corner)


def index_select(x, dim, idx):
    x3, i1, out_shape = vg.select_operands(x, dim, idx)
    return np.take(x3, i1, axis=1).reshape(out_shape)


def index_add(shape, dim, idx, src, base=None):
    out, o3, i1, s3 = vg.index_add_operands(shape, dim, idx, src, base)
    if s3.size:
        np.add.at(o3, (slice(None), i1), s3)
    return out
