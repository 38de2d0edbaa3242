# cython: language_level=3, cdivision=True
"""Normalisation statistics and the input gradient of layer_norm, group_norm and batch_norm.

All three normalise an array viewed as ``(A, C, B)`` over its ``A`` and ``B`` axes, one
set of statistics per ``c``: layer_norm is ``(1, rows, normalised size)``, group_norm
``(1, N * groups, rest)`` and training batch_norm ``(N, C, H * W)``.  ``norm_forward``
returns ``xhat = (x - mean) * rstd`` with the per-``c`` mean and ``rstd = 1 / sqrt(var +
eps)`` (biased variance, two passes: the centred sum of squares does not cancel), and
``norm_backward`` the input gradient from ``gxhat`` (the output gradient times the
weight): ``rstd (gxhat - mean(gxhat) - xhat mean(gxhat xhat))``, with xhat recomputed from
the statistics.  Sums run in double over 8 partial sums (they vectorise without
reassociating one accumulator) and the statistics are returned in double; the
elementwise passes run in the input's precision.  Twin: ``norm_numpy.py``.
"""
cimport cython
from cython cimport floating
from libc.math cimport sqrt, NAN
import numpy as np

from refengine.kernels import validate

# Contiguous-row loops in C, cloned for AVX-512 / AVX2 / baseline and picked at load time
# (see _elementwise.pyx for why).
cdef extern from *:
    """
    #if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__GLIBC__) && __GNUC__ >= 12
    #define RE_NM_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
    #else
    #define RE_NM_CLONES
    #endif
    #define RE_NM(sfx, T) \
        /* sum of x, and (with m) of (x - m)^2, in double */ \
        RE_NM_CLONES static double re_nm_sum_##sfx(const T *x, Py_ssize_t n) { \
            double acc[8] = {0}; Py_ssize_t i = 0; double s = 0; \
            for (; i + 8 <= n; i += 8) for (int k = 0; k < 8; k++) acc[k] += x[i + k]; \
            for (; i < n; i++) s += x[i]; \
            for (int k = 0; k < 8; k++) s += acc[k]; \
            return s; } \
        RE_NM_CLONES static double re_nm_ssd_##sfx(const T *x, double m, Py_ssize_t n) { \
            double acc[8] = {0}; Py_ssize_t i = 0; double s = 0, d; \
            for (; i + 8 <= n; i += 8) for (int k = 0; k < 8; k++) { d = x[i + k] - m; acc[k] += d * d; } \
            for (; i < n; i++) { d = x[i] - m; s += d * d; } \
            for (int k = 0; k < 8; k++) s += acc[k]; \
            return s; } \
        RE_NM_CLONES static void re_nm_scale_##sfx(T *__restrict out, const T *x, T m, T r, Py_ssize_t n) { \
            for (Py_ssize_t i = 0; i < n; i++) out[i] = (x[i] - m) * r; } \
        /* sum of g and of g * xhat */ \
        RE_NM_CLONES static void re_nm_bsum_##sfx(const T *g, const T *x, T m, T r, Py_ssize_t n, \
                                                  double *s1, double *s2) { \
            double a1[8] = {0}, a2[8] = {0}; Py_ssize_t i = 0; double t1 = 0, t2 = 0; \
            for (; i + 8 <= n; i += 8) for (int k = 0; k < 8; k++) { \
                a1[k] += g[i + k]; a2[k] += g[i + k] * ((x[i + k] - m) * r); } \
            for (; i < n; i++) { t1 += g[i]; t2 += g[i] * ((x[i] - m) * r); } \
            for (int k = 0; k < 8; k++) { t1 += a1[k]; t2 += a2[k]; } \
            *s1 += t1; *s2 += t2; } \
        RE_NM_CLONES static void re_nm_bout_##sfx(T *__restrict out, const T *g, const T *x, T m, T r, \
                                                  T c1, T c2, Py_ssize_t n) { \
            for (Py_ssize_t i = 0; i < n; i++) out[i] = r * ((g[i] - c1) - ((x[i] - m) * r) * c2); }
    RE_NM(f, float)
    RE_NM(d, double)
    """
    double re_nm_sum_f(const float* x, Py_ssize_t n) nogil
    double re_nm_sum_d(const double* x, Py_ssize_t n) nogil
    double re_nm_ssd_f(const float* x, double m, Py_ssize_t n) nogil
    double re_nm_ssd_d(const double* x, double m, Py_ssize_t n) nogil
    void re_nm_scale_f(float* out, const float* x, float m, float r, Py_ssize_t n) nogil
    void re_nm_scale_d(double* out, const double* x, double m, double r, Py_ssize_t n) nogil
    void re_nm_bsum_f(const float* g, const float* x, float m, float r, Py_ssize_t n, double* s1, double* s2) nogil
    void re_nm_bsum_d(const double* g, const double* x, double m, double r, Py_ssize_t n, double* s1, double* s2) nogil
    void re_nm_bout_f(float* out, const float* g, const float* x, float m, float r, float c1, float c2,
                      Py_ssize_t n) nogil
    void re_nm_bout_d(double* out, const double* g, const double* x, double m, double r, double c1, double c2,
                      Py_ssize_t n) nogil


@cython.boundscheck(False)
@cython.wraparound(False)
@cython.initializedcheck(False)
cdef void _fwd(const floating[:, :, ::1] x, floating[:, :, ::1] out, double[::1] mean, double[::1] rstd,
               double eps) noexcept nogil:
    cdef Py_ssize_t a, c, A = x.shape[0], C = x.shape[1], B = x.shape[2]
    cdef double M = <double>A * B, s, m, r
    for c in range(C):
        if M == 0:                      # numpy's mean of nothing
            mean[c] = NAN
            rstd[c] = NAN
            continue
        s = 0
        for a in range(A):
            if floating is float:
                s += re_nm_sum_f(&x[a, c, 0], B)
            else:
                s += re_nm_sum_d(&x[a, c, 0], B)
        m = s / M
        s = 0
        for a in range(A):
            if floating is float:
                s += re_nm_ssd_f(&x[a, c, 0], m, B)
            else:
                s += re_nm_ssd_d(&x[a, c, 0], m, B)
        r = 1.0 / sqrt(s / M + eps)
        mean[c] = m
        rstd[c] = r
        for a in range(A):
            if floating is float:
                re_nm_scale_f(&out[a, c, 0], &x[a, c, 0], <float>m, <float>r, B)
            else:
                re_nm_scale_d(&out[a, c, 0], &x[a, c, 0], m, r, B)


@cython.boundscheck(False)
@cython.wraparound(False)
@cython.initializedcheck(False)
cdef void _bwd(const floating[:, :, ::1] g, const floating[:, :, ::1] x, const double[::1] mean,
               const double[::1] rstd, floating[:, :, ::1] out) noexcept nogil:
    cdef Py_ssize_t a, c, A = x.shape[0], C = x.shape[1], B = x.shape[2]
    cdef double M = <double>A * B, s1, s2
    cdef floating m, r, c1, c2
    for c in range(C):
        m, r = <floating>mean[c], <floating>rstd[c]
        s1 = s2 = 0
        for a in range(A):
            if floating is float:
                re_nm_bsum_f(&g[a, c, 0], &x[a, c, 0], m, r, B, &s1, &s2)
            else:
                re_nm_bsum_d(&g[a, c, 0], &x[a, c, 0], m, r, B, &s1, &s2)
        c1, c2 = <floating>(s1 / M), <floating>(s2 / M)
        for a in range(A):
            if floating is float:
                re_nm_bout_f(&out[a, c, 0], &g[a, c, 0], &x[a, c, 0], m, r, c1, c2, B)
            else:
                re_nm_bout_d(&out[a, c, 0], &g[a, c, 0], &x[a, c, 0], m, r, c1, c2, B)


def norm_forward(x, eps):
    """(xhat, mean, rstd) of a 3-D ``x`` ``(A, C, B)`` normalised over A and B per c; xhat in x's
    dtype and shape, mean and rstd float64 of shape (C,)."""
    x = validate.norm_input(x, "input")
    eps = float(eps)
    xc = np.ascontiguousarray(x)
    out = np.empty(x.shape, x.dtype)
    mean, rstd = np.empty(x.shape[1]), np.empty(x.shape[1])
    if x.dtype == np.float32:
        _fwd[float](xc, out, mean, rstd, eps)
    else:
        _fwd[double](xc, out, mean, rstd, eps)
    return out, mean, rstd


def norm_backward(gxhat, x, mean, rstd):
    """The gradient of ``xhat`` (``norm_forward``'s) with respect to ``x`` applied to ``gxhat``."""
    gxhat, x, mean, rstd = validate.norm_operands(gxhat, x, mean, rstd)
    out = np.empty(x.shape, x.dtype)
    if x.dtype == np.float32:
        _bwd[float](np.ascontiguousarray(gxhat), np.ascontiguousarray(x), mean, rstd, out)
    else:
        _bwd[double](np.ascontiguousarray(gxhat), np.ascontiguousarray(x), mean, rstd, out)
    return out
