# cython: language_level=3
"""Function and Node: how an op records itself in the graph.

``Function`` is what users subclass (static ``forward(ctx, ...)`` and
``backward(ctx, *grads)``, called through ``apply``); each call creates a
``Node`` (the output's ``grad_fn``) which is also the ``ctx``.  A Node holds the
edges to the nodes of its inputs (``next_functions``), the values forward saved,
and the hooks registered on its outputs.  Leaves are reached through an
``AccumulateGrad`` node that writes into ``leaf.grad``.

Two kinds of Function share this machinery:
* user Functions (PyTorch semantics): forward gets detached Variables and runs
  under no_grad; backward gets and returns Variables;
* ``ArrayFunction`` (every built-in op): forward gets ndarrays; backward gets
  ndarrays in a plain backward and Variables under ``create_graph=True``, so one
  formula written with operators serves both and higher order comes for free.
"""
import weakref

cimport cython
import numpy as np
cimport numpy as cnp

from refengine.variable cimport Variable, VersionCounter, make_variable, grad_enabled, set_grad_enabled_c

cnp.import_array()

cdef extern from "Python.h":
    void PyObject_GC_UnTrack(void *op)


cdef inline object _untracked(object container):
    """Hide a graph-structure tuple from the cyclic GC.

    Nodes and Variables are not GC-tracked (they form no cycles by design), so the
    tuples linking them cannot be part of a collectable cycle either; leaving them
    tracked only makes every collection walk the whole graph."""
    PyObject_GC_UnTrack(<void *>container)
    return container

FREED_MESSAGE = (
    "Trying to backward through the graph a second time (or directly access saved tensors after "
    "they have already been freed). Saved intermediate values of the graph are freed when you call "
    ".backward() or autograd.grad(). Specify retain_graph=True if you need to backward through the "
    "graph a second time or if you need to access saved tensors after calling backward.")


def _describe(arr):
    return f"[{arr.dtype} array of shape {tuple(arr.shape)}]"


@cython.no_gc
cdef class SavedVariable:
    """A value saved for backward, with the version it had when saved."""

    cdef object unpack(self, Node node, bint as_variable):
        cdef Variable v
        if self.version is not None and self.version.value != self.saved_version:
            where = (f"output {self.output_nr} of {node.name()}" if self.is_output
                     else f"saved by {node.name()}")
            raise RuntimeError(
                "one of the variables needed for gradient computation has been modified by an "
                f"inplace operation: {_describe(self.data)}, which is {where}, is at version "
                f"{self.version.value}; expected version {self.saved_version} instead. Hint: the "
                "in-place operation happened after the value was saved for backward.")
        if not as_variable:
            return self.data
        if self.is_output:
            v = make_variable(self.data, False, False)
            v.grad_fn = node
            v.output_nr = self.output_nr
            v._version = self.version
            return v
        return self.var


cdef SavedVariable _saved(object data, object var, VersionCounter version, bint is_output, int nr):
    cdef SavedVariable s = SavedVariable.__new__(SavedVariable)
    s.data = data
    s.var = var
    s.version = version
    s.saved_version = version.value if version is not None else 0
    s.is_output = is_output
    s.output_nr = nr
    return s


cdef class _TensorHookHandle:
    cdef object _node_ref
    cdef int _nr
    cdef object _fn

    def __init__(self, node, nr, fn):
        self._node_ref = weakref.ref(node)
        self._nr = nr
        self._fn = fn

    def remove(self):
        node = self._node_ref()
        if node is not None:
            hooks = (<Node>node)._tensor_hooks.get(self._nr, [])
            if self._fn in hooks:
                hooks.remove(self._fn)


@cython.no_gc
cdef class Node:
    """A node of the backward graph: the ``grad_fn`` of the outputs of one op, and its ``ctx``."""

    def name(self):
        """PyTorch's node name, e.g. ``MulBackward0``."""
        return self._fn.node_name

    def __repr__(self):
        return f"<{self.name()} object at {hex(id(self))}>"

    # ----- ctx API used inside forward/backward ----------------------------------------
    def save_for_backward(self, *values):
        """Keep ``values`` (inputs, outputs or other arrays) for backward, with version checks."""
        self._raw_saved = values

    def mark_non_differentiable(self, *outputs):
        """Declare outputs (e.g. indices) that never carry gradient."""
        self._non_diff = {id(o) for o in outputs}

    def set_materialize_grads(self, bint value):
        """If False, backward receives None (not zeros) for outputs that got no gradient."""
        self.materialize_grads = value

    @property
    def saved_tensors(self):
        """The values given to save_for_backward: ndarrays in a plain backward of an
        ArrayFunction, Variables otherwise.  Raises once the graph was freed."""
        cdef SavedVariable sv
        cdef list out
        if self._freed:
            raise RuntimeError(FREED_MESSAGE)
        if self._saved is None:
            return tuple(self._raw_saved or ())
        cdef bint as_var = self._diff or not self._is_array_fn
        out = []
        for s in self._saved:
            if s is None:
                out.append(None)
            else:
                sv = s
                out.append(sv.unpack(self, as_var))
        return tuple(out)

    @property
    def saved_values(self):
        return self.saved_tensors

    # ----- hooks on outputs ------------------------------------------------------------
    def _add_tensor_hook(self, int nr, hook):
        if self._tensor_hooks is None:
            self._tensor_hooks = {}
        self._tensor_hooks.setdefault(nr, []).append(hook)
        return _TensorHookHandle(self, nr, hook)

    def _retain_output(self, int nr, Variable v):
        if self._retained is None:
            self._retained = {}
        self._retained[nr] = weakref.ref(v)

    def _release(self):
        """Free saved values after a backward without retain_graph."""
        if self._saved:
            self._saved = None
            self._freed = True

    # ----- running backward ------------------------------------------------------------
    cpdef list _run(self, list grads, bint create_graph):
        """Call the Function's backward; return one gradient (or None) per edge."""
        cdef Py_ssize_t i, k
        cdef bint arrays = self._is_array_fn
        self._diff = create_graph
        if self.materialize_grads:
            for i in range(len(grads)):
                if grads[i] is None:
                    shape, dtype = self._output_meta[i]
                    z = np.zeros(shape, dtype)
                    grads[i] = make_variable(z, False, False) if create_graph else z
        if not arrays and not create_graph:
            grads = [None if g is None else make_variable(g, False, False) for g in grads]
        result = self._fn.backward(self, *grads)
        if not isinstance(result, tuple):
            result = (result,)
        npos = self._npos
        if len(result) < npos:
            raise RuntimeError(
                f"function {self.name()} returned an incorrect number of gradients "
                f"(expected {npos}, got {len(result)})")
        out = []
        for k in range(len(self._var_positions)):
            g = result[self._var_positions[k]]
            if g is not None:
                g = self._check_grad(g, k, create_graph, arrays)
            out.append(g)
        return out

    cdef object _check_grad(self, object g, Py_ssize_t k, bint create_graph, bint arrays):
        meta = <tuple>self._input_meta[k]
        shape = <tuple>meta[0]
        dtype = meta[1]
        if not create_graph and type(g) is np.ndarray:
            if (<object>g).shape == shape and (<object>g).dtype is dtype:
                return g  # the common case, checked without Python-level calls
        if create_graph:
            if not isinstance(g, Variable):
                g = make_variable(np.asarray(g), False, False)
            gshape = (<Variable>g).data.shape
        else:
            if isinstance(g, Variable):
                g = (<Variable>g).data
            elif type(g) is not np.ndarray:
                g = np.asarray(g)
            gshape = g.shape
        if gshape != shape:
            if arrays or not _expandable(shape, gshape):
                raise RuntimeError(
                    f"Function {self.name()} returned an invalid gradient at index "
                    f"{self._var_positions[k]} - got {list(gshape)} but expected shape compatible "
                    f"with {list(shape)}")
            from refengine.ops.common import sum_to_shape
            g = sum_to_shape(g, shape)
        gdtype = (<Variable>g).data.dtype if create_graph else g.dtype
        if gdtype != dtype:
            if create_graph:
                from refengine.ops import cast
                g = cast(g, dtype)
            else:
                g = g.astype(dtype)
        return g


cdef bint _expandable(tuple target, tuple shape):
    """True if an array of ``target`` shape broadcasts to ``shape`` (so the grad can be summed back)."""
    if len(target) > len(shape):
        return False
    for a, b in zip(reversed(target), reversed(shape)):
        if a != b and a != 1:
            return False
    return True


@cython.no_gc
cdef class AccumulateGrad(Node):
    """The node through which gradients reach a leaf's ``.grad``."""

    def name(self):
        return "AccumulateGrad"

    def __repr__(self):
        return f"<AccumulateGrad object at {hex(id(self))}>"


cpdef AccumulateGrad grad_accumulator(Variable v):
    """The leaf's AccumulateGrad node: one per leaf while a graph references it."""
    cdef AccumulateGrad acc
    if v._accumulator is not None:
        acc = v._accumulator()
        if acc is not None:
            return acc
    acc = AccumulateGrad.__new__(AccumulateGrad)
    acc.variable = v
    acc.next_functions = ()
    acc._var_positions = ()
    acc._output_meta = ((v.data.shape, v.data.dtype),)
    v._accumulator = weakref.ref(acc)
    return acc


class _FunctionMeta(type):
    def __init__(cls, name, bases, ns):
        super().__init__(name, bases, ns)
        if ns.get("node_name") is None:
            cls.node_name = name + "Backward"


class Function(metaclass=_FunctionMeta):
    """Base class of differentiable operations with a custom backward.

    Subclass it with ``@staticmethod forward(ctx, *inputs, **options)`` and
    ``@staticmethod backward(ctx, *grad_outputs)`` returning one gradient per
    positional input (None for inputs that need none), then call ``Fn.apply(...)``.
    """

    _arrays = False
    node_name = None

    @staticmethod
    def forward(ctx, *args, **kwargs):
        raise NotImplementedError("You must implement the forward function for custom autograd.Function.")

    @staticmethod
    def backward(ctx, *grad_outputs):
        raise NotImplementedError("You must implement the backward function for custom autograd.Function.")

    @classmethod
    def apply(cls, *args, **kwargs):
        return _apply(cls, args, kwargs)


class ArrayFunction(Function):
    """A built-in op: forward on ndarrays; backward on ndarrays, or on Variables when
    ``create_graph=True`` (write it with operators and ``refengine.ops.common`` helpers)."""

    _arrays = True
    node_name = "ArrayFunctionBackward"


cdef object _apply(object cls, tuple args, dict kwargs):
    cdef bint arrays = cls._arrays
    cdef bint any_req = False, any_vol = False, record
    cdef Py_ssize_t i, n = len(args)
    cdef Variable v, w
    cdef Node node
    cdef list fargs = [None] * n
    cdef list needs = [False] * n
    for i in range(n):
        a = args[i]
        if isinstance(a, Variable):
            v = <Variable>a
            if v._volatile:
                any_vol = True
            elif v.grad_fn is not None or v._requires_grad:
                any_req = True
                needs[i] = True
            if arrays:
                fargs[i] = v.data
            else:
                w = make_variable(v.data, False, False)
                w._version = v._version
                fargs[i] = w
        else:
            fargs[i] = a
    record = any_req and not any_vol and grad_enabled()
    node = Node.__new__(Node)
    node._fn = cls
    node._is_array_fn = arrays
    node.materialize_grads = True
    node.needs_input_grad = tuple(needs) if record else (False,) * n
    forward = cls.forward
    if arrays:
        out = forward(node, *fargs, **kwargs) if kwargs else forward(node, *fargs)
    else:
        prev = grad_enabled()
        set_grad_enabled_c(False)
        try:
            out = forward(node, *fargs, **kwargs)
        finally:
            set_grad_enabled_c(prev)
    if type(out) is tuple:
        results = [_wrap_output(o, cls, any_vol) for o in <tuple>out]
        if record:
            _connect(node, args, fargs, <tuple>out, results)
        return tuple(results)
    r = _wrap_output(out, cls, any_vol)
    if record:
        _connect(node, args, fargs, (out,), [r])
    return r


cdef Variable _wrap_output(object o, object cls, bint is_volatile):
    if isinstance(o, Variable):
        o = (<Variable>o).data
    elif type(o) is not np.ndarray:
        if o is None:
            raise TypeError(f"{cls.__name__}.forward returned None; expected an array or Variable")
        o = np.asarray(o)
    return make_variable(o, False, is_volatile)


cdef void _connect(Node node, tuple args, list fargs, tuple outs, list results):
    """Link a recorded node into the graph: edges to inputs, outputs' grad_fn, saved values."""
    cdef Variable v, r
    cdef Py_ssize_t i
    edges, positions, meta = [], [], []
    for i in range(len(args)):
        a = args[i]
        if isinstance(a, Variable):
            v = <Variable>a
            if v.grad_fn is not None:
                edges.append(_untracked((v.grad_fn, v.output_nr)))
            elif v._requires_grad:
                edges.append(_untracked((grad_accumulator(v), 0)))
            else:
                edges.append(_untracked((None, 0)))
            positions.append(i)
            meta.append(_untracked((v.data.shape, v.data.dtype)))
    node.next_functions = _untracked(tuple(edges))
    node._var_positions = tuple(positions)
    node._npos = positions[-1] + 1 if positions else 0
    node._input_meta = _untracked(tuple(meta))
    non_diff = node._non_diff
    out_meta = []
    for i in range(len(results)):
        r = results[i]
        out_meta.append(_untracked((r.data.shape, r.data.dtype)))
        if r.data.dtype.kind != "f" or (non_diff is not None and id(outs[i]) in non_diff):
            continue
        r.grad_fn = node
        r.output_nr = i
    node._output_meta = _untracked(tuple(out_meta))
    if node._raw_saved is not None:
        node._saved = _untracked(tuple([_resolve_saved(x, args, fargs, outs, results) for x in node._raw_saved]))
        node._raw_saved = None
    node._non_diff = None


cdef object _resolve_saved(object x, tuple args, list fargs, tuple outs, list results):
    """Map a value forward saved to its Variable (input or output) so in-place changes are caught."""
    cdef Py_ssize_t i
    cdef Variable v
    if x is None:
        return None
    for i in range(len(outs)):
        if x is outs[i]:
            v = results[i]
            return _saved(v.data, None, v._version, True, i)
    for i in range(len(fargs)):
        if x is fargs[i] or x is args[i]:
            if isinstance(args[i], Variable):
                v = args[i]
                return _saved(v.data, v, v._version, False, 0)
    if isinstance(x, Variable):
        v = x
        return _saved(v.data, v, v._version, False, 0)
    return _saved(x, make_variable(np.asarray(x), False, False), None, False, 0)
