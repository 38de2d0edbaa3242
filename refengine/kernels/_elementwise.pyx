# cython: language_level=3, cdivision=True
# distutils: extra_compile_args = -fno-trapping-math -fno-math-errno -ffp-contract=off
"""Fused elementwise kernels: one pass over memory instead of numpy's chain of temporaries.

Every kernel computes ``out[i] = f(a[i], b[i])`` for arrays of any rank and
strides (0-d, zero-size, non-contiguous and negative-stride views included) into
a fresh C-contiguous array.  C-contiguous operands take a flat C loop compiled for
AVX-512, AVX2 and the baseline ISA and chosen at load time (the extern block
below); anything else walks the operands' byte strides with an odometer over the
outer dims (an N-d iterator, so no operand is copied -- except for the kernels with a
transcendental, which always take the contiguous loops, see below).  Inputs are
validated in the ``def`` wrappers (``refengine.kernels.validate``) before the
unchecked ``nogil`` loops run.  The numpy twin is ``elementwise_numpy.py``.

``-ffp-contract=off``: the AVX2/AVX-512 clones would otherwise fuse ``1 - y*y`` (tanh
backward) into an FMA, whose single rounding differs from numpy's two; without it
every kernel without a transcendental is bit-identical to its twin.

The kernels with a transcendental (exp/log/sigmoid/softplus/silu/gelu): float32 runs on
``vmath.h``'s branch-free expf/logf, which the cloned loops vectorise (16 lanes with
AVX-512) where libm's expf ran one element per call; exp and log are within 1 ulp of the
correctly rounded result, numpy's own float32 exp/log within 2-4 ulp, so kernel and twin
agree to a few ulp, not bit for bit.  Their FMAs are explicit (``RE_FMAF``), so the result
is the same on every machine, and a strided operand is copied to take the same contiguous
loop, so it is the same in every layout.  float64 calls libm (scalar, < 1 ulp): the
float64 exp/log ops call numpy's SIMD ufuncs instead.
"""
cimport cython
from cython cimport floating
from libc.math cimport exp, log
cimport numpy as cnp
import numpy as np

from refengine.kernels import validate

cnp.import_array()

# The contiguous loops, in C so that GCC can clone each one for AVX-512, AVX2 and the
# baseline ISA and pick the best at load time (target_clones + ifunc: glibc, x86-64, GCC >= 12;
# elsewhere they compile once for the baseline).  The extensions themselves must stay
# baseline x86-64 to import on any machine, which would otherwise cap them at SSE2 while
# numpy and torch dispatch AVX-512 at run time.  Each body is the same formula as ``_f``.
cdef extern from *:
    """
    #include "vmath.h"
    #if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__GLIBC__) && __GNUC__ >= 12
    #define RE_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
    #define RE_CLONES_MEM __attribute__((target_clones("arch=x86-64-v3", "default")))
    #else
    #define RE_CLONES
    #define RE_CLONES_MEM
    #endif
    #define RE_LOOP(name, T, EXPR) \
        RE_CLONES static void name(T *__restrict out, const T *a, const T *b, Py_ssize_t n, T lo, T hi) { \
            (void)lo; (void)hi; \
            for (Py_ssize_t i = 0; i < n; i++) { T x = a[i], y = b[i]; (void)y; out[i] = (EXPR); } }
    /* exp and log backward, one multiply or divide per element: a stream through L3 (12 MB per
       1e6 float32 call, ~70 GB/s, about np.copyto's rate at that size), where the 512-bit clone ran
       7-10 % slower than this one -- AVX2, two vectors per iteration, as numpy's own
       FLOAT_multiply/FLOAT_divide_X86_V3 loops -- side by side in one process on the Zen 4 dev box
       (1e6 float32: 169-178 vs 186-197 us for g*y).  Same bits: one IEEE operation per element. */
    #define RE_LOOP_MEM(name, T, EXPR) \
        RE_CLONES_MEM static void name(T *__restrict out, const T *a, const T *b, Py_ssize_t n, T lo, T hi) { \
            (void)lo; (void)hi; \
            _Pragma("GCC unroll 2") \
            for (Py_ssize_t i = 0; i < n; i++) { T x = a[i], y = b[i]; out[i] = (EXPR); } }
    #define RE_LOOPS(sfx, T, EXPF, LOGF, SIGF, SOFTPLUS, GELU, GELU_GRAD) \
        RE_LOOP(re_sig_f_##sfx, T, SIGF(x)) \
        RE_LOOP(re_relu_f_##sfx, T, ((x > 0) | (x != x)) ? x : 0) \
        RE_LOOP(re_clamp_f_##sfx, T, (x != x) ? x : (x > hi ? hi : (x < lo ? lo : x))) \
        RE_LOOP(re_sig_b_##sfx, T, x * y * (1 - y)) \
        RE_LOOP(re_tanh_b_##sfx, T, x * (1 - y * y)) \
        RE_LOOP(re_relu_b_##sfx, T, y <= 0 ? 0 : x) \
        RE_LOOP(re_clamp_b_##sfx, T, ((y >= lo) & (y <= hi)) ? x : 0) \
        RE_LOOP_MEM(re_exp_b_##sfx, T, x * y) \
        RE_LOOP_MEM(re_log_b_##sfx, T, x / y) \
        RE_LOOP(re_exp_f_##sfx, T, EXPF(x)) \
        RE_LOOP(re_log_f_##sfx, T, LOGF(x)) \
        /* softplus: lo = beta, hi = threshold; backward: g (x) times 1 above the threshold, \
           else sigmoid(beta x) (torch's softplus_backward) */ \
        RE_LOOP(re_softplus_f_##sfx, T, SOFTPLUS(x, lo, hi)) \
        RE_LOOP(re_softplus_b_##sfx, T, (y * lo > hi) ? x : x * SIGF(y * lo)) \
        RE_LOOP(re_silu_f_##sfx, T, x * SIGF(x)) \
        RE_LOOP(re_silu_b_##sfx, T, x * (SIGF(y) * (1 + y * (1 - SIGF(y))))) \
        RE_LOOP(re_gelu_f_##sfx, T, GELU(x)) \
        RE_LOOP(re_gelu_b_##sfx, T, x * GELU_GRAD(y)) \
        typedef void (*re_loop_##sfx)(T *__restrict, const T *, const T *, Py_ssize_t, T, T); \
        static const re_loop_##sfx re_table_##sfx[17] = { \
            re_sig_f_##sfx, re_relu_f_##sfx, re_clamp_f_##sfx, re_sig_b_##sfx, re_tanh_b_##sfx, \
            re_relu_b_##sfx, re_clamp_b_##sfx, re_exp_b_##sfx, re_log_b_##sfx, re_exp_f_##sfx, \
            RE_LOG_LOOP_##sfx, re_softplus_f_##sfx, re_softplus_b_##sfx, re_silu_f_##sfx, \
            re_silu_b_##sfx, re_gelu_f_##sfx, re_gelu_b_##sfx}; \
        static void re_run_##sfx(int op, T *out, const T *a, const T *b, Py_ssize_t n, T lo, T hi) { \
            re_table_##sfx[op](out, a, b, n, lo, hi); }
    /* float32 log: the AVX-512 intrinsics loop where the CPU has it (same bits, fewer
       instructions: see vmath.h), else the cloned portable loop re_log_f_f */
    static void re_log_dispatch_f(float *__restrict, const float *, const float *, Py_ssize_t, float, float);
    #define RE_LOG_LOOP_f re_log_dispatch_f
    #define RE_LOG_LOOP_d re_log_f_d
    #define re_log_portable_f re_log_f_f
    RE_LOOPS(f, float, re_expf, re_logf, re_sigmoidf, re_softplusf, re_geluf, re_gelu_gradf)
    static void re_log_dispatch_f(float *__restrict out, const float *a, const float *b, Py_ssize_t n,
                                  float lo, float hi) {
    #ifdef RE_HAVE_LOGF_AVX512
        if (re_have_avx512f()) { re_logf_avx512(out, a, n); return; }
    #endif
        re_log_f_f(out, a, b, n, lo, hi);
    }
    RE_LOOPS(d, double, exp, log, re_sigmoid, re_softplus, re_gelu, re_gelu_grad)
    """
    void re_run_f(int op, float* out, const float* a, const float* b, Py_ssize_t n, float lo, float hi) nogil
    void re_run_d(int op, double* out, const double* a, const double* b, Py_ssize_t n, double lo, double hi) nogil
    void re_log_portable_f(float* out, const float* a, const float* b, Py_ssize_t n, float lo, float hi) nogil

cdef enum:
    SIG_F = 0
    RELU_F = 1
    CLAMP_F = 2
    SIG_B = 3
    TANH_B = 4
    RELU_B = 5
    CLAMP_B = 6
    EXP_B = 7
    LOG_B = 8
    EXP_F = 9          # from here on: transcendental, contiguous loops only (see _run)
    LOG_F = 10
    SOFTPLUS_F = 11
    SOFTPLUS_B = 12
    SILU_F = 13
    SILU_B = 14
    GELU_F = 15
    GELU_B = 16


@cython.boundscheck(False)
@cython.wraparound(False)
@cython.initializedcheck(False)
cdef inline floating _f(int op, floating a, floating b, floating lo, floating hi) noexcept nogil:
    """The scalar formula of kernel ``op`` (a = first operand, b = second), for the ops
    without a transcendental (those run on the contiguous C loops only: see ``_run``).

    ``one`` is typed: Cython writes a bare ``1`` as the double ``1.0``, which would run
    the float32 formulas in double on this (strided) path but in float on the contiguous
    one, so one input would give different results in different layouts."""
    cdef floating one = 1
    if op == RELU_F:
        return a if (a > 0 or a != a) else 0   # NaN stays NaN, as in torch
    elif op == CLAMP_F:
        if a != a:
            return a                           # torch.clamp propagates NaN
        if lo != lo:
            return lo                          # ... a NaN bound too: NaN everywhere
        if hi != hi or lo > hi:
            return hi                          # torch: min > max gives max everywhere
        return hi if a > hi else (lo if a < lo else a)
    elif op == SIG_B:                          # a = grad, b = sigmoid(x)
        return a * b * (one - b)
    elif op == TANH_B:                         # b = tanh(x)
        return a * (one - b * b)
    elif op == RELU_B:                         # b = x (or relu(x): same sign test)
        return 0 if b <= 0 else a              # torch's threshold_backward: NaN passes g
    elif op == CLAMP_B:                        # b = x: gradient passes where lo <= x <= hi
        return a if (b >= lo and b <= hi) else 0
    elif op == EXP_B:                          # b = exp(x)
        return a * b
    else:                                      # LOG_B, b = x
        return a / b


@cython.boundscheck(False)
@cython.wraparound(False)
@cython.initializedcheck(False)
cdef void _flat(int op, floating* out, const floating* a, const floating* b, Py_ssize_t n,
                floating lo, floating hi) noexcept nogil:
    """Contiguous operands: the op's C loop (see the extern block).  clamp with min > max
    (torch: max everywhere) or a NaN bound (NaN everywhere) takes the reference formula ``_f``."""
    cdef Py_ssize_t i
    if op == CLAMP_F and not lo <= hi:
        for i in range(n):
            out[i] = _f(op, a[i], b[i], lo, hi)
    elif floating is float:
        re_run_f(op, out, a, b, n, lo, hi)
    else:
        re_run_d(op, out, a, b, n, lo, hi)


@cython.boundscheck(False)
@cython.wraparound(False)
@cython.initializedcheck(False)
cdef void _strided(int op, floating* out, const char* pa, const char* pb, int nd,
                   const Py_ssize_t* shape, const Py_ssize_t* sa, const Py_ssize_t* sb,
                   floating lo, floating hi) noexcept nogil:
    """Walk two operands of ``shape`` by their byte strides; ``out`` is written in C order."""
    cdef Py_ssize_t idx[32]
    cdef Py_ssize_t inner = shape[nd - 1], ia = sa[nd - 1], ib = sb[nd - 1]
    cdef Py_ssize_t outer = 1, i, o, k = 0
    cdef int d
    for d in range(nd - 1):
        outer *= shape[d]
        idx[d] = 0
    for o in range(outer):
        for i in range(inner):
            out[k] = _f(op, (<const floating*>(pa + i * ia))[0], (<const floating*>(pb + i * ib))[0], lo, hi)
            k += 1
        d = nd - 2
        while d >= 0:                          # odometer over the outer dims
            idx[d] += 1
            pa += sa[d]
            pb += sb[d]
            if idx[d] < shape[d]:
                break
            pa -= sa[d] * shape[d]
            pb -= sb[d] * shape[d]
            idx[d] = 0
            d -= 1


cdef object _run(int op, cnp.ndarray a, cnp.ndarray b, double lo, double hi):
    """Dispatch on dtype and layout; ``a``/``b`` are validated, same shape and dtype."""
    cdef cnp.ndarray out = np.empty((<object>a).shape, (<object>a).dtype)
    cdef Py_ssize_t n = a.size
    cdef int nd = a.ndim
    cdef const Py_ssize_t* shape = <const Py_ssize_t*>cnp.PyArray_DIMS(a)
    cdef const Py_ssize_t* sa = <const Py_ssize_t*>cnp.PyArray_STRIDES(a)
    cdef const Py_ssize_t* sb = <const Py_ssize_t*>cnp.PyArray_STRIDES(b)
    cdef const char* pa = <const char*>cnp.PyArray_DATA(a)
    cdef const char* pb = <const char*>cnp.PyArray_DATA(b)
    cdef void* po = cnp.PyArray_DATA(out)
    cdef bint flat = nd == 0 or (cnp.PyArray_IS_C_CONTIGUOUS(a) and cnp.PyArray_IS_C_CONTIGUOUS(b))
    cdef bint f32 = (<object>a).dtype == np.float32
    if n == 0:
        return out
    with nogil:
        if flat and f32:
            _flat(op, <float*>po, <const float*>pa, <const float*>pb, n, <float>lo, <float>hi)
        elif flat:
            _flat(op, <double*>po, <const double*>pa, <const double*>pb, n, lo, hi)
        elif f32:
            _strided(op, <float*>po, pa, pb, nd, shape, sa, sb, <float>lo, <float>hi)
        else:
            _strided(op, <double*>po, pa, pb, nd, shape, sa, sb, lo, hi)
    return out


cdef inline bint _transcendental(int op):
    return op == SIG_F or op >= EXP_F


cdef _contiguous(a):
    """A C-contiguous copy of a strided operand of a transcendental kernel: those run on the
    contiguous loops only, so one input gives the same bits in every layout (a copy is one
    cheap pass beside the transcendental's arithmetic)."""
    return a if a.flags.c_contiguous else np.array(a, order="C")


def _unary(int op, x, double lo=0, double hi=0):
    x = validate.float_array(x, "input")
    if _transcendental(op):
        x = _contiguous(x)
    return _run(op, x, x, lo, hi)


def _binary(int op, g, s, double lo=0, double hi=0):
    g, s = validate.same_layout(g, s)
    if _transcendental(op):
        g, s = _contiguous(g), _contiguous(s)
    return _run(op, g, s, lo, hi)


def _log_forward_portable(x):
    """float32 log on the portable loop (re_logf), bypassing the AVX-512 one: for the test that
    the two give the same bits."""
    x = np.ascontiguousarray(validate.float_array(x, "input"), dtype=np.float32)
    cdef cnp.ndarray a = x
    cdef cnp.ndarray out = np.empty_like(x)
    with nogil:
        re_log_portable_f(<float*>cnp.PyArray_DATA(out), <const float*>cnp.PyArray_DATA(a),
                          <const float*>cnp.PyArray_DATA(a), a.size, 0, 0)
    return out


def exp_forward(x):
    """``exp(x)``; float32 on vmath.h's vectorised expf (<= 1 ulp)."""
    return _unary(EXP_F, x)


def log_forward(x):
    """``log(x)`` (NaN below 0, -inf at 0); float32 on vmath.h's vectorised logf (<= 1 ulp)."""
    return _unary(LOG_F, x)


def softplus_forward(x, beta=1.0, threshold=20.0):
    """``log1p(exp(beta x)) / beta``, and ``x`` where ``beta x > threshold`` (torch's softplus)."""
    return _unary(SOFTPLUS_F, x, float(beta), float(threshold))


def softplus_backward(g, x, beta=1.0, threshold=20.0):
    """``g`` where ``beta x > threshold``, else ``g * sigmoid(beta x)``."""
    return _binary(SOFTPLUS_B, g, x, float(beta), float(threshold))


def silu_forward(x):
    """``x * sigmoid(x)``."""
    return _unary(SILU_F, x)


def silu_backward(g, x):
    """``g * s * (1 + x * (1 - s))`` with ``s = sigmoid(x)``."""
    return _binary(SILU_B, g, x)


def gelu_forward(x):
    """Exact gelu ``x / 2 * (1 + erf(x / sqrt(2)))``."""
    return _unary(GELU_F, x)


def gelu_backward(g, x):
    """``g * (Phi(x) + x * phi(x))``."""
    return _binary(GELU_B, g, x)


def sigmoid_forward(x):
    """``1 / (1 + exp(-x))``."""
    return _unary(SIG_F, x)


def relu_forward(x):
    """``max(x, 0)`` (NaN stays NaN)."""
    return _unary(RELU_F, x)


def clamp_forward(x, lo=None, hi=None):
    """``min(max(x, lo), hi)``; None leaves a side open; NaN propagates."""
    l, h = validate.bounds(lo, hi)
    return _unary(CLAMP_F, x, l, h)


def sigmoid_backward(g, y):
    """``g * y * (1 - y)`` where ``y = sigmoid(x)``."""
    return _binary(SIG_B, g, y)


def tanh_backward(g, y):
    """``g * (1 - y * y)`` where ``y = tanh(x)``."""
    return _binary(TANH_B, g, y)


def relu_backward(g, x):
    """0 where ``x <= 0`` else ``g`` (so a NaN ``x`` passes ``g``, as torch's threshold_backward)."""
    return _binary(RELU_B, g, x)


def clamp_backward(g, x, lo=None, hi=None):
    """``g`` where ``lo <= x <= hi`` else 0 (torch's convention at the bounds)."""
    l, h = validate.bounds(lo, hi)
    return _binary(CLAMP_B, g, x, l, h)


def exp_backward(g, y):
    """``g * y`` where ``y = exp(x)``."""
    return _binary(EXP_B, g, y)


def log_backward(g, x):
    """``g / x``."""
    return _binary(LOG_B, g, x)
