# cython: language_level=3, cdivision=True
# distutils: extra_compile_args = -fno-trapping-math -fno-math-errno
"""softmax / log_softmax forward and backward, one pass per row.

The wrappers move ``dim`` last and view the array as rows ``(R, n)`` (a view for
C-contiguous input reduced over its last dim — the fast path, whose softmax
backward runs on cloned AVX-512/AVX2 C loops — and numpy's reshape otherwise);
the kernels take 2-D typed memoryviews (strided in the fallback), so transposed
or negative-stride rows need no copy.  Each row is max-shifted
before exp (as torch does) so large logits do not overflow.  Twin:
``softmax_numpy.py``.
"""
cimport cython
from cython cimport floating
from libc.math cimport exp, log, isfinite
import numpy as np

from refengine.kernels import validate

# Contiguous-row loops in C, cloned for AVX-512 / AVX2 / baseline and picked at load time
# (see _elementwise.pyx for why).  The row reduction keeps 16 partial sums so it
# vectorises without reassociating a single accumulator.
cdef extern from "vmath.h":
    float re_expf(float) noexcept nogil
    float re_logf(float) noexcept nogil

# Contiguous-row loops in C, cloned for AVX-512 / AVX2 / baseline and picked at load time
# (see _elementwise.pyx for why).  Reductions keep 16 partial results so they vectorise
# without reassociating a single accumulator.  float32 rows call vmath.h's branch-free
# expf/logf, which vectorise with the loop (libm's expf made softmax forward 9x slower than
# torch); float64 rows call libm (scalar, < 1 ulp).
cdef extern from *:
    """
    #include "vmath.h"
    #if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__GLIBC__) && __GNUC__ >= 12
    #define RE_SM_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
    #else
    #define RE_SM_CLONES
    #endif
    #define RE_EXPSUM(name, T, EXP) \
        RE_SM_CLONES static double name(T *__restrict out, const T *x, T m, Py_ssize_t n) { \
            T acc[16] = {0}; Py_ssize_t i = 0; double s = 0; T e; \
            for (; i + 16 <= n; i += 16) for (int k = 0; k < 16; k++) { \
                e = EXP(x[i + k] - m); acc[k] += e; if (out) out[i + k] = e; } \
            for (; i < n; i++) { e = EXP(x[i] - m); s += e; if (out) out[i] = e; } \
            for (int k = 0; k < 16; k++) s += acc[k]; \
            return s; }
    #define RE_SM(sfx, T, EXP, EXPNEG, LOG) \
        RE_SM_CLONES static double re_dot_##sfx(const T *a, const T *b, Py_ssize_t n) { \
            T acc[16] = {0}; Py_ssize_t i = 0; double s = 0; \
            for (; i + 16 <= n; i += 16) for (int k = 0; k < 16; k++) acc[k] += a[i + k] * b[i + k]; \
            for (; i < n; i++) s += (double)a[i] * b[i]; \
            for (int k = 0; k < 16; k++) s += acc[k]; \
            return s; } \
        RE_SM_CLONES static double re_sum_##sfx(const T *a, Py_ssize_t n) { \
            T acc[16] = {0}; Py_ssize_t i = 0; double s = 0; \
            for (; i + 16 <= n; i += 16) for (int k = 0; k < 16; k++) acc[k] += a[i + k]; \
            for (; i < n; i++) s += a[i]; \
            for (int k = 0; k < 16; k++) s += acc[k]; \
            return s; } \
        RE_SM_CLONES static void re_sm_update_##sfx(T *__restrict out, const T *g, const T *y, T s, Py_ssize_t n) { \
            for (Py_ssize_t i = 0; i < n; i++) out[i] = y[i] * (g[i] - s); } \
        /* row max; a NaN is skipped here but reaches the sum through exp, so its row is NaN */ \
        RE_SM_CLONES static T re_max_##sfx(const T *x, Py_ssize_t n) { \
            T acc[16]; Py_ssize_t i = 0; T m = x[0]; \
            for (int k = 0; k < 16; k++) acc[k] = x[0]; \
            for (; i + 16 <= n; i += 16) for (int k = 0; k < 16; k++) acc[k] = x[i + k] > acc[k] ? x[i + k] : acc[k]; \
            for (; i < n; i++) m = x[i] > m ? x[i] : m; \
            for (int k = 0; k < 16; k++) m = acc[k] > m ? acc[k] : m; \
            return m; } \
        /* sum(exp(x - m)); with ``out`` the exponentials are also stored (softmax scales them after). \
           The ...neg variant is for x - m <= 0 or NaN (m the row max: softmax, log_softmax): EXPNEG, \
           the same bits as EXP there, at half the cost; logsumexp shifts an infinite max to 0, \
           so its arguments can be positive: EXP */ \
        RE_EXPSUM(re_expsum_##sfx, T, EXP) \
        RE_EXPSUM(re_expsumneg_##sfx, T, EXPNEG) \
        RE_SM_CLONES static void re_scale_##sfx(T *out, T c, Py_ssize_t n) { \
            for (Py_ssize_t i = 0; i < n; i++) out[i] *= c; } \
        /* log_softmax: (x - m) - log(s), in this order (see _fwd) */ \
        RE_SM_CLONES static void re_shift_##sfx(T *__restrict out, const T *x, T m, T ls, Py_ssize_t n) { \
            for (Py_ssize_t i = 0; i < n; i++) out[i] = (T)(x[i] - m) - ls; } \
        /* log_softmax backward: g - exp(y) * s */ \
        RE_SM_CLONES static void re_lsm_b_##sfx(T *__restrict out, const T *g, const T *y, T s, Py_ssize_t n) { \
            for (Py_ssize_t i = 0; i < n; i++) out[i] = g[i] - EXP(y[i]) * s; } \
        /* ... for a row whose y is <= 0 (log_softmax's own output always is): EXPNEG, same bits */ \
        RE_SM_CLONES static void re_lsm_bneg_##sfx(T *__restrict out, const T *g, const T *y, T s, Py_ssize_t n) { \
            for (Py_ssize_t i = 0; i < n; i++) out[i] = g[i] - EXPNEG(y[i]) * s; } \
        /* logsumexp backward: g * exp(x - r) */ \
        RE_SM_CLONES static void re_lse_b_##sfx(T *__restrict out, const T *x, T g, T r, Py_ssize_t n) { \
            for (Py_ssize_t i = 0; i < n; i++) out[i] = g * EXP(x[i] - r); }
    RE_SM(f, float, re_expf, re_expnegf, re_logf)
    RE_SM(d, double, exp, exp, log)
    static inline void re_sm_unused_d(void) { (void)re_lsm_bneg_d; }  /* float32 rows only use it */
    """
    double re_dot_f(const float* a, const float* b, Py_ssize_t n) nogil
    double re_dot_d(const double* a, const double* b, Py_ssize_t n) nogil
    double re_sum_f(const float* a, Py_ssize_t n) nogil
    double re_sum_d(const double* a, Py_ssize_t n) nogil
    void re_sm_update_f(float* out, const float* g, const float* y, float s, Py_ssize_t n) nogil
    void re_sm_update_d(double* out, const double* g, const double* y, double s, Py_ssize_t n) nogil
    float re_max_f(const float* x, Py_ssize_t n) nogil
    double re_max_d(const double* x, Py_ssize_t n) nogil
    double re_expsum_f(float* out, const float* x, float m, Py_ssize_t n) nogil
    double re_expsum_d(double* out, const double* x, double m, Py_ssize_t n) nogil
    double re_expsumneg_f(float* out, const float* x, float m, Py_ssize_t n) nogil
    double re_expsumneg_d(double* out, const double* x, double m, Py_ssize_t n) nogil
    void re_scale_f(float* out, float c, Py_ssize_t n) nogil
    void re_scale_d(double* out, double c, Py_ssize_t n) nogil
    void re_shift_f(float* out, const float* x, float m, float ls, Py_ssize_t n) nogil
    void re_shift_d(double* out, const double* x, double m, double ls, Py_ssize_t n) nogil
    void re_lsm_b_f(float* out, const float* g, const float* y, float s, Py_ssize_t n) nogil
    void re_lsm_bneg_f(float* out, const float* g, const float* y, float s, Py_ssize_t n) nogil
    void re_lsm_b_d(double* out, const double* g, const double* y, double s, Py_ssize_t n) nogil
    void re_lse_b_f(float* out, const float* x, float g, float r, Py_ssize_t n) nogil
    void re_lse_b_d(double* out, const double* x, double g, double r, Py_ssize_t n) nogil


cdef inline floating _ex(floating v) noexcept nogil:
    """exp in the input's precision: vmath.h's expf for float32, as in the contiguous loops,
    so a strided row gives the same bits as a contiguous one."""
    if floating is float:
        return re_expf(v)
    else:
        return exp(v)


@cython.boundscheck(False)
@cython.wraparound(False)
@cython.initializedcheck(False)
cdef void _fwd(const floating[:, :] x, floating[:, ::1] out, bint take_log):
    """Strided rows (the fallback); the same arithmetic, in the same order, as ``_fwd_c``."""
    cdef Py_ssize_t r, i, n = x.shape[1]
    cdef floating m, c
    cdef double s
    with nogil:
        for r in range(x.shape[0]):
            m = x[r, 0]
            for i in range(1, n):
                if x[r, i] > m:
                    m = x[r, i]
            # no special case for an infinite max: like torch, a row holding +inf (inf - inf)
            # or only -inf (-inf + inf) is NaN throughout, rather than [nan, 0, ...]
            s = 0
            for i in range(n):
                s += _ex(<floating>(x[r, i] - m))
            if take_log:
                # (x - m) - log(s), not x - (m + log(s)): with |m| large, m + log(s) rounds
                # log(s) away (float32 logits 3e38, 3e38: 0 instead of -log 2)
                c = <floating>log(s)
                for i in range(n):
                    out[r, i] = <floating>(x[r, i] - m) - c
            else:
                c = <floating>(1.0 / s)
                for i in range(n):
                    out[r, i] = _ex(<floating>(x[r, i] - m)) * c


@cython.boundscheck(False)
@cython.wraparound(False)
@cython.initializedcheck(False)
cdef void _fwd_c(const floating[:, ::1] x, floating[:, ::1] out, bint take_log):
    """Contiguous rows (the fast path): max, then sum of exp (softmax stores the exponentials
    and scales them: one exp per element), then the update -- each a cloned C loop."""
    cdef Py_ssize_t r, n = x.shape[1]
    cdef floating m
    cdef double s
    cdef const floating* xr
    cdef floating* orow
    with nogil:
        for r in range(x.shape[0]):
            xr = &x[r, 0]
            orow = &out[r, 0]
            if floating is float:
                m = re_max_f(xr, n)
                s = re_expsumneg_f(NULL if take_log else orow, xr, m, n)
                if take_log:
                    re_shift_f(orow, xr, m, <float>log(s), n)
                else:
                    re_scale_f(orow, <float>(1.0 / s), n)
            else:
                m = re_max_d(xr, n)
                s = re_expsumneg_d(NULL if take_log else orow, xr, m, n)
                if take_log:
                    re_shift_d(orow, xr, m, log(s), n)
                else:
                    re_scale_d(orow, 1.0 / s, n)


@cython.boundscheck(False)
@cython.wraparound(False)
@cython.initializedcheck(False)
cdef void _bwd(const floating[:, :] g, const floating[:, :] y, floating[:, ::1] out,
               bint take_log):
    cdef Py_ssize_t r, i, n = g.shape[1]
    cdef double s
    with nogil:
        for r in range(g.shape[0]):
            s = 0
            if take_log:                            # d/dx = g - exp(y) * sum(g)
                for i in range(n):
                    s += g[r, i]
                for i in range(n):
                    out[r, i] = <floating>(g[r, i] - _ex(y[r, i]) * s)
            else:                                   # d/dx = y * (g - sum(g * y))
                for i in range(n):
                    s += g[r, i] * y[r, i]
                for i in range(n):
                    out[r, i] = <floating>(y[r, i] * (g[r, i] - s))


@cython.boundscheck(False)
@cython.wraparound(False)
@cython.initializedcheck(False)
cdef void _bwd_c(const floating[:, ::1] g, const floating[:, ::1] y, floating[:, ::1] out, bint take_log):
    """Contiguous rows (the fast path): a 16-way row reduction, then a branch-free update loop."""
    cdef Py_ssize_t r, i, n = g.shape[1]
    cdef const floating* gr
    cdef const floating* yr
    cdef floating* orow
    cdef floating s
    with nogil:
        for r in range(g.shape[0]):
            gr = &g[r, 0]
            yr = &y[r, 0]
            orow = &out[r, 0]
            if floating is float:
                if take_log and re_max_f(yr, n) <= 0:
                    # log_softmax's own output (<= 0 by construction): the cheaper exp, same
                    # bits; the max pass over a cache-resident row costs a fraction of the exp
                    re_lsm_bneg_f(orow, gr, yr, <float>re_sum_f(gr, n), n)
                elif take_log:
                    re_lsm_b_f(orow, gr, yr, <float>re_sum_f(gr, n), n)
                else:
                    re_sm_update_f(orow, gr, yr, <float>re_dot_f(gr, yr, n), n)
            else:
                if take_log:
                    re_lsm_b_d(orow, gr, yr, re_sum_d(gr, n), n)
                else:
                    re_sm_update_d(orow, gr, yr, re_dot_d(gr, yr, n), n)


cdef tuple _rows(a, int ax):
    """``a`` with ``ax`` moved last, as (R, n) rows, plus the moved shape to restore."""
    # the class axis is usually already last: no moveaxis (its axis normalisation is ~2 us a call)
    moved = (a if ax == a.ndim - 1 else np.moveaxis(a, ax, -1)) if a.ndim else a.reshape(1)
    return moved.reshape(-1, moved.shape[-1]), moved.shape


def _restore(out2, moved_shape, like, int ax):
    out = out2.reshape(moved_shape)
    if not like.ndim:
        return out.reshape(())
    return out if ax == like.ndim - 1 else np.moveaxis(out, -1, ax)


def _forward(x, dim, bint take_log):
    x = validate.float_array(x, "input")
    ax = validate.axis(dim, x.ndim)
    if x.size == 0:
        return np.empty(x.shape, x.dtype)
    x2, moved = _rows(x, ax)
    out = np.empty(x2.shape, x.dtype)
    contiguous = x2.flags.c_contiguous
    if x.dtype == np.float32 and contiguous:
        _fwd_c[float](x2, out, take_log)
    elif x.dtype == np.float32:
        _fwd[float](x2, out, take_log)
    elif contiguous:
        _fwd_c[double](x2, out, take_log)
    else:
        _fwd[double](x2, out, take_log)
    return _restore(out, moved, x, ax)


def _backward(g, y, dim, bint take_log):
    g, y = validate.same_layout(g, y, ("grad", "output"))
    ax = validate.axis(dim, g.ndim)
    if g.size == 0:
        return np.empty(g.shape, g.dtype)
    g2, moved = _rows(g, ax)
    y2, _ = _rows(y, ax)
    out = np.empty(g2.shape, g.dtype)
    contiguous = g2.flags.c_contiguous and y2.flags.c_contiguous
    if g.dtype == np.float32 and contiguous:
        _bwd_c[float](g2, y2, out, take_log)
    elif g.dtype == np.float32:
        _bwd[float](g2, y2, out, take_log)
    elif contiguous:
        _bwd_c[double](g2, y2, out, take_log)
    else:
        _bwd[double](g2, y2, out, take_log)
    return _restore(out, moved, g, ax)


def softmax_forward(x, dim):
    """``exp(x) / sum(exp(x))`` along ``dim``."""
    return _forward(x, dim, False)


def log_softmax_forward(x, dim):
    """``x - logsumexp(x)`` along ``dim``."""
    return _forward(x, dim, True)


def softmax_backward(g, y, dim):
    """Gradient of softmax given its output ``y``: ``y * (g - sum(g * y))``."""
    return _backward(g, y, dim, False)


def log_softmax_backward(g, y, dim):
    """Gradient of log_softmax given its output ``y``: ``g - exp(y) * sum(g)``."""
    return _backward(g, y, dim, True)


# ---- logsumexp over one dim: r = log(sum(exp(x - m))) + m, m the row max (0 where the max
# is infinite, so a row holding +inf gives inf and an all -inf row -inf, as refengine's op).

@cython.boundscheck(False)
@cython.wraparound(False)
@cython.initializedcheck(False)
cdef void _lse(const floating[:, :] x, floating[::1] out):
    cdef Py_ssize_t r, i, n = x.shape[1]
    cdef floating m
    cdef double s
    cdef bint contiguous = x.strides[1] == sizeof(floating)
    with nogil:
        for r in range(x.shape[0]):
            if contiguous:
                if floating is float:
                    m = re_max_f(&x[r, 0], n)
                else:
                    m = re_max_d(&x[r, 0], n)
            else:
                m = x[r, 0]
                for i in range(1, n):
                    if x[r, i] > m:
                        m = x[r, i]
            if not isfinite(m):
                m = 0
            if contiguous:
                if floating is float:
                    s = re_expsum_f(NULL, &x[r, 0], m, n)
                else:
                    s = re_expsum_d(NULL, &x[r, 0], m, n)
            else:
                s = 0
                for i in range(n):
                    s += _ex(<floating>(x[r, i] - m))
            out[r] = <floating>(log(s) + m)


@cython.boundscheck(False)
@cython.wraparound(False)
@cython.initializedcheck(False)
cdef void _lse_b(const floating[::1] g, const floating[:, :] x, const floating[::1] res,
                 floating[:, ::1] out):
    cdef Py_ssize_t r, i, n = x.shape[1]
    cdef bint contiguous = x.strides[1] == sizeof(floating)
    with nogil:
        for r in range(x.shape[0]):
            if contiguous:
                if floating is float:
                    re_lse_b_f(&out[r, 0], &x[r, 0], g[r], res[r], n)
                else:
                    re_lse_b_d(&out[r, 0], &x[r, 0], g[r], res[r], n)
            else:
                for i in range(n):
                    out[r, i] = g[r] * _ex(<floating>(x[r, i] - res[r]))


def logsumexp_forward(x, dim):
    """``log(sum(exp(x)))`` along ``dim`` (removed from the result's shape)."""
    x = validate.float_array(x, "input")
    ax = validate.axis(dim, x.ndim)
    if x.size == 0:                            # the sum of no exponentials is 0: log gives -inf
        return np.full(tuple(s for i, s in enumerate(x.shape) if i != ax), -np.inf, x.dtype)
    x2, moved = _rows(x, ax)
    out = np.empty(x2.shape[0], x.dtype)
    if x.dtype == np.float32:
        _lse[float](x2, out)
    else:
        _lse[double](x2, out)
    return out.reshape(moved[:-1])


def logsumexp_backward(g, x, result, dim):
    """Gradient of logsumexp along ``dim``: ``g * exp(x - result)``, with ``g`` and ``result``
    of the reduced shape (``dim`` removed)."""
    x = validate.float_array(x, "input")
    ax = validate.axis(dim, x.ndim)
    g, result = validate.same_layout(g, result, ("grad", "result"))
    reduced = tuple(s for i, s in enumerate(x.shape) if i != ax)
    if g.shape != reduced or g.dtype != x.dtype:
        raise ValueError(f"grad has shape {g.shape} ({g.dtype}) but logsumexp of {x.shape} ({x.dtype}) "
                         f"over dim {dim} has shape {reduced}; expected equal shapes and dtypes")
    if x.size == 0:
        return np.empty(x.shape, x.dtype)
    x2, moved = _rows(x, ax)
    out = np.empty(x2.shape, x.dtype)
    g1 = np.ascontiguousarray(g).reshape(-1)
    r1 = np.ascontiguousarray(result).reshape(-1)
    if x.dtype == np.float32:
        _lse_b[float](g1, x2, r1, out)
    else:
        _lse_b[double](g1, x2, r1, out)
    return _restore(out, moved, x, ax)
