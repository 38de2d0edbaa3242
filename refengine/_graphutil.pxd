# cython: language_level=3
"""Small C helpers of the graph core on tuples and ndarrays (inline: this .pxd is their only home)."""
cimport numpy as cnp
from cpython.ref cimport Py_INCREF
from cpython.tuple cimport PyTuple_New, PyTuple_SET_ITEM
from cpython.long cimport PyLong_AsLongLongAndOverflow


cdef extern from "Python.h":
    void PyObject_GC_UnTrack(void *op)


cdef inline object _untracked(object container):
    """Hide a graph-structure tuple from the cyclic GC.

    Nodes and Variables are not GC-tracked (they form no cycles by design), so the
    tuples linking them cannot be part of a collectable cycle either; leaving them
    tracked only makes every collection walk the whole graph."""
    PyObject_GC_UnTrack(<void *>container)
    return container


cdef inline bint _matches(object g, tuple shape, object dtype):
    """g is exactly an ndarray of this shape and (identical) dtype."""
    cdef cnp.ndarray a
    cdef Py_ssize_t i, nd
    if type(g) is not cnp.ndarray:
        return False
    a = <cnp.ndarray>g
    nd = cnp.PyArray_NDIM(a)
    if <object>cnp.PyArray_DESCR(a) is not dtype or nd != len(shape):
        return False
    for i in range(nd):
        if a.shape[i] != <Py_ssize_t>shape[i]:
            return False
    return True


cdef inline bint _expandable(tuple target, tuple shape):
    """True if an array of ``target`` shape broadcasts to ``shape`` (so the grad can be summed back)."""
    if len(target) > len(shape):
        return False
    for a, b in zip(reversed(target), reversed(shape)):
        if a != b and a != 1:
            return False
    return True


cdef inline void _put(tuple t, Py_ssize_t i, object x):
    Py_INCREF(x)  # PyTuple_SET_ITEM steals a reference
    PyTuple_SET_ITEM(t, i, x)


cdef inline tuple _meta(object data):
    """(shape, dtype) of an array, read through numpy's C API (no attribute lookups)."""
    cdef cnp.ndarray a
    cdef int i, nd
    if not isinstance(data, cnp.ndarray):
        return _untracked((data.shape, data.dtype))
    a = <cnp.ndarray>data
    nd = cnp.PyArray_NDIM(a)
    shape = PyTuple_New(nd)
    for i in range(nd):
        _put(shape, i, a.shape[i])
    return _untracked((shape, <object>cnp.PyArray_DESCR(a)))


# ----- the small-array arithmetic of + - * / (Add/Sub/Mul/Div's forward, their backward and the
# engine's gradient sums) in C, where numpy's ufunc machinery (~3.5k instructions a call) would
# cost far more than the arithmetic on a handful of elements ------------------------------------
cdef extern from *:
    """
    #include <float.h>
    /* r[i] = x[i*sx] op y[i*sy] (op 1-4: + - * /, 5: -y); a step is 1 (contiguous) or 0 (one value:
       a Python scalar, or a broadcast array such as sum's gradient).  Returns 1 if every result is
       one numpy computes without raising a floating-point flag it checks (finite; for * and / not
       tiny unless exactly zero from a zero operand), else 0: the caller then drops r and lets numpy
       recompute, warnings and np.errstate included. */
    #define RE_TINY_LOOP(T, MIN, SX, SY)                                                          \
        for (i = 0; i < n; i++) {                                                                \
            T a = x[i * SX], b = y[i * SY], c;                                                   \
            switch (op) {                                                                        \
            case 1: c = a + b; ok &= (c - c == 0); break;                                        \
            case 2: c = a - b; ok &= (c - c == 0); break;                                        \
            case 3: c = a * b; ok &= (c - c == 0) & ((c < -MIN) | (c > MIN) | ((c == 0) & ((a == 0) | (b == 0)))); break; \
            case 4: c = a / b; ok &= (c - c == 0) & ((c < -MIN) | (c > MIN) | ((c == 0) & (a == 0))); break; \
            default: c = -b; break;                                                              \
            }                                                                                    \
            r[i] = c;                                                                            \
        }
    #define RE_TINY_BODY(T, MIN)                                                                  \
        int ok = 1; Py_ssize_t i;                                                                \
        if (sx && sy) { RE_TINY_LOOP(T, MIN, 1, 1) }                                             \
        else if (sx) { RE_TINY_LOOP(T, MIN, 1, 0) }                                              \
        else if (sy) { RE_TINY_LOOP(T, MIN, 0, 1) }                                              \
        else { RE_TINY_LOOP(T, MIN, 0, 0) }                                                      \
        return ok;
    static int re_tiny_f64(int op, const double *x, int sx, const double *y, int sy, double *r, Py_ssize_t n)
    { RE_TINY_BODY(double, DBL_MIN) }
    static int re_tiny_f32(int op, const float *x, int sx, const float *y, int sy, float *r, Py_ssize_t n)
    { RE_TINY_BODY(float, FLT_MIN) }
    """
    int re_tiny_f64(int op, const double *x, int sx, const double *y, int sy, double *r, Py_ssize_t n) noexcept nogil
    int re_tiny_f32(int op, const float *x, int sx, const float *y, int sy, float *r, Py_ssize_t n) noexcept nogil


cdef enum:
    OP_ADD = 1
    OP_SUB = 2
    OP_MUL = 3
    OP_DIV = 4
    OP_NEG = 5     # -y (only through _tiny_neg)
    _TINY = 1024   # elements: beyond this numpy's SIMD loops win over the call overhead saved


cdef inline int _tiny_step(object x):
    """1 if x is an exact float32/float64 ndarray of <= _TINY elements, aligned, native and
    C-contiguous; 0 if such an array holds one value (every stride 0: a broadcast, e.g. the
    gradient sum() hands back); -1 otherwise."""
    cdef cnp.ndarray a
    cdef int t, i
    if type(x) is not cnp.ndarray:
        return -1
    a = <cnp.ndarray>x
    t = cnp.PyArray_TYPE(a)
    if ((t != cnp.NPY_DOUBLE and t != cnp.NPY_FLOAT) or cnp.PyArray_SIZE(a) > _TINY
            or not cnp.PyArray_ISALIGNED(a) or not cnp.PyArray_ISNOTSWAPPED(a)):
        return -1
    if cnp.PyArray_IS_C_CONTIGUOUS(a):
        return 1
    for i in range(cnp.PyArray_NDIM(a)):
        if cnp.PyArray_STRIDES(a)[i] != 0:
            return -1
    return 0


cdef inline bint _scalar_value(object s, double *out):
    """A Python float, or an int of magnitude <= 2**53 (exact as a double), as a double."""
    cdef long long i
    cdef int overflow = 0
    if type(s) is float:
        out[0] = <double>s
        return True
    if type(s) is int:
        i = PyLong_AsLongLongAndOverflow(s, &overflow)
        if overflow or i > 9007199254740992LL or i < -9007199254740992LL:
            return False
        out[0] = <double>i
        return True
    return False


cdef inline object _tiny_binary(int op, object x, object y):
    """``x op y`` (op: OP_ADD/SUB/MUL/DIV) as numpy computes it, without a ufunc
    call, for what _tiny_step accepts: two such arrays of one shape and dtype, or one and a
    Python float/int (numpy's weak scalar: converted to the array's dtype).  The result is a new
    C-contiguous array.  None when the operands are anything else or a result would make numpy
    raise a floating-point flag (the caller uses numpy then)."""
    cdef cnp.ndarray a, r
    cdef int sx = _tiny_step(x), sy = _tiny_step(y), t, i, nd, ok
    cdef double s = 0.0
    cdef float s32
    cdef void *px = NULL
    cdef void *py = NULL
    if sx >= 0 and sy >= 0:
        a = <cnp.ndarray>x
        nd = cnp.PyArray_NDIM(a)
        if cnp.PyArray_TYPE(<cnp.ndarray>y) != cnp.PyArray_TYPE(a) or cnp.PyArray_NDIM(<cnp.ndarray>y) != nd:
            return None
        for i in range(nd):
            if cnp.PyArray_DIMS(a)[i] != cnp.PyArray_DIMS(<cnp.ndarray>y)[i]:
                return None
        px = cnp.PyArray_DATA(a)
        py = cnp.PyArray_DATA(<cnp.ndarray>y)
    elif sx >= 0 and _scalar_value(y, &s):
        a = <cnp.ndarray>x
        px = cnp.PyArray_DATA(a)
        sy = 0
    elif sy >= 0 and _scalar_value(x, &s):
        a = <cnp.ndarray>y
        py = cnp.PyArray_DATA(a)
        sx = 0
    else:
        return None
    t = cnp.PyArray_TYPE(a)
    r = cnp.PyArray_SimpleNew(cnp.PyArray_NDIM(a), cnp.PyArray_DIMS(a), t)
    if t == cnp.NPY_DOUBLE:
        if px is NULL:
            px = &s
        elif py is NULL:
            py = &s
        ok = re_tiny_f64(op, <double *>px, sx, <double *>py, sy, <double *>cnp.PyArray_DATA(r), cnp.PyArray_SIZE(a))
    else:
        s32 = <float>s
        if px is NULL or py is NULL:
            if s32 - s32 != 0:  # a non-finite scalar, or one float32 cannot hold
                return None
            if px is NULL:
                px = &s32
            else:
                py = &s32
        ok = re_tiny_f32(op, <float *>px, sx, <float *>py, sy, <float *>cnp.PyArray_DATA(r), cnp.PyArray_SIZE(a))
    return r if ok else None


cdef inline object _tiny_neg(object y):
    """``-y`` (numpy.negative) for an array _tiny_step accepts, as a new C-contiguous array; else None."""
    cdef cnp.ndarray b, r
    cdef int sy = _tiny_step(y)
    if sy < 0:
        return None
    b = <cnp.ndarray>y
    r = cnp.PyArray_SimpleNew(cnp.PyArray_NDIM(b), cnp.PyArray_DIMS(b), cnp.PyArray_TYPE(b))
    if cnp.PyArray_TYPE(b) == cnp.NPY_DOUBLE:
        re_tiny_f64(OP_NEG, <double *>cnp.PyArray_DATA(b), sy, <double *>cnp.PyArray_DATA(b), sy,
                    <double *>cnp.PyArray_DATA(r), cnp.PyArray_SIZE(b))
    else:
        re_tiny_f32(OP_NEG, <float *>cnp.PyArray_DATA(b), sy, <float *>cnp.PyArray_DATA(b), sy,
                    <float *>cnp.PyArray_DATA(r), cnp.PyArray_SIZE(b))
    return r
