from refengine.variable cimport Variable, VersionCounter


cdef class Node


cdef class SavedVariable:
    cdef object data
    cdef VersionCounter version
    cdef long saved_version
    cdef object var            # the Variable to hand back in differentiable mode (inputs, constants)
    cdef bint is_output
    cdef int output_nr

    cdef object unpack(self, Node node, bint as_variable)


cdef class _RunState:
    # a node's state in one backward run (refengine.engine): the run's id (0: none), consumers
    # still to run, outputs, and the gradients summed so far (g0 for one output, buf per output)
    cdef unsigned long long _run_id
    cdef Py_ssize_t _deps
    cdef Py_ssize_t _nout
    cdef object _g0
    cdef list _buf


cdef class Node(_RunState):
    cdef public tuple next_functions
    cdef public object _fn                 # the Function subclass whose backward this node runs
    cdef public tuple _saved               # SavedVariables (None once freed)
    cdef public bint _freed
    cdef public bint _diff                 # running a create_graph backward: hand out Variables
    cdef public tuple needs_input_grad
    cdef public tuple _var_positions       # positional-arg index of each next_functions edge
    cdef public tuple _input_meta          # (shape, dtype) per edge
    cdef public tuple _output_meta         # (shape, dtype) per output
    cdef public dict _tensor_hooks         # output_nr -> [hook]
    cdef public dict _retained             # output_nr -> weakref(Variable)
    cdef public bint materialize_grads
    cdef public bint _is_array_fn          # the Function is an ArrayFunction
    cdef public Py_ssize_t _npos           # positional arguments backward must cover
    cdef public object _raw_saved          # what forward passed to save_for_backward
    cdef public object _non_diff           # ids of outputs marked non-differentiable
    cdef public object _op_state           # a built-in op's own small value (keeps __dict__ empty)
    cdef int _arith                        # OP_ADD..OP_DIV: recorded by _apply_arith (C backward)
    cdef dict __dict__                     # free attributes set by forward (ctx.dim = ...)
    cdef object __weakref__

    cpdef list _run(self, list grads, bint create_graph)
    cdef object _check_grad(self, object g, Py_ssize_t k, bint create_graph, bint arrays)


cdef class AccumulateGrad(Node):
    cdef public Variable variable


cpdef AccumulateGrad grad_accumulator(Variable v)
cdef list _run_arith(Node node, object g)
