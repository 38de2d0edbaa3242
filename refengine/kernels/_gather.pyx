# cython: language_level=3, cdivision=True
"""Gather / scatter-add along one dim (torch.gather, scatter_add, index_select, index_add).

refengine's former route mapped every selected element to a flat position in numpy
(``selection.linear_index``: one int64 array the size of the index, built dim by dim) and
then did a flat gather or ``np.add.at``; building the positions was most of the time.  These
loops compute the positions themselves over the (A, N, B) view of the array -- ``A`` the dims
before ``dim``, ``N`` its length, ``B`` the dims after -- and an (A, K, B) index (gather /
scatter_add) or a length-K index vector (index_select / index_add):

    gather_dim        out[a, k, b]        = x[a, idx[a, k, b], b]
    scatter_add_dim   out[a, idx[a, k, b], b] += src[a, k, b]     (the adjoint of gather_dim)
    index_select      out[a, k, b]        = x[a, idx[k], b]       (rows of B: a copy)
    index_add         out[a, idx[k], b]  += src[a, k, b]          (the adjoint of index_select)

Each pair is the other's adjoint, so the ops' second derivatives are these loops again.
Everything the loops index is checked first (``validate_gather``: shapes, dtypes, index
values in range -- the ops' RuntimeError otherwise); the loops run unchecked without the GIL
over C-contiguous typed memoryviews.  Repeated indices accumulate in the loop order (a, k, b),
the order of the twin's ``np.add.at`` (``gather_numpy.py``), so kernel and twin agree bit for bit.
"""
cimport cython
from cython cimport floating
from libc.stdint cimport int64_t
from libc.string cimport memcpy
import numpy as np

from refengine.kernels import validate, validate_gather as vg


@cython.boundscheck(False)
@cython.wraparound(False)
@cython.initializedcheck(False)
cdef void _gather(const floating[:, :, ::1] x, const int64_t[:, :, ::1] idx, floating[:, :, ::1] out) noexcept:
    cdef Py_ssize_t a, k, b, A = out.shape[0], K = out.shape[1], B = out.shape[2], N = x.shape[1]
    cdef const floating* xa
    cdef const int64_t* ip
    cdef floating* op
    with nogil:
        for a in range(A):
            xa = &x[a, 0, 0]
            ip = &idx[a, 0, 0]
            op = &out[a, 0, 0]
            if B == 1:
                for k in range(K):
                    op[k] = xa[ip[k]]
            else:
                for k in range(K):
                    for b in range(B):
                        op[b] = xa[ip[b] * B + b]
                    ip += B
                    op += B


@cython.boundscheck(False)
@cython.wraparound(False)
@cython.initializedcheck(False)
cdef void _scatter(floating[:, :, ::1] out, const int64_t[:, :, ::1] idx, const floating[:, :, ::1] src) noexcept:
    cdef Py_ssize_t a, k, b, A = src.shape[0], K = src.shape[1], B = src.shape[2]
    cdef floating* oa
    cdef const int64_t* ip
    cdef const floating* sp
    with nogil:
        for a in range(A):
            oa = &out[a, 0, 0]
            ip = &idx[a, 0, 0]
            sp = &src[a, 0, 0]
            if B == 1:
                for k in range(K):
                    oa[ip[k]] += sp[k]
            else:
                for k in range(K):
                    for b in range(B):
                        oa[ip[b] * B + b] += sp[b]
                    ip += B
                    sp += B


@cython.boundscheck(False)
@cython.wraparound(False)
@cython.initializedcheck(False)
cdef void _select(const floating[:, :, ::1] x, const int64_t[::1] idx, floating[:, :, ::1] out) noexcept:
    cdef Py_ssize_t a, k, A = out.shape[0], K = out.shape[1], B = out.shape[2]
    cdef const floating* xa
    cdef floating* op
    with nogil:
        for a in range(A):
            xa = &x[a, 0, 0]
            op = &out[a, 0, 0]
            if B == 1:
                for k in range(K):
                    op[k] = xa[idx[k]]
            else:
                for k in range(K):
                    memcpy(op + k * B, xa + idx[k] * B, B * sizeof(floating))


@cython.boundscheck(False)
@cython.wraparound(False)
@cython.initializedcheck(False)
cdef void _index_add(floating[:, :, ::1] out, const int64_t[::1] idx, const floating[:, :, ::1] src) noexcept:
    cdef Py_ssize_t a, k, b, A = src.shape[0], K = src.shape[1], B = src.shape[2]
    cdef floating* oa
    cdef floating* orow
    cdef const floating* sp
    with nogil:
        for a in range(A):
            oa = &out[a, 0, 0]
            sp = &src[a, 0, 0]
            if B == 1:
                for k in range(K):
                    oa[idx[k]] += sp[k]
            else:
                for k in range(K):
                    orow = oa + idx[k] * B
                    for b in range(B):
                        orow[b] += sp[b]
                    sp += B


def gather_dim(x, dim, idx):
    """``out[..., k, ...] = x[..., idx[..., k, ...], ...]`` along ``dim`` (torch.gather): idx has x's
    number of dims and is no larger than x outside ``dim``; the result has idx's shape."""
    x3, i3, out_shape = vg.gather_operands(x, dim, idx)
    out = validate.alloc(i3.shape, x3.dtype, "gather")
    if out.size:
        if x3.dtype == np.float32:
            _gather[float](x3, i3, out)
        else:
            _gather[double](x3, i3, out)
    return out.reshape(out_shape)


def scatter_add_dim(shape, dim, idx, src, base=None):
    """A new array of ``shape`` -- zeros, or a copy of ``base`` -- with ``src`` added along ``dim``
    at ``idx`` (torch.scatter_add; repeats accumulate): the adjoint of ``gather_dim``.  Only the
    corner of ``src`` that idx covers is used."""
    out, o3, corner, i3, s3 = vg.scatter_operands(shape, dim, idx, src, base)
    if s3.size:
        if s3.dtype == np.float32:
            _scatter[float](o3, i3, s3)
        else:
            _scatter[double](o3, i3, s3)
    return vg.write_back(out, o3, corner)


def index_select(x, dim, idx):
    """The slices ``idx`` (0-d or 1-D) of ``x`` along ``dim`` (torch.index_select)."""
    x3, i1, out_shape = vg.select_operands(x, dim, idx)
    out = validate.alloc((x3.shape[0], len(i1), x3.shape[2]), x3.dtype, "index_select")
    if out.size:
        if x3.dtype == np.float32:
            _select[float](x3, i1, out)
        else:
            _select[double](x3, i1, out)
    return out.reshape(out_shape)


def index_add(shape, dim, idx, src, base=None):
    """A new array of ``shape`` -- zeros, or a copy of ``base`` -- with the slices of ``src`` added
    into the slices ``idx`` along ``dim`` (torch.index_add; repeats accumulate): the adjoint of
    ``index_select``."""
    out, o3, i1, s3 = vg.index_add_operands(shape, dim, idx, src, base)
    if s3.size:
        if s3.dtype == np.float32:
            _index_add[float](o3, i1, s3)
        else:
            _index_add[double](o3, i1, s3)
    return out
