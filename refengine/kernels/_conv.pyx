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

``layout="rows"`` ("im2row") is the same matrix transposed with its taps reordered:
``rows[n, oh*OW + ow, (i*kw + j)*C + c]``.  conv2d's three GEMMs take this layout about 1.4x
faster from OpenBLAS than the column one (the output's long side first: ~80 against 50-58
GFLOP/s on the benchmark's conv), and the taps of one kernel row over every channel are
``kw*C`` contiguous floats of a channels-last copy of the sample, so a row is built from
``kh`` block copies.  ``col2im(..., layout="rows")`` is its adjoint; with a 1x1 kernel
(stride 1, no padding) it is the (N, HW, C) -> (N, C, H, W) transpose.
"""
cimport cython
from cython cimport floating
from libc.math cimport INFINITY
from libc.stdint cimport int64_t
from libc.string cimport memcpy, memset
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


# ---- im2row / row2im: the channels-last layout (see the module docstring) ----
#
# The per-sample loops are C, cloned for AVX-512/AVX2/baseline like the max-pool loop below, so
# the row sums vectorise at the machine's width; the (L, C) <-> (C, L) transposes (a sample to
# channels-last and back, and the forward's (OH*OW, F) products to NCHW) run on 8x8 (float) or
# 4x4 (double) register tiles with AVX2 shuffles where the CPU has AVX2, else a scalar loop.
cdef extern from *:
    """
    #include <stdint.h>
    #include <string.h>
    #if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__GLIBC__) && __GNUC__ >= 12
    #define RE_R2_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
    #else
    #define RE_R2_CLONES
    #endif
    #if defined(__GNUC__) && defined(__x86_64__)
    #include <immintrin.h>
    #define RE_TR_AVX2 1
    __attribute__((target("avx2"))) static void re_tr_f_avx2(const float *s, Py_ssize_t sld, float *d,
            Py_ssize_t dld, Py_ssize_t R, Py_ssize_t C) {
        Py_ssize_t r0 = 0, c0, r, c;
        for (; r0 + 8 <= R; r0 += 8) {
            for (c0 = 0; c0 + 8 <= C; c0 += 8) {
                const float *p = s + r0 * sld + c0;
                __m256 a0 = _mm256_loadu_ps(p), a1 = _mm256_loadu_ps(p + sld),
                       a2 = _mm256_loadu_ps(p + 2 * sld), a3 = _mm256_loadu_ps(p + 3 * sld),
                       a4 = _mm256_loadu_ps(p + 4 * sld), a5 = _mm256_loadu_ps(p + 5 * sld),
                       a6 = _mm256_loadu_ps(p + 6 * sld), a7 = _mm256_loadu_ps(p + 7 * sld);
                __m256 t0 = _mm256_unpacklo_ps(a0, a1), t1 = _mm256_unpackhi_ps(a0, a1),
                       t2 = _mm256_unpacklo_ps(a2, a3), t3 = _mm256_unpackhi_ps(a2, a3),
                       t4 = _mm256_unpacklo_ps(a4, a5), t5 = _mm256_unpackhi_ps(a4, a5),
                       t6 = _mm256_unpacklo_ps(a6, a7), t7 = _mm256_unpackhi_ps(a6, a7);
                __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xEE),
                       u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xEE),
                       u4 = _mm256_shuffle_ps(t4, t6, 0x44), u5 = _mm256_shuffle_ps(t4, t6, 0xEE),
                       u6 = _mm256_shuffle_ps(t5, t7, 0x44), u7 = _mm256_shuffle_ps(t5, t7, 0xEE);
                float *q = d + c0 * dld + r0;
                _mm256_storeu_ps(q, _mm256_permute2f128_ps(u0, u4, 0x20));
                _mm256_storeu_ps(q + dld, _mm256_permute2f128_ps(u1, u5, 0x20));
                _mm256_storeu_ps(q + 2 * dld, _mm256_permute2f128_ps(u2, u6, 0x20));
                _mm256_storeu_ps(q + 3 * dld, _mm256_permute2f128_ps(u3, u7, 0x20));
                _mm256_storeu_ps(q + 4 * dld, _mm256_permute2f128_ps(u0, u4, 0x31));
                _mm256_storeu_ps(q + 5 * dld, _mm256_permute2f128_ps(u1, u5, 0x31));
                _mm256_storeu_ps(q + 6 * dld, _mm256_permute2f128_ps(u2, u6, 0x31));
                _mm256_storeu_ps(q + 7 * dld, _mm256_permute2f128_ps(u3, u7, 0x31));
            }
            for (c = c0; c < C; c++)
                for (r = r0; r < r0 + 8; r++) d[c * dld + r] = s[r * sld + c];
        }
        for (r = r0; r < R; r++)
            for (c = 0; c < C; c++) d[c * dld + r] = s[r * sld + c];
    }
    __attribute__((target("avx2"))) static void re_tr_d_avx2(const double *s, Py_ssize_t sld, double *d,
            Py_ssize_t dld, Py_ssize_t R, Py_ssize_t C) {
        Py_ssize_t r0 = 0, c0, r, c;
        for (; r0 + 4 <= R; r0 += 4) {
            for (c0 = 0; c0 + 4 <= C; c0 += 4) {
                const double *p = s + r0 * sld + c0;
                __m256d a0 = _mm256_loadu_pd(p), a1 = _mm256_loadu_pd(p + sld),
                        a2 = _mm256_loadu_pd(p + 2 * sld), a3 = _mm256_loadu_pd(p + 3 * sld);
                __m256d t0 = _mm256_unpacklo_pd(a0, a1), t1 = _mm256_unpackhi_pd(a0, a1),
                        t2 = _mm256_unpacklo_pd(a2, a3), t3 = _mm256_unpackhi_pd(a2, a3);
                double *q = d + c0 * dld + r0;
                _mm256_storeu_pd(q, _mm256_permute2f128_pd(t0, t2, 0x20));
                _mm256_storeu_pd(q + dld, _mm256_permute2f128_pd(t1, t3, 0x20));
                _mm256_storeu_pd(q + 2 * dld, _mm256_permute2f128_pd(t0, t2, 0x31));
                _mm256_storeu_pd(q + 3 * dld, _mm256_permute2f128_pd(t1, t3, 0x31));
            }
            for (c = c0; c < C; c++)
                for (r = r0; r < r0 + 4; r++) d[c * dld + r] = s[r * sld + c];
        }
        for (r = r0; r < R; r++)
            for (c = 0; c < C; c++) d[c * dld + r] = s[r * sld + c];
    }
    #endif
    /* d[c*dld + r] = s[r*sld + c] for r < R, c < C (s and d do not overlap) */
    #define RE_TRANSPOSE(sfx, T) \
    static void re_tr_##sfx##_plain(const T *s, Py_ssize_t sld, T *d, Py_ssize_t dld, Py_ssize_t R, Py_ssize_t C) { \
        for (Py_ssize_t r0 = 0; r0 < R; r0 += 64) { \
            Py_ssize_t r1 = r0 + 64 < R ? r0 + 64 : R; \
            for (Py_ssize_t c = 0; c < C; c++) \
                for (Py_ssize_t r = r0; r < r1; r++) d[c * dld + r] = s[r * sld + c]; } }
    RE_TRANSPOSE(f, float)
    RE_TRANSPOSE(d, double)
    #ifdef RE_TR_AVX2
    #define RE_TR_DISPATCH(sfx, T) \
    static void re_tr_##sfx(const T *s, Py_ssize_t sld, T *d, Py_ssize_t dld, Py_ssize_t R, Py_ssize_t C) { \
        if (__builtin_cpu_supports("avx2")) re_tr_##sfx##_avx2(s, sld, d, dld, R, C); \
        else re_tr_##sfx##_plain(s, sld, d, dld, R, C); }
    #else
    #define RE_TR_DISPATCH(sfx, T) \
    static void re_tr_##sfx(const T *s, Py_ssize_t sld, T *d, Py_ssize_t dld, Py_ssize_t R, Py_ssize_t C) { \
        re_tr_##sfx##_plain(s, sld, d, dld, R, C); }
    #endif
    RE_TR_DISPATCH(f, float)
    RE_TR_DISPATCH(d, double)
    /* im2row of one channels-last sample t (H, W, C) into rows (OH*OW, kh*kw*C).  Its copies are
       short (kw*C floats: 192 B in the benchmark's conv, ~98k of them per batch), so they are inline
       loops in a cloned body rather than libc memcpy/memset calls, whose per-call cost was most of
       im2row's time (perf: __memmove 1.6 ms of the conv's 18.8); "no-tree-loop-distribute-patterns"
       keeps GCC from turning the loops back into those calls. */
    #if defined(__GNUC__) && !defined(__clang__)
    #define RE_NO_MEMCALLS __attribute__((optimize("no-tree-loop-distribute-patterns")))
    #else
    #define RE_NO_MEMCALLS
    #endif
    #define RE_IM2ROW_CP(d, s, n) for (Py_ssize_t k_ = 0; k_ < (n); k_++) (d)[k_] = (s)[k_]
    #define RE_IM2ROW_ZERO(d, n) for (Py_ssize_t k_ = 0; k_ < (n); k_++) (d)[k_] = 0
    #define RE_IM2ROW(sfx, T) \
    RE_R2_CLONES RE_NO_MEMCALLS static void re_im2row_##sfx(const T *__restrict t, T *__restrict rows, Py_ssize_t C, \
            Py_ssize_t H, Py_ssize_t W, int kh, int kw, int sh, int sw, int ph, int pw, int dh, int dw, int oh, int ow) { \
        Py_ssize_t KC = (Py_ssize_t)kw * C, RL = KC * kh; \
        for (Py_ssize_t y = 0; y < oh; y++) for (Py_ssize_t xx = 0; xx < ow; xx++) { \
            T *dst = rows + (y * ow + xx) * RL; \
            Py_ssize_t ix0 = xx * sw - pw; \
            for (int i = 0; i < kh; i++) { \
                T *d = dst + i * KC; \
                Py_ssize_t iy = y * sh - ph + (Py_ssize_t)i * dh; \
                if (iy < 0 || iy >= H) { RE_IM2ROW_ZERO(d, KC); } \
                else if (dw == 1 && ix0 >= 0 && ix0 + kw <= W) { const T *s_ = t + (iy * W + ix0) * C; RE_IM2ROW_CP(d, s_, KC); } \
                else for (int j = 0; j < kw; j++) { \
                    Py_ssize_t ix = ix0 + (Py_ssize_t)j * dw; \
                    if (ix < 0 || ix >= W) { RE_IM2ROW_ZERO(d + j * C, C); } \
                    else { const T *s_ = t + (iy * W + ix) * C; RE_IM2ROW_CP(d + j * C, s_, C); } } } } }
    RE_IM2ROW(f, float)
    RE_IM2ROW(d, double)
    /* its adjoint: sum rows (OH*OW, kh*kw*C) into the zeroed channels-last t (H, W, C) */
    #define RE_ROW2IM(sfx, T) \
    RE_R2_CLONES static void re_row2im_##sfx(const T *__restrict rows, T *__restrict t, Py_ssize_t C, Py_ssize_t H, \
            Py_ssize_t W, int kh, int kw, int sh, int sw, int ph, int pw, int dh, int dw, int oh, int ow) { \
        Py_ssize_t KC = (Py_ssize_t)kw * C, RL = KC * kh; \
        for (Py_ssize_t y = 0; y < oh; y++) for (Py_ssize_t xx = 0; xx < ow; xx++) { \
            const T *src = rows + (y * ow + xx) * RL; \
            Py_ssize_t ix0 = xx * sw - pw; \
            for (int i = 0; i < kh; i++) { \
                Py_ssize_t iy = y * sh - ph + (Py_ssize_t)i * dh; \
                if (iy < 0 || iy >= H) continue; \
                const T *s = src + i * KC; \
                if (dw == 1 && ix0 >= 0 && ix0 + kw <= W) { \
                    T *d = t + (iy * W + ix0) * C; \
                    for (Py_ssize_t k = 0; k < KC; k++) d[k] += s[k]; } \
                else for (int j = 0; j < kw; j++) { \
                    Py_ssize_t ix = ix0 + (Py_ssize_t)j * dw; \
                    if (ix < 0 || ix >= W) continue; \
                    T *d = t + (iy * W + ix) * C; \
                    for (Py_ssize_t k = 0; k < C; k++) d[k] += s[j * C + k]; } } } }
    RE_ROW2IM(f, float)
    RE_ROW2IM(d, double)
    """
    void re_tr_f(const float* s, Py_ssize_t sld, float* d, Py_ssize_t dld, Py_ssize_t R, Py_ssize_t C) nogil
    void re_tr_d(const double* s, Py_ssize_t sld, double* d, Py_ssize_t dld, Py_ssize_t R, Py_ssize_t C) nogil
    void re_im2row_f(const float* t, float* rows, Py_ssize_t C, Py_ssize_t H, Py_ssize_t W, int kh, int kw,
                     int sh, int sw, int ph, int pw, int dh, int dw, int oh, int ow) nogil
    void re_im2row_d(const double* t, double* rows, Py_ssize_t C, Py_ssize_t H, Py_ssize_t W, int kh, int kw,
                     int sh, int sw, int ph, int pw, int dh, int dw, int oh, int ow) nogil
    void re_row2im_f(const float* rows, float* t, Py_ssize_t C, Py_ssize_t H, Py_ssize_t W, int kh, int kw,
                     int sh, int sw, int ph, int pw, int dh, int dw, int oh, int ow) nogil
    void re_row2im_d(const double* rows, double* t, Py_ssize_t C, Py_ssize_t H, Py_ssize_t W, int kh, int kw,
                     int sh, int sw, int ph, int pw, int dh, int dw, int oh, int ow) nogil


cdef inline void _tr(const floating* s, Py_ssize_t sld, floating* d, Py_ssize_t dld,
                     Py_ssize_t R, Py_ssize_t C) noexcept nogil:
    """d[c*dld + r] = s[r*sld + c] for r < R, c < C."""
    if floating is float:
        re_tr_f(s, sld, d, dld, R, C)
    else:
        re_tr_d(s, sld, d, dld, R, C)


@cython.boundscheck(False)
@cython.wraparound(False)
@cython.initializedcheck(False)
cdef inline void _hwc_from(const floating[:, :, :] xs, floating* t) noexcept nogil:
    """t[(h*W + w)*C + c] = xs[c, h, w]: a channels-last copy of one sample.  Each channel's
    plane contiguous (any channel stride): one (C, H*W) -> (H*W, C) transpose; else a loop."""
    cdef Py_ssize_t C = xs.shape[0], H = xs.shape[1], W = xs.shape[2], c, h, w
    cdef Py_ssize_t isz = sizeof(floating)
    cdef floating* r
    if (xs.strides[2] == isz and xs.strides[1] == W * isz and xs.strides[0] > 0
            and xs.strides[0] % isz == 0 and (C == 1 or xs.strides[0] >= H * W * isz)):
        _tr(&xs[0, 0, 0], xs.strides[0] // isz, t, C, C, H * W)
        return
    for h in range(H):
        r = t + h * W * C
        for c in range(C):
            for w in range(W):
                r[w * C + c] = xs[c, h, w]


@cython.boundscheck(False)
@cython.wraparound(False)
@cython.initializedcheck(False)
cdef void _im2row(const floating[:, :, :, :] x, floating[:, :, ::1] rows, floating[::1] tbuf,
                  int kh, int kw, int sh, int sw, int ph, int pw, int dh, int dw, int oh, int ow):
    """Per sample: a channels-last copy of it, then per output pixel and kernel row one copy of
    kw*C contiguous floats (or C per tap where the span leaves the image, or with dilation)."""
    cdef Py_ssize_t N = x.shape[0], C = x.shape[1], H = x.shape[2], W = x.shape[3], n
    cdef floating* t = &tbuf[0]
    with nogil:
        for n in range(N):
            _hwc_from(x[n], t)
            if floating is float:
                re_im2row_f(t, &rows[n, 0, 0], C, H, W, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow)
            else:
                re_im2row_d(t, &rows[n, 0, 0], C, H, W, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow)


@cython.boundscheck(False)
@cython.wraparound(False)
@cython.initializedcheck(False)
cdef void _row2im(const floating[:, :, ::1] rows, floating[:, :, :, ::1] x, floating[::1] tbuf,
                  int kh, int kw, int sh, int sw, int ph, int pw, int dh, int dw, int oh, int ow,
                  const floating* bias):
    """The adjoint of _im2row: per sample, sum the rows into a zeroed channels-last buffer
    along the same spans, then transpose it into x[n].  A 1x1 kernel with stride 1 and no
    padding is a plain transpose."""
    cdef Py_ssize_t N = x.shape[0], C = x.shape[1], H = x.shape[2], W = x.shape[3], L = oh * ow, n, c, i
    cdef floating* t = &tbuf[0]
    cdef floating* xc
    cdef floating bc
    cdef bint plain = kh == 1 and kw == 1 and sh == 1 and sw == 1 and ph == 0 and pw == 0
    with nogil:
        for n in range(N):
            if plain:
                _tr(&rows[n, 0, 0], C, &x[n, 0, 0, 0], L, L, C)
                if bias != NULL:            # conv2d's bias, added while the sample is in cache
                    for c in range(C):
                        xc = &x[n, c, 0, 0]
                        bc = bias[c]
                        for i in range(L):
                            xc[i] = xc[i] + bc
                continue
            memset(t, 0, H * W * C * sizeof(floating))
            if floating is float:
                re_row2im_f(&rows[n, 0, 0], t, C, H, W, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow)
            else:
                re_row2im_d(&rows[n, 0, 0], t, C, H, W, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow)
            _tr(t, C, &x[n, 0, 0, 0], H * W, H * W, C)


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


def _layout(layout):
    if layout not in ("cols", "rows"):
        raise ValueError(f"layout must be 'cols' or 'rows', got {layout!r}")
    return layout


def im2col(x, kernel_size, stride=1, padding=0, dilation=1, layout="cols"):
    """Columns ``(N, C*kh*kw, OH*OW)`` of the (zero-padded) NCHW input ``x``; with
    ``layout="rows"`` the rows ``(N, OH*OW, kh*kw*C)``, taps ordered (i, j, c)."""
    layout = _layout(layout)
    x = validate.float_array(x, "input")
    kh, kw, sh, sw, ph, pw, dh, dw, oh, ow = _geometry(x, kernel_size, stride, padding, dilation, "im2col")
    N, C = x.shape[:2]
    if layout == "rows":
        rows = validate.alloc((N, oh * ow, kh * kw * C), x.dtype, "im2col")
        if rows.size:
            t = validate.alloc(max(1, C * x.shape[2] * x.shape[3]), x.dtype, "im2col")
            if x.dtype == np.float32:
                _im2row[float](x, rows, t, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow)
            else:
                _im2row[double](x, rows, t, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow)
        return rows
    cols = validate.alloc((N, C * kh * kw, oh * ow), x.dtype, "im2col")
    if cols.size:
        if x.dtype == np.float32:
            _im2col[float](x, cols, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow)
        else:
            _im2col[double](x, cols, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow)
    return cols


def col2im(cols, x_shape, kernel_size, stride=1, padding=0, dilation=1, layout="cols", out=None, bias=None):
    """The adjoint of im2col: sum the columns (or, ``layout="rows"``, the rows) back into an
    NCHW array of ``x_shape``.  ``layout="rows"`` only: ``out``, a C-contiguous array of
    ``x_shape`` and the rows' dtype, receives the result (returned) instead of a new array;
    ``bias`` (C values), with a 1x1 kernel, stride 1 and no padding (the (N, HW, C) -> (N, C, H, W)
    transpose), is added to every channel (conv2d's forward: one pass instead of two)."""
    layout = _layout(layout)
    if (out is not None or bias is not None) and layout != "rows":
        raise ValueError("col2im: out and bias are for layout='rows' only")
    cols = validate.float_array(cols, "cols")
    x_shape = tuple(int(s) for s in x_shape)
    kh, kw, sh, sw, ph, pw, dh, dw, oh, ow = validate.window(x_shape, kernel_size, stride, padding, dilation, "col2im")
    if layout == "rows":
        want = (x_shape[0], oh * ow, kh * kw * x_shape[1])
    else:
        want = (x_shape[0], x_shape[1] * kh * kw, oh * ow)
    if cols.shape != want:
        raise ValueError(f"col2im: {layout} has shape {cols.shape}, expected {want} for input shape {x_shape}")
    if layout == "rows":
        if bias is not None:
            if (kh, kw, sh, sw, ph, pw) != (1, 1, 1, 1, 0, 0):
                raise ValueError("col2im: bias needs a 1x1 kernel, stride 1 and no padding")
            bias = np.ascontiguousarray(validate.float_array(bias, "bias"), dtype=cols.dtype)
            if bias.shape != (x_shape[1],):
                raise ValueError(f"col2im: bias has shape {bias.shape}, expected ({x_shape[1]},)")
        if out is None:
            x = validate.alloc(x_shape, cols.dtype, "col2im", zero=cols.size == 0)
        else:
            if not isinstance(out, np.ndarray) or out.shape != x_shape or out.dtype != cols.dtype \
                    or not out.flags.c_contiguous or not out.flags.writeable:
                raise ValueError(f"col2im: out must be a writeable C-contiguous {cols.dtype} array of shape {x_shape}")
            x = out
            if cols.size == 0:
                x[...] = 0
        if cols.size:
            t = validate.alloc(max(1, x_shape[1] * x_shape[2] * x_shape[3]), cols.dtype, "col2im")
            cols = np.ascontiguousarray(cols)
            bp = 0 if bias is None else bias.__array_interface__["data"][0]
            if cols.dtype == np.float32:
                _row2im[float](cols, x, t, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow, <const float*><size_t>bp)
            else:
                _row2im[double](cols, x, t, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow, <const double*><size_t>bp)
        return x
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
