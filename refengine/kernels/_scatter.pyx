# cython: language_level=3, cdivision=True
"""scatter_add: ``out[idx[i]] += src[i]`` into a zero array of ``size`` elements.

The backward of every gather (integer-array indexing with repeated indices,
max-pooling's argmax) is a scatter-add: repeated indices must accumulate, which
a plain ``out[idx] = src`` would not.  Indices are range-checked at the Python
boundary; the loop itself is unchecked and runs without the GIL over strided
1-D typed memoryviews (the wrapper ravels, which is a view for contiguous
input).  Twin: ``scatter_numpy.py`` (``np.add.at``).
"""
cimport cython
from cython cimport floating
from libc.stdint cimport int64_t
import numpy as np

from refengine.kernels import validate


@cython.boundscheck(False)
@cython.wraparound(False)
@cython.initializedcheck(False)
cdef void _scatter(floating[::1] out, const int64_t[:] idx, const floating[:] src):
    cdef Py_ssize_t i
    with nogil:
        for i in range(src.shape[0]):
            out[idx[i]] += src[i]


def scatter_add(size, idx, src):
    """A new 1-D array of ``size`` zeros (src's dtype) with ``src`` added at flat ``idx``."""
    size = int(size)
    if size < 0:
        raise ValueError(f"size must be non-negative, got {size}")
    src = validate.float_array(src, "src")
    idx = validate.indices(idx, size, src)
    out = validate.alloc(size, src.dtype, "scatter_add", zero=True)
    if src.size == 0:
        return out
    i1 = idx.reshape(-1)
    s1 = src.reshape(-1)
    if src.dtype == np.float32:
        _scatter[float](out, i1, s1)
    else:
        _scatter[double](out, i1, s1)
    return out
