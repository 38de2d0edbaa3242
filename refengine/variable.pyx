# cython: language_level=3
"""Variable: an n-d array that may record how it was computed.

A Variable is a leaf (``grad_fn is None``: made by the user) or the output of a
graph node (``grad_fn``).  ``backward()`` fills ``.grad`` of the leaves that
require grad; non-leaves keep ``.grad`` None unless ``retain_grad()`` was called.
Ops live in ``refengine.ops``; this module only reaches them through ``_ops``,
bound at import by ``refengine/__init__.py``, so the core knows no op.
"""
import warnings
import weakref

cimport cython
import numpy as np
cimport numpy as cnp

cnp.import_array()

cdef extern from *:
    """
    /* 0 in every new thread: grad mode starts enabled, as in PyTorch */
    static _Thread_local int refengine_grad_disabled = 0;
    """
    int refengine_grad_disabled


cdef bint grad_enabled() noexcept:
    return not refengine_grad_disabled


cdef void set_grad_enabled_c(bint mode) noexcept:
    global refengine_grad_disabled
    refengine_grad_disabled = not mode


def _is_grad_enabled():
    """Whether ops record graphs in this thread (use refengine.is_grad_enabled)."""
    return not refengine_grad_disabled


def _set_grad_enabled(bint mode):
    """Set this thread's grad mode (use the context managers of refengine.grad_mode)."""
    global refengine_grad_disabled
    refengine_grad_disabled = not mode

#: refengine.ops, bound by bind_ops(); the operators below dispatch through it.
cdef object _ops = None
#: name -> function(self, ...) usable as a method (x.sum(), x.exp(), ...), filled by ops modules.
TENSOR_METHODS = {}

_FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64), np.dtype(np.float16))

_NONLEAF_GRAD_WARNING = (
    "The .grad attribute of a Tensor that is not a leaf Tensor is being accessed. Its .grad "
    "attribute won't be populated during autograd.backward(). If you indeed want the .grad "
    "field to be populated for a non-leaf Tensor, use .retain_grad() on the non-leaf Tensor.")


#: the Functions of + - * / and unary -, called straight through _apply_impl (no Python frames)
cdef object _Add = None, _Sub = None, _Mul = None, _Div = None, _Neg = None
cdef ApplyFn _apply_impl = _unbound


cdef object _unbound(object cls, tuple args, dict kwargs):
    raise RuntimeError("refengine.variable used before refengine.function was imported")


cdef void set_apply_impl(ApplyFn fn) noexcept:
    global _apply_impl
    _apply_impl = fn


def bind_ops(ns):
    """Connect the operators of Variable to the op namespace (called once at import)."""
    global _ops, _Add, _Sub, _Mul, _Div, _Neg
    _ops = ns
    # what ops.add/sub/mul/div/neg do for operators (alpha=1): Fn.apply(a, b)
    _Add, _Sub, _Mul, _Div, _Neg = ns.arith.Add, ns.arith.Sub, ns.arith.Mul, ns.arith.Div, ns.arith.Neg


@cython.no_gc
cdef class VersionCounter:
    """Counts in-place modifications of a buffer; shared by a Variable and its detach()es."""

    def __cinit__(self):
        self.value = 0


cdef bint _is_float(object dtype):
    return dtype == _FLOAT_DTYPES[0] or dtype == _FLOAT_DTYPES[1] or dtype == _FLOAT_DTYPES[2]


def as_array(object data, object dtype=None, bint copy=False):
    """Convert user data to an ndarray of a dtype refengine supports, or raise TypeError."""
    if isinstance(data, Variable):
        data = (<Variable>data).data
    try:
        arr = np.array(data, dtype=dtype, copy=True) if copy else np.asarray(data, dtype=dtype)
    except (TypeError, ValueError) as e:
        raise TypeError(f"could not convert {type(data).__name__} to a Variable: {e}") from None
    kind = arr.dtype.kind
    if not arr.dtype.isnative:
        arr = arr.astype(arr.dtype.newbyteorder("="))
    if kind == "f":
        if not _is_float(arr.dtype):
            raise TypeError(f"unsupported floating dtype {arr.dtype}; refengine supports float16, float32 and float64")
    elif kind not in "biu":
        raise TypeError(
            f"unsupported dtype {arr.dtype} (from {type(data).__name__}); expected float32, float64, "
            "an integer or bool")
    return arr


cdef Variable make_variable(object data, bint requires_grad, bint is_volatile):
    """Fast constructor used by the core: ``data`` must already be a valid ndarray."""
    cdef Variable v = Variable.__new__(Variable)
    v.data = data
    v._requires_grad = requires_grad
    v._volatile = is_volatile
    return v


cdef VersionCounter _version_of(Variable v):
    """v's version counter, made on first use: a counter nobody asked for yet is at 0 and shared
    with no alias (detach() and saving for backward ask first), so creating it late changes nothing."""
    if v._vc is None:
        v._vc = VersionCounter()
    return v._vc


def _wrap(data):
    """Python-level make_variable for other modules (no validation)."""
    return make_variable(data, False, False)


cdef class _HookHandle:
    cdef object _list
    cdef object _fn

    def __init__(self, lst, fn):
        self._list = lst
        self._fn = fn

    def remove(self):
        """Unregister the hook; removing twice is harmless."""
        try:
            self._list.remove(self._fn)
        except ValueError:
            pass


@cython.no_gc
cdef class Variable:
    """An n-d float32/float64 (or integer/bool, never requiring grad) array with autograd state.

    ``Variable(data, requires_grad=False, volatile=False, dtype=None)`` wraps numpy
    arrays, nested lists or Python scalars (float64 for Python floats, as numpy).
    """

    __array_ufunc__ = None  # make ndarray <op> Variable defer to Variable's reflected operator
    __array_priority__ = 1000

    def __init__(self, data=None, requires_grad=False, dtype=None, **flags):
        # ``volatile`` arrives through **flags: it is a reserved word in Cython signatures
        unknown = set(flags) - {"volatile"}
        if unknown:
            raise TypeError(f"Variable() got an unexpected keyword argument {sorted(unknown)[0]!r}")
        if data is None:
            data = np.zeros((0,), dtype=np.float32)
        self.data = as_array(data, dtype)
        self._volatile = bool(flags.get("volatile", False))
        if requires_grad:
            self.requires_grad = True

    @property
    def volatile(self):
        """Legacy (PyTorch 0.3) flag: a volatile Variable and everything computed from it
        builds no graph, whatever requires_grad says."""
        return self._volatile

    @volatile.setter
    def volatile(self, value):
        if self.grad_fn is not None:
            raise RuntimeError("volatile can only be set on leaf variables")
        self._volatile = bool(value)

    # ----- autograd state -------------------------------------------------------------
    @property
    def requires_grad(self):
        return self.grad_fn is not None or self._requires_grad

    @requires_grad.setter
    def requires_grad(self, value):
        if self.grad_fn is not None:
            raise RuntimeError(
                "you can only change requires_grad flags of leaf variables. If you want to use a "
                "computed variable in a subgraph that doesn't require differentiation use "
                "var_no_grad = var.detach().")
        if value and not _is_float(self.data.dtype):
            raise RuntimeError(
                f"only Tensors of floating point dtype can require gradients (got {self.data.dtype})")
        self._requires_grad = bool(value)

    def requires_grad_(self, requires_grad=True):
        """Set requires_grad in place and return self (leaves only)."""
        self.requires_grad = requires_grad
        return self

    @property
    def is_leaf(self):
        return self.grad_fn is None

    @property
    def retains_grad(self):
        return self._retains_grad

    @property
    def grad(self):
        if self.grad_fn is not None and not self._retains_grad:
            warnings.warn(_NONLEAF_GRAD_WARNING, UserWarning, stacklevel=2)
        return self._grad

    @grad.setter
    def grad(self, value):
        if value is not None:
            if not isinstance(value, Variable):
                value = Variable(value)
            if (<Variable>value).data.shape != self.data.shape:
                raise RuntimeError(
                    f"assigned grad has data of a different size: got shape {(<Variable>value).data.shape}, "
                    f"expected {self.data.shape}")
            if (<Variable>value).data.dtype != self.data.dtype:
                raise RuntimeError(
                    f"assigned grad has data of a different type: got {(<Variable>value).data.dtype}, "
                    f"expected {self.data.dtype}")
        self._grad = value

    @property
    def _version(self):
        """The VersionCounter shared by this Variable and its aliases (bumped by in-place ops)."""
        return _version_of(self)

    @_version.setter
    def _version(self, VersionCounter value):
        self._vc = value

    @property
    def _version_value(self):
        return 0 if self._vc is None else self._vc.value

    def retain_grad(self):
        """Keep this non-leaf's gradient in ``.grad`` after the next backward."""
        if not self.requires_grad:
            raise RuntimeError("can't retain_grad on Tensor that has requires_grad=False")
        if self.grad_fn is None or self._retains_grad:
            return
        self._retains_grad = True
        self.grad_fn._retain_output(self.output_nr, self)

    def register_hook(self, hook):
        """Register ``hook(grad) -> Variable | None`` run when this Variable's gradient is computed.

        A returned value replaces the gradient.  Returns a handle with ``remove()``.
        """
        if not self.requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
        if not callable(hook):
            raise TypeError(f"hook must be callable, got {type(hook).__name__}")
        if self.grad_fn is not None:
            return self.grad_fn._add_tensor_hook(self.output_nr, hook)
        if self._hooks is None:
            self._hooks = []
        self._hooks.append(hook)
        return _HookHandle(self._hooks, hook)

    def detach(self):
        """A new leaf sharing this data (and its version counter) that never requires grad."""
        cdef Variable v = make_variable(self.data, False, False)
        v._vc = _version_of(self)
        return v

    def detach_(self):
        """Cut this Variable from its graph in place: it becomes a leaf without requires_grad."""
        self.grad_fn = None
        self.output_nr = 0
        self._requires_grad = False
        return self

    def backward(self, gradient=None, retain_graph=None, create_graph=False, inputs=None):
        """Accumulate d(self)/d(leaf) into ``.grad`` of every leaf that requires grad.

        ``gradient`` is the cotangent (required unless self has one element).  The
        graph's saved values are freed unless ``retain_graph`` (default: create_graph).
        """
        from refengine.engine import backward as _backward
        _backward(self, gradient, retain_graph, create_graph, inputs)

    # ----- array-like ----------------------------------------------------------------
    @property
    def shape(self):
        return self.data.shape

    @property
    def dtype(self):
        return self.data.dtype

    @property
    def ndim(self):
        return self.data.ndim

    def dim(self):
        return self.data.ndim

    def size(self, dim=None):
        return self.data.shape if dim is None else self.data.shape[dim]

    def numel(self):
        return self.data.size

    def __len__(self):
        if self.data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.data.shape[0]

    def numpy(self):
        """The data as an ndarray (shared).  Like torch, refuses if this requires grad."""
        if self.requires_grad:
            raise RuntimeError(
                "Can't call numpy() on Tensor that requires grad. Use tensor.detach().numpy() instead.")
        return self.data

    def __array__(self, dtype=None, copy=None):
        return self.data if dtype is None else self.data.astype(dtype)

    def item(self):
        if self.data.size != 1:
            raise RuntimeError(
                f"a Tensor with {self.data.size} elements cannot be converted to Scalar")
        return self.data.item()

    def tolist(self):
        return self.data.tolist()

    def __float__(self):
        return float(self.item())

    def __int__(self):
        return int(self.item())

    def __bool__(self):
        if self.data.size != 1:
            raise RuntimeError("Boolean value of Tensor with more than one value is ambiguous")
        return bool(self.data.item())

    def __hash__(self):
        return id(self)

    def __repr__(self):
        body = np.array2string(self.data, separator=", ", prefix="tensor(")
        extra = ""
        if self.data.dtype != _FLOAT_DTYPES[1] and self.data.dtype.kind == "f":
            extra += f", dtype={self.data.dtype}"
        if self.grad_fn is not None:
            extra += f", grad_fn=<{self.grad_fn.name()}>"
        elif self._requires_grad:
            extra += ", requires_grad=True"
        return f"tensor({body}{extra})"

    # ----- methods supplied by the op modules ------------------------------------------
    def __getattr__(self, name):
        fn = TENSOR_METHODS.get(name)
        if fn is None:
            raise AttributeError(f"'Variable' object has no attribute '{name}'")
        return fn.__get__(self, Variable)

    def __dir__(self):
        return sorted(set(object.__dir__(self)) | set(TENSOR_METHODS))

    # ----- operators -------------------------------------------------------------------
    def __add__(self, other): return _apply_impl(_Add, (self, other), None)
    def __radd__(self, other): return _apply_impl(_Add, (other, self), None)
    def __sub__(self, other): return _apply_impl(_Sub, (self, other), None)
    def __rsub__(self, other): return _apply_impl(_Sub, (other, self), None)
    def __mul__(self, other): return _apply_impl(_Mul, (self, other), None)
    def __rmul__(self, other): return _apply_impl(_Mul, (other, self), None)
    def __truediv__(self, other): return _apply_impl(_Div, (self, other), None)
    def __rtruediv__(self, other): return _apply_impl(_Div, (other, self), None)
    def __pow__(self, other, mod=None): return _ops.pow(self, other)
    def __rpow__(self, other, mod=None): return _ops.pow(other, self)
    def __matmul__(self, other): return _ops.matmul(self, other)
    def __rmatmul__(self, other): return _ops.matmul(other, self)
    def __neg__(self): return _apply_impl(_Neg, (self,), None)
    def __pos__(self): return self
    def __abs__(self): return _ops.abs(self)
    def __getitem__(self, index): return _ops.index(self, index)
    def __iadd__(self, other): return _ops.add_(self, other)
    def __isub__(self, other): return _ops.sub_(self, other)
    def __imul__(self, other): return _ops.mul_(self, other)
    def __itruediv__(self, other): return _ops.div_(self, other)
    def __lt__(self, other): return _ops.compare(self, other, "lt")
    def __le__(self, other): return _ops.compare(self, other, "le")
    def __gt__(self, other): return _ops.compare(self, other, "gt")
    def __ge__(self, other): return _ops.compare(self, other, "ge")
    def __eq__(self, other): return _ops.compare(self, other, "eq")
    def __ne__(self, other): return _ops.compare(self, other, "ne")

    @property
    def T(self):
        return _ops.t_all(self)
