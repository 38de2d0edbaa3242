# cython: language_level=3, cdivision=True
"""sum_to_shape: the unbroadcast reduction at the heart of every broadcasting op's backward.

``sum_to_shape(g, shape)`` sums ``g`` over the dims broadcasting added or
stretched.  Dims are first classified (kept / reduced) and adjacent dims of the
same kind whose strides allow it are merged, so the common cases become one
flat loop: bias gradients (reduce rows: ``out[j] += g[i, j]``, vectorisable, four rows
per pass over ``out``) and
row sums (reduce the innermost dim into a scalar accumulator).  Anything else
(non-contiguous, negative strides, interleaved kept/reduced dims) is walked by
byte strides with an odometer.  Row sums accumulate in double (numpy sums
pairwise in the input dtype: both stay well inside float eps of the exact sum).
The twin is ``reduce_numpy.py``.
"""
cimport cython
from cython cimport floating
cimport numpy as cnp
import numpy as np

from refengine.kernels import validate

# The kept-dims accumulate (bias gradients) in C, cloned for AVX-512 / AVX2 / baseline and
# picked at load time (see _elementwise.pyx for why).
cdef extern from *:
    """
    #if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__GLIBC__) && __GNUC__ >= 12
    #define RE_RED_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
    #else
    #define RE_RED_CLONES
    #endif
    RE_RED_CLONES static void re_acc_f(float *__restrict out, const float *g, Py_ssize_t n) {
        for (Py_ssize_t i = 0; i < n; i++) out[i] += g[i]; }
    RE_RED_CLONES static void re_acc_d(double *__restrict out, const double *g, Py_ssize_t n) {
        for (Py_ssize_t i = 0; i < n; i++) out[i] += g[i]; }
    /* rows rows of n contiguous elements, rs elements apart, summed into out: four rows per
       pass over out (out[i] += (g0 + g1) + (g2 + g3)), so out is loaded and stored once per
       four rows instead of once per row */
    #define RE_ACC_ROWS(name, T) \
    RE_RED_CLONES static void name(T *__restrict out, const T *g, Py_ssize_t rows, Py_ssize_t n, Py_ssize_t rs) { \
        Py_ssize_t r = 0; \
        for (; r + 4 <= rows; r += 4) { \
            const T *g0 = g + r * rs, *g1 = g0 + rs, *g2 = g1 + rs, *g3 = g2 + rs; \
            for (Py_ssize_t i = 0; i < n; i++) out[i] += (g0[i] + g1[i]) + (g2[i] + g3[i]); } \
        for (; r < rows; r++) { \
            const T *g0 = g + r * rs; \
            for (Py_ssize_t i = 0; i < n; i++) out[i] += g0[i]; } }
    RE_ACC_ROWS(re_acc_rows_f, float)
    RE_ACC_ROWS(re_acc_rows_d, double)
    """
    void re_acc_f(float* out, const float* g, Py_ssize_t n) nogil
    void re_acc_d(double* out, const double* g, Py_ssize_t n) nogil
    void re_acc_rows_f(float* out, const float* g, Py_ssize_t rows, Py_ssize_t n, Py_ssize_t rs) nogil
    void re_acc_rows_d(double* out, const double* g, Py_ssize_t rows, Py_ssize_t n, Py_ssize_t rs) nogil

cnp.import_array()


cdef inline double _rowsum(const floating* g, Py_ssize_t n) noexcept nogil:
    """Sum of a contiguous row in double with 4 independent accumulators (latency hiding)."""
    cdef double s0 = 0, s1 = 0, s2 = 0, s3 = 0
    cdef Py_ssize_t i = 0
    while i + 4 <= n:
        s0 += g[i]
        s1 += g[i + 1]
        s2 += g[i + 2]
        s3 += g[i + 3]
        i += 4
    while i < n:
        s0 += g[i]
        i += 1
    return (s0 + s1) + (s2 + s3)


cdef inline void _accumulate(floating* out, const floating* g, Py_ssize_t n) noexcept nogil:
    """out[i] += g[i] (the bias-gradient case) on the cloned C loop."""
    if floating is float:
        re_acc_f(out, g, n)
    else:
        re_acc_d(out, g, n)


@cython.boundscheck(False)
@cython.wraparound(False)
@cython.initializedcheck(False)
cdef void _sum(floating* out, const char* pg, int nd, const Py_ssize_t* shape,
               const Py_ssize_t* gs, const Py_ssize_t* os) noexcept nogil:
    """out[o(idx)] += g[idx] over ``shape``; ``gs`` are g's byte strides, ``os`` out's element
    strides (0 on reduced dims).  The innermost dim is either reduced (scalar accumulator)
    or kept (elementwise accumulate)."""
    cdef Py_ssize_t idx[32]
    cdef Py_ssize_t inner = shape[nd - 1], ig = gs[nd - 1], io = os[nd - 1]
    cdef Py_ssize_t outer = 1, i, o, off = 0
    cdef double acc                     # float32 rows still sum in double
    cdef int d
    for d in range(nd - 1):
        outer *= shape[d]
        idx[d] = 0
    for o in range(outer):
        if io == 0 and ig == sizeof(floating):
            out[off] += _rowsum(<const floating*>pg, inner)
        elif io == 0:
            acc = 0
            for i in range(inner):
                acc = acc + (<const floating*>(pg + i * ig))[0]
            out[off] += acc
        elif ig == sizeof(floating) and io == 1:
            _accumulate(out + off, <const floating*>pg, inner)
        else:
            for i in range(inner):
                out[off + i * io] += (<const floating*>(pg + i * ig))[0]
        d = nd - 2
        while d >= 0:
            idx[d] += 1
            pg += gs[d]
            off += os[d]
            if idx[d] < shape[d]:
                break
            pg -= gs[d] * shape[d]
            off -= os[d] * shape[d]
            idx[d] = 0
            d -= 1


cdef tuple _merge(tuple shape, list gs, list os):
    """Drop size-1 dims and merge neighbours that one stride step covers (for g and out alike)."""
    ms, mg, mo = [], [], []
    for n, a, b in zip(shape, gs, os):
        if n == 1:
            continue
        if ms and mg[-1] == a * n and mo[-1] == b * n:
            ms[-1] *= n
            mg[-1] = a
            mo[-1] = b
        else:
            ms.append(n)
            mg.append(a)
            mo.append(b)
    if not ms:
        ms, mg, mo = [1], [0], [0]
    return ms, mg, mo


def sum_to_shape(g, shape):
    """Sum ``g`` down to ``shape`` (which must broadcast to ``g.shape``); returns a new array
    (or ``g`` itself when the shapes already match)."""
    g = validate.float_array(g, "grad")
    shape = validate.target_shape(g, shape)
    if g.shape == shape:
        return g
    cdef cnp.ndarray garr = g
    cdef int lead = g.ndim - len(shape)
    out = np.zeros(shape, g.dtype)
    if g.size == 0:
        return out
    # out's element strides seen from g's dims: 0 where a dim is added or stretched
    ostr = [0] * g.ndim
    step = 1
    for i in range(len(shape) - 1, -1, -1):
        if shape[i] != 1:
            ostr[lead + i] = step
        step *= shape[i]
    ms, mg, mo = _merge(g.shape, list(g.strides), ostr)
    cdef Py_ssize_t cs[32]
    cdef Py_ssize_t cg[32]
    cdef Py_ssize_t co[32]
    cdef int nd = len(ms), d
    for d in range(nd):
        cs[d], cg[d], co[d] = ms[d], mg[d], mo[d]
    cdef const char* pg = <const char*>cnp.PyArray_DATA(garr)
    cdef void* po = cnp.PyArray_DATA(<cnp.ndarray>out)
    cdef Py_ssize_t isz = g.itemsize
    if nd == 2 and co[0] == 0 and co[1] == 1 and cg[1] == isz and cg[0] > 0 and cg[0] % isz == 0:
        # the bias-gradient case (rows summed into a contiguous vector): four rows a pass
        if g.dtype == np.float32:
            with nogil:
                re_acc_rows_f(<float*>po, <const float*>pg, cs[0], cs[1], cg[0] // isz)
        else:
            with nogil:
                re_acc_rows_d(<double*>po, <const double*>pg, cs[0], cs[1], cg[0] // isz)
        return out
    if g.dtype == np.float32:
        with nogil:
            _sum(<float*>po, pg, nd, cs, cg, co)
    else:
        with nogil:
            _sum(<double*>po, pg, nd, cs, cg, co)
    return out
