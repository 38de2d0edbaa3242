# cython: language_level=3
"""Small C helpers of the graph core on tuples and ndarrays (inline: this .pxd is their only home)."""
cimport numpy as cnp
from cpython.ref cimport Py_INCREF
from cpython.tuple cimport PyTuple_New, PyTuple_SET_ITEM


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
