# cython: language_level=3, cdivision=True
"""cumsum / cumprod along one dim, accumulated in double.

torch's CPU scans accumulate a float32 input in double (its ``acc_type``) and round each
running value once; numpy's float32 ``cumsum`` accumulates in float32, which drifts (0.24
absolute after 1e5 uniform [0, 1) terms).  Both kernels and their twin
(``scan_numpy.py``: ``np.cumsum(..., dtype=float64)``) follow torch, and since the order
of the additions is the same sequential one, kernel and twin agree bit for bit.

The wrapper views the input as C-contiguous ``(A, n, B)``, ``n`` the scanned dim (a copy
only for a non-contiguous input).  ``B == 1`` (the last dim) is one running scalar per
row; otherwise a row of ``B`` running doubles moves down the ``n`` axis, a loop the
compiler vectorises.  ``reverse`` scans from the end (cumsum's backward).
"""
cimport cython
from cython cimport floating
import numpy as np

from refengine.kernels import validate


@cython.boundscheck(False)
@cython.wraparound(False)
@cython.initializedcheck(False)
cdef void _scan(const floating[:, :, ::1] x, floating[:, :, ::1] out, double[::1] acc,
                bint prod, bint reverse) noexcept nogil:
    cdef Py_ssize_t a, k, i, b, n = x.shape[1], B = x.shape[2]
    cdef double s
    cdef double init = 1.0 if prod else 0.0
    cdef const floating* xp
    cdef floating* op
    cdef double* ap = &acc[0]
    for a in range(x.shape[0]):
        if B == 1:
            s = init
            for k in range(n):
                i = n - 1 - k if reverse else k
                if prod:
                    s = s * x[a, i, 0]
                else:
                    s = s + x[a, i, 0]
                out[a, i, 0] = <floating>s
            continue
        for b in range(B):
            ap[b] = init
        for k in range(n):
            i = n - 1 - k if reverse else k
            xp = &x[a, i, 0]
            op = &out[a, i, 0]
            if prod:
                for b in range(B):
                    ap[b] = ap[b] * xp[b]
                    op[b] = <floating>ap[b]
            else:
                for b in range(B):
                    ap[b] = ap[b] + xp[b]
                    op[b] = <floating>ap[b]


def _run(x, dim, bint prod, bint reverse):
    x = validate.float_array(x, "input")
    ax = validate.axis(dim, x.ndim)
    if x.ndim == 0 or x.size == 0:
        return np.array(x, order="C", copy=True)
    n = x.shape[ax]
    A = int(np.prod(x.shape[:ax], dtype=np.int64))
    B = int(np.prod(x.shape[ax + 1:], dtype=np.int64))
    x3 = np.ascontiguousarray(x).reshape(A, n, B)
    out = np.empty((A, n, B), x.dtype)
    acc = np.empty(B, np.float64)
    if x.dtype == np.float32:
        _scan[float](x3, out, acc, prod, reverse)
    else:
        _scan[double](x3, out, acc, prod, reverse)
    return out.reshape(x.shape)


def cumsum(x, dim, reverse=False):
    """Running sum of ``x`` along ``dim`` (from the end with ``reverse``), in x's dtype."""
    return _run(x, dim, False, reverse)


def cumprod(x, dim):
    """Running product of ``x`` along ``dim``, in x's dtype."""
    return _run(x, dim, True, False)
