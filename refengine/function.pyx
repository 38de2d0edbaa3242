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
from cpython.tuple cimport PyTuple_New
from refengine._graphutil cimport (_untracked, _put, _meta, _matches, _expandable, _tiny_binary, _tiny_neg,
                                   OP_ADD, OP_SUB, OP_MUL, OP_DIV)

from refengine.variable cimport (Variable, VersionCounter, make_variable, _version_of, grad_enabled, set_grad_enabled_c,
                                 set_apply_impl)
from refengine.variable import _HookHandle

cnp.import_array()

cdef extern from *:
    """
    /* Cython gives every Node its __dict__ (free ctx attributes) at creation; drop it while empty:
       CPython's generic getattr/setattr and the __dict__ descriptor make one again on first use. */
    static void re_drop_empty_dict(PyObject *o) {
        Py_ssize_t off = Py_TYPE(o)->tp_dictoffset;
        if (off > 0) {
            PyObject **dp = (PyObject **)((char *)o + off);
            if (*dp != NULL && PyDict_GET_SIZE(*dp) == 0) { Py_CLEAR(*dp); }
        }
    }
    """
    void re_drop_empty_dict(object o)

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
            v._vc = self.version
            return v
        if self.var is None:  # a constant: wrapped only when a create_graph backward asks for it
            self.var = make_variable(np.asarray(self.data), False, False)
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


@cython.no_gc
cdef class _RunState:
    """What the engine keeps per node during a backward run: a Node carries its own (no allocation
    per node), and a run that finds a node's state taken by another active run (a nested backward,
    another thread) keeps a separate _RunState for it."""


@cython.no_gc
cdef class Node(_RunState):
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
        if self._freed:
            raise RuntimeError(FREED_MESSAGE)
        if self._saved is None:
            return tuple(self._raw_saved or ())
        cdef bint as_var = self._diff or not self._is_array_fn
        cdef Py_ssize_t i, n = len(self._saved)
        out = PyTuple_New(n)
        for i in range(n):
            s = self._saved[i]
            _put(out, i, None if s is None else (<SavedVariable>s).unpack(self, as_var))
        return out

    @property
    def saved_values(self):
        return self.saved_tensors

    # ----- hooks on outputs ------------------------------------------------------------
    def _add_tensor_hook(self, int nr, hook):
        if self._tensor_hooks is None:
            self._tensor_hooks = {}
        self._tensor_hooks.setdefault(nr, []).append(hook)
        return _HookHandle(self._tensor_hooks[nr], hook)  # removes the hook from this very list

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
        if self._arith and not create_graph and len(grads) == 1:
            out = _run_arith(self, grads[0])
            if out is not None:
                return out
        if self.materialize_grads:
            for i in range(len(grads)):
                if grads[i] is None:
                    shape, dtype = self._output_meta[i]
                    z = np.zeros(shape, dtype)
                    grads[i] = make_variable(z, False, False) if create_graph else z
        if not arrays and not create_graph:
            grads = [None if g is None else make_variable(g, False, False) for g in grads]
        call = PyTuple_New(len(grads) + 1)  # (ctx, *grads) built in place
        _put(call, 0, self)
        for i in range(len(grads)):
            _put(call, i + 1, grads[i])
        result = self._fn.backward(*call)
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
        if not create_graph and _matches(g, shape, dtype):
            return g  # the common case, checked through numpy's C API
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


# needs_input_grad and _var_positions of ops with up to 4 arguments, indexed by a bit mask of the
# arguments: shared immutable tuples instead of two allocations per op
cdef enum: _SHARED = 4
cdef list _FLAGS = [[tuple([bool(m >> i & 1) for i in range(n)]) for m in range(1 << n)] for n in range(5)]
cdef list _POSITIONS = [[tuple([i for i in range(n) if m >> i & 1]) for m in range(1 << n)] for n in range(5)]


#: Add, Sub, Mul, Div of refengine.ops.arith (registered by it): _apply_arith's classes
cdef object _cls_add = None, _cls_sub = None, _cls_mul = None, _cls_div = None


def _register_arith(add, sub, mul, div):
    """Name the Functions whose small-array cases _apply_arith and _run_arith compute in C."""
    global _cls_add, _cls_sub, _cls_mul, _cls_div
    _cls_add, _cls_sub, _cls_mul, _cls_div = add, sub, mul, div


cdef object _apply(object cls, tuple args, dict kwargs):
    cdef int code
    if len(args) == 2 and not kwargs:
        code = (OP_ADD if cls is _cls_add else OP_SUB if cls is _cls_sub else OP_MUL if cls is _cls_mul
                else OP_DIV if cls is _cls_div else 0)
        if code:
            r = _apply_arith(code, cls, args)
            if r is not None:
                return r
    return _apply_general(cls, args, kwargs)


cdef object _apply_arith(int code, object cls, tuple args):
    """``a + b``, ``a - b``, ``a * b``, ``a / b`` with the arithmetic in C (_tiny_binary) when both
    operands are small float arrays of one shape and dtype, or one is and the other a Python
    number: exactly what _apply_general records for these Functions (their forward saves
    (a, b) for * and /, leaves _op_state None when nothing broadcasts), without the Python
    forward or a ufunc call.  None when not applicable: the caller takes the general path."""
    cdef object a = args[0], b = args[1], da = a, db = b
    cdef bint any_req = False, any_vol = False
    cdef unsigned int need_mask = 0, var_mask = 0
    cdef Variable v, r
    cdef Node node
    cdef Py_ssize_t k = 0, nvars = 0
    if isinstance(a, Variable):
        v = <Variable>a
        da = v.data
        var_mask = 1
        if v._volatile:
            any_vol = True
        elif v.grad_fn is not None or v._requires_grad:
            any_req = True
            need_mask = 1
    if isinstance(b, Variable):
        v = <Variable>b
        db = v.data
        var_mask |= 2
        if v._volatile:
            any_vol = True
        elif v.grad_fn is not None or v._requires_grad:
            any_req = True
            need_mask |= 2
    out = _tiny_binary(code, da, db)
    if out is None:
        return None
    r = make_variable(out, False, any_vol)
    if not (any_req and not any_vol and grad_enabled()):
        return r
    node = Node.__new__(Node)
    re_drop_empty_dict(node)
    node._fn = cls
    node._is_array_fn = True
    node.materialize_grads = True
    node.needs_input_grad = _FLAGS[2][need_mask]
    node._arith = code
    nvars = (var_mask & 1) + (var_mask >> 1)
    cdef tuple edges = PyTuple_New(nvars), meta = PyTuple_New(nvars), m, one = None
    for x in (a, b):
        if isinstance(x, Variable):
            v = <Variable>x
            if v.grad_fn is not None:
                _put(edges, k, _untracked((v.grad_fn, v.output_nr)))
            elif v._requires_grad:
                _put(edges, k, _untracked((grad_accumulator(v), 0)))
            else:
                _put(edges, k, _untracked((None, 0)))
            m = _input_meta(v)
            _put(meta, k, m)
            if one is None and m[1] is <object>cnp.PyArray_DESCR(<cnp.ndarray>out):
                one = _one_meta(v, m)  # the output's (shape, dtype) is this input's
            k += 1
    node.next_functions = _untracked(edges)
    node._var_positions = _POSITIONS[2][var_mask]
    node._npos = 2 if var_mask & 2 else 1
    node._input_meta = one if nvars == 1 and one is not None else _untracked(meta)
    node._output_meta = one if one is not None else _untracked((_meta(out),))
    r.grad_fn = node
    r.output_nr = 0
    if code == OP_MUL or code == OP_DIV:  # forward's save_for_backward(a, b), as _resolve_saved maps it
        node._saved = _untracked((_resolve_saved2(da, a, b, da, db), _resolve_saved2(db, a, b, da, db)))
    return r


cdef tuple _one_meta(Variable v, tuple m):
    """``(m,)``: the producer's own _output_meta when it is that tuple (a chain of same-shape ops
    then shares one record instead of allocating three tuples per op)."""
    if isinstance(v.grad_fn, Node):
        om = (<Node>v.grad_fn)._output_meta
        if om is not None and len(<tuple>om) == 1 and (<tuple>om)[0] is m:
            return <tuple>om
    return _untracked((m,))


cdef SavedVariable _resolve_saved2(object x, object a0, object a1, object c1, object c2):
    """_resolve_saved for two arguments (a0, a1) whose forward values are (c1, c2)."""
    cdef Variable v
    if (x is c1 or x is a0) and isinstance(a0, Variable):
        v = <Variable>a0
        return _saved(v.data, v, _version_of(v), False, 0)
    if (x is c2 or x is a1) and isinstance(a1, Variable):
        v = <Variable>a1
        return _saved(v.data, v, _version_of(v), False, 0)
    return _saved(x, None, None, False, 0)


cdef list _run_arith(Node node, object g):
    """The plain backward of a node _apply_arith recorded, in C (what Add/Sub/Mul/Div.backward
    return for unbroadcast operands); None when the general path must run it (a gradient that is
    not a small array of the output's shape and dtype, a freed graph, a result numpy would flag)."""
    cdef tuple meta, need, saved
    cdef int code = node._arith
    node._diff = False  # what _run records (a plain backward)
    meta = <tuple>(<tuple>node._output_meta)[0]
    if not _matches(g, <tuple>meta[0], meta[1]):
        return None
    need = node.needs_input_grad
    ga = gb = None
    if code == OP_ADD or code == OP_SUB:
        if need[0]:
            ga = g
        if need[1]:
            gb = g if code == OP_ADD else _tiny_neg(g)
            if gb is None:
                return None
    else:
        if node._freed or node._saved is None or (code == OP_DIV and need[1]):
            return None
        saved = node._saved
        a = (<SavedVariable>saved[0]).unpack(node, False)  # the version checks, in forward's order
        b = (<SavedVariable>saved[1]).unpack(node, False)
        if need[0]:
            ga = _tiny_binary(code, g, b)  # g * b, g / b
            if ga is None:
                return None
        if need[1]:
            gb = _tiny_binary(OP_MUL, g, a)
            if gb is None:
                return None
    # one gradient per edge (_var_positions: (0,), (1,) or (0, 1)), as _run checks them
    if ga is not None:
        ga = node._check_grad(ga, 0, False, True)
    if gb is not None:
        gb = node._check_grad(gb, len(<tuple>node._var_positions) - 1, False, True)
    if len(<tuple>node._var_positions) == 2:
        return [ga, gb]
    return [ga] if <Py_ssize_t>(<tuple>node._var_positions)[0] == 0 else [gb]


cdef object _apply_general(object cls, tuple args, dict kwargs):
    cdef bint arrays = cls._arrays
    cdef bint any_req = False, any_vol = False, record
    cdef Py_ssize_t i, n = len(args)
    cdef Variable v, w
    cdef Node node = Node.__new__(Node)
    re_drop_empty_dict(node)  # made again if forward sets a free attribute (ctx.dim = ...)
    # forward's positional arguments (ctx, *inputs), built in place: no list -> tuple copies
    cdef tuple call = PyTuple_New(n + 1)
    cdef list needs = [False] * n if n > _SHARED else None
    cdef unsigned int need_mask = 0
    _put(call, 0, node)
    for i in range(n):
        a = args[i]
        if isinstance(a, Variable):
            v = <Variable>a
            if v._volatile:
                any_vol = True
            elif v.grad_fn is not None or v._requires_grad:
                any_req = True
                if needs is None:
                    need_mask |= 1u << i
                else:
                    needs[i] = True
            if arrays:
                a = v.data
            else:
                w = make_variable(v.data, False, False)
                w._vc = _version_of(v)
                a = w
        _put(call, i + 1, a)
    record = any_req and not any_vol and grad_enabled()
    node._fn = cls
    node._is_array_fn = arrays
    node.materialize_grads = True
    if needs is not None:
        node.needs_input_grad = tuple(needs) if record else (False,) * n
    else:
        node.needs_input_grad = _FLAGS[n][need_mask if record else 0]
    forward = cls.forward
    if arrays:
        out = forward(*call, **kwargs) if kwargs else forward(*call)
    else:
        prev = grad_enabled()
        set_grad_enabled_c(False)
        try:
            out = forward(*call, **kwargs)
        finally:
            set_grad_enabled_c(prev)
    if type(out) is tuple:
        results = [_wrap_output(o, cls, any_vol) for o in <tuple>out]
        if record:
            _connect(node, args, call, <tuple>out, results)
        return tuple(results)
    r = _wrap_output(out, cls, any_vol)
    if record:
        _connect(node, args, call, (out,), [r])
    return r


set_apply_impl(_apply)


cdef Variable _wrap_output(object o, object cls, bint is_volatile):
    if isinstance(o, Variable):
        o = (<Variable>o).data
    elif type(o) is not np.ndarray:
        if o is None:
            raise TypeError(f"{cls.__name__}.forward returned None; expected an array or Variable")
        o = np.asarray(o)
    return make_variable(o, False, is_volatile)


cdef tuple _input_meta(Variable v):
    """(shape, dtype) of an input: its producer's record when the array still matches it (the
    common case; saves two tuple allocations), else read afresh."""
    cdef tuple m
    if isinstance(v.grad_fn, Node):
        om = (<Node>v.grad_fn)._output_meta
        if om is not None and 0 <= v.output_nr < len(<tuple>om):
            m = (<tuple>om)[v.output_nr]
            if _matches(v.data, <tuple>m[0], m[1]):
                return m
    return _meta(v.data)


cdef void _connect(Node node, tuple args, tuple call, tuple outs, list results):
    """Link a recorded node into the graph: edges to inputs, outputs' grad_fn, saved values."""
    cdef Variable v, r
    cdef Py_ssize_t i, k = 0, n = len(args), nvars = 0
    cdef unsigned int var_mask = 0
    for i in range(n):
        if isinstance(args[i], Variable):
            nvars += 1
            var_mask |= (1u << i) if i < _SHARED else 0
    # tuples filled in place: no list -> tuple copies
    cdef tuple edges = PyTuple_New(nvars), meta = PyTuple_New(nvars)
    cdef tuple positions = _POSITIONS[n][var_mask] if n <= _SHARED else PyTuple_New(nvars)
    for i in range(n):
        a = args[i]
        if isinstance(a, Variable):
            v = <Variable>a
            if v.grad_fn is not None:
                _put(edges, k, _untracked((v.grad_fn, v.output_nr)))
            elif v._requires_grad:
                _put(edges, k, _untracked((grad_accumulator(v), 0)))
            else:
                _put(edges, k, _untracked((None, 0)))
            if n > _SHARED:
                _put(positions, k, i)
            _put(meta, k, _input_meta(v))
            k += 1
    node.next_functions = _untracked(edges)
    node._var_positions = positions
    node._npos = positions[nvars - 1] + 1 if nvars else 0
    node._input_meta = _untracked(meta)
    non_diff = node._non_diff
    cdef tuple out_meta = PyTuple_New(len(results))
    for i in range(len(results)):
        r = results[i]
        _put(out_meta, i, _meta(r.data))
        if (<cnp.dtype>out_meta[i][1]).kind != b"f" or (non_diff is not None and id(outs[i]) in non_diff):
            continue
        r.grad_fn = node
        r.output_nr = i
    node._output_meta = _untracked(out_meta)
    if node._raw_saved is not None:
        raw = tuple(node._raw_saved)
        saved = PyTuple_New(len(raw))
        for i in range(len(raw)):
            _put(saved, i, _resolve_saved(raw[i], args, call, outs, results))
        node._saved = _untracked(saved)
        node._raw_saved = None
    node._non_diff = None


cdef object _resolve_saved(object x, tuple args, tuple call, tuple outs, list results):
    """Map a value forward saved to its Variable (input or output) so in-place changes are caught."""
    cdef Py_ssize_t i
    cdef Variable v
    if x is None:
        return None
    for i in range(len(outs)):
        if x is outs[i]:
            v = results[i]
            return _saved(v.data, None, _version_of(v), True, i)
    for i in range(len(args)):
        if x is call[i + 1] or x is args[i]:  # call[0] is the ctx
            if isinstance(args[i], Variable):
                v = args[i]
                return _saved(v.data, v, _version_of(v), False, 0)
    if isinstance(x, Variable):
        v = x
        return _saved(v.data, v, _version_of(v), False, 0)
    return _saved(x, None, None, False, 0)
