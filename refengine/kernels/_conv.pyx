# cython: language_level=3, cdivision=True
"""Window kernels for conv2d and pooling: im2col / col2im and a direct max-pool loop.

``im2col`` lays every (kernel row, kernel col) tap of every input channel out as
a row of ``cols[n, c*kh*kw + i*kw + j, oh*OW + ow]`` so conv2d becomes one
batched matmul (BLAS) and its backward ``col2im`` (the adjoint: a scatter-add of
the columns back onto the padded image).  ``max_pool2d`` scans each window
directly and records the flat input index of its first maximum (torch's tie
rule; of its last NaN when it holds NaN, as torch), which the backward scatter-adds
into; a window lying wholly in the padding (possible with dilation) gives -inf and
points at its plane's first element.  Inputs are strided 4-D typed
memoryviews (any layout, negative strides included); geometry is validated by
``validate.window`` before the unchecked ``nogil`` loops.  Twin: ``conv_numpy.py``.
"""
cimport cython
from cython cimport floating
from libc.math cimport INFINITY
from libc.stdint cimport int64_t
import numpy as np

from refengine.kernels import validate


cdef inline void _span(Py_ssize_t off, Py_ssize_t s, Py_ssize_t W, Py_ssize_t ow,
                       Py_ssize_t* lo, Py_ssize_t* hi) noexcept nogil:
    """The output columns xx whose input column xx*s + off lies in [0, W): [lo, hi)."""
    lo[0] = 0 if off >= 0 else (-off + s - 1) / s
    hi[0] = 0 if W - 1 - off < 0 else (W - 1 - off) / s + 1
    if hi[0] > ow:
        hi[0] = ow
    if lo[0] > hi[0]:
        lo[0] = hi[0]


@cython.boundscheck(False)
@cython.wraparound(False)
@cython.initializedcheck(False)
cdef void _im2col(const floating[:, :, :, :] x, floating[:, :, ::1] cols, int kh, int kw, int sh, int sw,
                  int ph, int pw, int dh, int dw, int oh, int ow):
    """Each (c, i, j) tap is a row of cols; per output row y the valid columns [lo, hi) are
    computed once, so the inner copy has no bounds test (a unit-stride copy when the
    input row is contiguous and stride is 1)."""
    cdef Py_ssize_t n, c, i, j, y, xx, r, iy, off, lo, hi
    cdef Py_ssize_t H = x.shape[2], W = x.shape[3]
    cdef Py_ssize_t sx = x.strides[3] // sizeof(floating)
    cdef const floating* src
    cdef floating* dst
    with nogil:
        for n in range(x.shape[0]):
            for c in range(x.shape[1]):
                for i in range(kh):
                    for j in range(kw):
                        r = (c * kh + i) * kw + j
                        off = j * dw - pw
                        _span(off, sw, W, ow, &lo, &hi)
                        for y in range(oh):
                            dst = &cols[n, r, y * ow]
                            iy = y * sh - ph + i * dh
                            if iy < 0 or iy >= H:
                                for xx in range(ow):
                                    dst[xx] = 0
                                continue
                            for xx in range(lo):
                                dst[xx] = 0
                            for xx in range(hi, ow):
                                dst[xx] = 0
                            src = &x[n, c, iy, 0]
                            if sx == 1 and sw == 1:
                                for xx in range(lo, hi):
                                    dst[xx] = src[xx + off]
                            else:
                                for xx in range(lo, hi):
                                    dst[xx] = src[(xx * sw + off) * sx]


@cython.boundscheck(False)
@cython.wraparound(False)
@cython.initializedcheck(False)
cdef void _col2im(const floating[:, :, :] cols, floating[:, :, :, ::1] x, int kh, int kw, int sh, int sw,
                  int ph, int pw, int dh, int dw, int oh, int ow):
    """The adjoint of _im2col, walking the same valid spans and accumulating."""
    cdef Py_ssize_t n, c, i, j, y, xx, r, iy, off, lo, hi
    cdef Py_ssize_t H = x.shape[2], W = x.shape[3]
    cdef Py_ssize_t cs = cols.strides[2] // sizeof(floating)
    cdef const floating* src
    cdef floating* dst
    with nogil:
        for n in range(x.shape[0]):
            for c in range(x.shape[1]):
                for i in range(kh):
                    for j in range(kw):
                        r = (c * kh + i) * kw + j
                        off = j * dw - pw
                        _span(off, sw, W, ow, &lo, &hi)
                        for y in range(oh):
                            iy = y * sh - ph + i * dh
                            if iy < 0 or iy >= H:
                                continue
                            src = &cols[n, r, 0]
                            dst = &x[n, c, iy, 0]
                            if cs == 1 and sw == 1:
                                for xx in range(lo, hi):
                                    dst[xx + off] += src[y * ow + xx]
                            else:
                                for xx in range(lo, hi):
                                    dst[xx * sw + off] += src[(y * ow + xx) * cs]


@cython.boundscheck(False)
@cython.wraparound(False)
@cython.initializedcheck(False)
cdef void _maxpool(const floating[:, :, :, :] x, floating[:, :, :, ::1] out, int64_t[:, :, :, ::1] arg,
                   int kh, int kw, int sh, int sw, int ph, int pw, int dh, int dw):
    cdef Py_ssize_t n, c, y, xx, i, j, iy, ix, best
    cdef Py_ssize_t C = x.shape[1], H = x.shape[2], W = x.shape[3]
    cdef floating m, v
    with nogil:
        for n in range(x.shape[0]):
            for c in range(C):
                for y in range(out.shape[2]):
                    for xx in range(out.shape[3]):
                        best = -1
                        m = 0
                        for i in range(kh):
                            iy = y * sh - ph + i * dh
                            if iy < 0 or iy >= H:
                                continue
                            for j in range(kw):
                                ix = xx * sw - pw + j * dw
                                if ix < 0 or ix >= W:
                                    continue
                                v = x[n, c, iy, ix]
                                # torch's rule: the first maximum, but every NaN takes over
                                # (so the last NaN of the window holds the index)
                                if best < 0 or v > m or v != v:
                                    m = v
                                    best = iy * W + ix
                        if best < 0:                    # the window lies wholly in the padding
                            m = -INFINITY
                            best = 0
                        out[n, c, y, xx] = m
                        arg[n, c, y, xx] = ((n * C + c) * H) * W + best


# max-pool's common case -- C-contiguous input, no padding, no dilation, so every window lies
# inside its plane -- as a C loop cloned for AVX-512/AVX2/baseline (see _elementwise.pyx).  The
# window taps are the outer loops and the output columns the inner one, so the running maximum
# is a vectorised compare-and-blend over a row of outputs: on random data the per-window
# branch of ``_maxpool`` is a coin flip, and its mispredictions cost more than the work.
# Same traversal order per window (taps row by row), same rule: a larger value or any NaN
# takes over.
cdef extern from *:
    """
    #include <stdint.h>
    #if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__GLIBC__) && __GNUC__ >= 12
    #define RE_MP_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
    #else
    #define RE_MP_CLONES
    #endif
    #define RE_MAXPOOL(sfx, T) \
    RE_MP_CLONES static void re_maxpool_##sfx(const T *plane, T *__restrict o, int64_t *__restrict a, \
            int64_t base, Py_ssize_t W, Py_ssize_t OH, Py_ssize_t OW, int kh, int kw, int sh, int sw) { \
        for (Py_ssize_t y = 0; y < OH; y++) { \
            T *orow = o + y * OW; int64_t *arow = a + y * OW; \
            int64_t top = (int64_t)y * sh * W; \
            for (Py_ssize_t xx = 0; xx < OW; xx++) { orow[xx] = plane[top + xx * sw]; arow[xx] = top + xx * sw; } \
            for (int i = 0; i < kh; i++) for (int j = (i == 0); j < kw; j++) { \
                int64_t off = top + (int64_t)i * W + j; \
                const T *r = plane + off; \
                for (Py_ssize_t xx = 0; xx < OW; xx++) { \
                    T v = r[xx * sw], m = orow[xx]; \
                    int take = (v > m) | (v != v); \
                    orow[xx] = take ? v : m; \
                    arow[xx] = take ? off + xx * sw : arow[xx]; } } \
            for (Py_ssize_t xx = 0; xx < OW; xx++) arow[xx] += base; } }
    RE_MAXPOOL(f, float)
    RE_MAXPOOL(d, double)
    """
    void re_maxpool_f(const float* plane, float* o, int64_t* a, int64_t base, Py_ssize_t W, Py_ssize_t OH,
                      Py_ssize_t OW, int kh, int kw, int sh, int sw) nogil
    void re_maxpool_d(const double* plane, double* o, int64_t* a, int64_t base, Py_ssize_t W, Py_ssize_t OH,
                      Py_ssize_t OW, int kh, int kw, int sh, int sw) nogil


@cython.boundscheck(False)
@cython.wraparound(False)
@cython.initializedcheck(False)
cdef void _maxpool_c(const floating[:, :, :, ::1] x, floating[:, :, :, ::1] out, int64_t[:, :, :, ::1] arg,
                     int kh, int kw, int sh, int sw):
    """One call of the C loop per (n, c) plane."""
    cdef Py_ssize_t n, c, C = x.shape[1], H = x.shape[2], W = x.shape[3], OH = out.shape[2], OW = out.shape[3]
    with nogil:
        for n in range(x.shape[0]):
            for c in range(C):
                if floating is float:
                    re_maxpool_f(&x[n, c, 0, 0], &out[n, c, 0, 0], &arg[n, c, 0, 0], ((n * C + c) * H) * W,
                                 W, OH, OW, kh, kw, sh, sw)
                else:
                    re_maxpool_d(&x[n, c, 0, 0], &out[n, c, 0, 0], &arg[n, c, 0, 0], ((n * C + c) * H) * W,
                                 W, OH, OW, kh, kw, sh, sw)


def _geometry(x, kernel, stride, padding, dilation, what):
    return validate.window(x.shape, kernel, stride, padding, dilation, what)


def im2col(x, kernel_size, stride=1, padding=0, dilation=1):
    """Columns ``(N, C*kh*kw, OH*OW)`` of the (zero-padded) NCHW input ``x``."""
    x = validate.float_array(x, "input")
    kh, kw, sh, sw, ph, pw, dh, dw, oh, ow = _geometry(x, kernel_size, stride, padding, dilation, "im2col")
    N, C = x.shape[:2]
    cols = validate.alloc((N, C * kh * kw, oh * ow), x.dtype, "im2col")
    if cols.size:
        if x.dtype == np.float32:
            _im2col[float](x, cols, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow)
        else:
            _im2col[double](x, cols, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow)
    return cols


def col2im(cols, x_shape, kernel_size, stride=1, padding=0, dilation=1):
    """The adjoint of im2col: sum the columns back into an NCHW array of ``x_shape``."""
    cols = validate.float_array(cols, "cols")
    x_shape = tuple(int(s) for s in x_shape)
    kh, kw, sh, sw, ph, pw, dh, dw, oh, ow = validate.window(x_shape, kernel_size, stride, padding, dilation, "col2im")
    want = (x_shape[0], x_shape[1] * kh * kw, oh * ow)
    if cols.shape != want:
        raise ValueError(f"col2im: cols has shape {cols.shape}, expected {want} for input shape {x_shape}")
    x = validate.alloc(x_shape, cols.dtype, "col2im", zero=True)
    if cols.size:
        if cols.dtype == np.float32:
            _col2im[float](cols, x, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow)
        else:
            _col2im[double](cols, x, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow)
    return x


def max_pool2d(x, kernel_size, stride=None, padding=0, dilation=1):
    """Window maxima of NCHW ``x`` and the flat index into ``x`` of each (first) maximum."""
    stride = kernel_size if stride is None else stride
    x = validate.float_array(x, "input")
    kh, kw, sh, sw, ph, pw, dh, dw, oh, ow = _geometry(x, kernel_size, stride, padding, dilation, "max_pool2d")
    if ph * 2 > kh or pw * 2 > kw:
        raise RuntimeError(f"max_pool2d: pad should be at most half of effective kernel size, but got "
                           f"pad=({ph}, {pw}) and kernel_size=({kh}, {kw})")
    N, C = x.shape[:2]
    out = validate.alloc((N, C, oh, ow), x.dtype, "max_pool2d")
    arg = validate.alloc((N, C, oh, ow), np.int64, "max_pool2d")
    if out.size == 0:
        return out, arg
    if ph == pw == 0 and dh == dw == 1 and x.flags.c_contiguous:
        if x.dtype == np.float32:
            _maxpool_c[float](x, out, arg, kh, kw, sh, sw)
        else:
            _maxpool_c[double](x, out, arg, kh, kw, sh, sw)
    elif x.dtype == np.float32:
        _maxpool[float](x, out, arg, kh, kw, sh, sw, ph, pw, dh, dw)
    else:
        _maxpool[double](x, out, arg, kh, kw, sh, sw, ph, pw, dh, dw)
    return out, arg
