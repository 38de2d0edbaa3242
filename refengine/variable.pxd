cdef class VersionCounter:
    cdef public long value


cdef class Variable:
    cdef public object data            # numpy.ndarray holding the value
    cdef public object _grad           # Variable or None
    cdef public object grad_fn         # Node that produced this Variable, None for leaves
    cdef public int output_nr          # which output of grad_fn this is
    cdef public bint _requires_grad    # meaningful for leaves; non-leaves always require grad
    cdef public bint _volatile         # legacy flag: excluded from graphs, contagious
    cdef public bint _retains_grad
    cdef VersionCounter _vc            # None until needed (_version_of): most Variables never are
    cdef public list _hooks            # gradient hooks of a leaf (non-leaf hooks live on grad_fn)
    cdef public object _accumulator    # weakref to this leaf's AccumulateGrad node
    cdef object __weakref__


cdef Variable make_variable(object data, bint requires_grad, bint is_volatile)
cdef VersionCounter _version_of(Variable v)


# Grad mode lives in a C thread-local, read on every op without a Python attribute lookup.
cdef bint grad_enabled() noexcept
cdef void set_grad_enabled_c(bint mode) noexcept


# function.pyx hands its _apply here at import, so the hottest operators call it in C.
ctypedef object (*ApplyFn)(object cls, tuple args, dict kwargs)
cdef void set_apply_impl(ApplyFn fn) noexcept
