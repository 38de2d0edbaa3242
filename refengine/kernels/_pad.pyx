# cython: language_level=3, cdivision=True
"""reflect / replicate padding of the last 1-3 dims, forward (a gather) and backward (a
scatter-add: an input element copied into several output positions sums their gradients).

Both modes copy input elements, so one per-dim index map (output position -> input
position, ``validate.pad_maps``: range-checked there) describes the padding; the array
is viewed as ``(P, D1, D2, D3)`` with the unpadded leading dims flattened into ``P`` and
missing padded dims as 1.  The maps replace refengine's former route, a flat gather at
positions found by ``np.pad`` of an int64 index grid the size of the output, scattered
back with ``np.add.at`` on the numpy twins -- which is what ``pad_numpy.py`` does with the
maps.
"""
cimport cython
from cython cimport floating
from libc.stdint cimport int64_t
import numpy as np

from refengine.kernels import validate


@cython.boundscheck(False)
@cython.wraparound(False)
@cython.initializedcheck(False)
cdef void _fwd(const floating[:, :, :, ::1] x, floating[:, :, :, ::1] out, const int64_t[::1] m1,
               const int64_t[::1] m2, const int64_t[::1] m3) noexcept nogil:
    cdef Py_ssize_t p, i, j, k, n3 = out.shape[3]
    cdef const floating* row
    cdef floating* orow
    for p in range(out.shape[0]):
        for i in range(out.shape[1]):
            for j in range(out.shape[2]):
                row = &x[p, m1[i], m2[j], 0]
                orow = &out[p, i, j, 0]
                for k in range(n3):
                    orow[k] = row[m3[k]]


@cython.boundscheck(False)
@cython.wraparound(False)
@cython.initializedcheck(False)
cdef void _bwd(const floating[:, :, :, ::1] g, floating[:, :, :, ::1] out, const int64_t[::1] m1,
               const int64_t[::1] m2, const int64_t[::1] m3) noexcept nogil:
    cdef Py_ssize_t p, i, j, k, n3 = g.shape[3]
    cdef const floating* grow
    cdef floating* orow
    for p in range(g.shape[0]):
        for i in range(g.shape[1]):
            for j in range(g.shape[2]):
                grow = &g[p, i, j, 0]
                orow = &out[p, m1[i], m2[j], 0]
                for k in range(n3):
                    orow[m3[k]] += grow[k]


def pad_forward(x, widths, mode):
    """``x`` padded by ``widths`` ((lo, hi) pairs for its last len(widths) dims) in ``mode``
    ("reflect" or "replicate")."""
    x = validate.float_array(x, "input")
    in4, out4, maps, out_shape = validate.pad_maps(x.shape, widths, mode)
    out = validate.alloc(out4, x.dtype, "pad")
    if out.size:
        if x.dtype == np.float32:
            _fwd[float](np.ascontiguousarray(x).reshape(in4), out, *maps)
        else:
            _fwd[double](np.ascontiguousarray(x).reshape(in4), out, *maps)
    return out.reshape(out_shape)


def pad_backward(g, shape, widths, mode):
    """The gradient of ``pad_forward`` for an input of ``shape``: ``g`` (the padded shape)
    summed back onto the input positions each element was copied from."""
    g = validate.float_array(g, "grad")
    in4, out4, maps, out_shape = validate.pad_maps(shape, widths, mode)
    if g.shape != out_shape:
        raise ValueError(f"grad has shape {g.shape} but padding {tuple(shape)} by {tuple(widths)} gives "
                         f"{out_shape}; expected equal shapes")
    out = validate.alloc(in4, g.dtype, "pad backward", zero=True)
    if g.size:
        if g.dtype == np.float32:
            _bwd[float](np.ascontiguousarray(g).reshape(out4), out, *maps)
        else:
            _bwd[double](np.ascontiguousarray(g).reshape(out4), out, *maps)
    return out.reshape(tuple(shape))
