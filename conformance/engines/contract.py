"""A thin checking wrapper around an Adapter: catches adapters that lie.

An adapter is user code; it can return a list where an array is due, an array of
the wrong shape, a float64 leaf when float32 was asked for, or ``None`` for a
tensor.  Left alone, such a lie surfaces much later as a confusing comparison
failure (or a harness crash).  ``checked(adapter)`` validates every value the
harness reads back in ONE place and raises :class:`AdapterContractError` naming
the adapter method and what it returned; the runner reports it as an ``error``
result of the adapter (with traceback and reproducer), never as a wrong gradient.  One lie
is the engine's: an op returning a proper tensor of the wrong shape raises
:class:`WrongResultError`, a failure of that op.

Tensors are passed through untouched (identity checks in properties still hold).
Gradient shapes and dtypes are *not* checked here: those are engine semantics,
checked (and reported as failures) by the ``grad_dtype_shape`` property.

Shapes of op results come from ``shape_of`` where the adapter implements it (a lazy engine
answers without computing: reading values would make it compute every op as it is applied),
else from ``to_numpy``.  An answer of ``shape_of`` is a claim held to when the tensor's values
are read: values of another shape are the op's wrong result if they are not the reference's
shape, else ``shape_of``'s lie.  The reference shape (the registry's numpy reference, cached by
op, input shapes and params) is then computed on stand-ins drawn from the op's domains, and on
the inputs' values only where the reference refuses those.
"""
from __future__ import annotations

import weakref
from typing import Any, Callable, Sequence

import numpy as np

from conformance.engines.adapter import Adapter
from conformance.spec.ops import REGISTRY

__all__ = ["AdapterContractError", "CheckedAdapter", "WrongResultError", "checked"]


class AdapterContractError(Exception):
    """The adapter returned something its protocol rules out (an adapter bug: a non-array, a None)."""


class WrongResultError(AdapterContractError):
    """The engine's own op returned a well-formed tensor of the wrong shape: the engine's bug, not the
    adapter's (reported as a failure of that op, e.g. max over all dims giving (1,) instead of ())."""

    def __init__(self, message: str, op: str) -> None:
        super().__init__(message)
        self.op = op


def _describe(v: Any) -> str:
    if isinstance(v, np.ndarray):
        return f"ndarray(shape={v.shape}, dtype={v.dtype})"
    return f"{type(v).__name__} {v!r}"[:120]


class CheckedAdapter(Adapter):
    """Delegates everything to ``inner``; validates what comes back from the reading methods."""

    def __init__(self, inner: Adapter) -> None:
        object.__setattr__(self, "_inner", inner)
        object.__setattr__(self, "_lazy", inner.implements("shape_of"))
        # id(tensor) -> (weakref to it, the shape shape_of answered, the op and its reference shape or None)
        object.__setattr__(self, "_claims", {})
        # id(tensor) -> (weakref to it, its shape as to_numpy read it): an op's inputs were read as the
        # results of earlier ops or leaves, so reading them again for every op they feed reads nothing new
        object.__setattr__(self, "_read", {})

    # identity attributes and any extra adapter API go straight to the wrapped adapter
    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self._inner, name, value)

    @property
    def name(self) -> str:  # type: ignore[override]
        return self._inner.name

    @property
    def capabilities(self) -> frozenset[str]:  # type: ignore[override]
        return self._inner.capabilities

    @property
    def spec(self) -> str | None:  # type: ignore[override]
        return self._inner.spec

    def _lie(self, method: str, args: str, got: Any, want: str) -> AdapterContractError:
        return AdapterContractError(f"adapter {type(self._inner).__name__}.{method}({args}) returned "
                                    f"{_describe(got)}; expected {want}")

    def leaf(self, value: np.ndarray, dtype: str, requires_grad: bool) -> Any:
        t = self._inner.leaf(value, dtype, requires_grad)
        if t is None:
            raise self._lie("leaf", f"shape {np.shape(value)}, {dtype!r}", t, "a tensor")
        arr = self._inner.to_numpy(t)
        if not isinstance(arr, np.ndarray) or arr.shape != np.shape(value) or _name(arr.dtype) != dtype:
            raise self._lie("leaf", f"shape {np.shape(value)}, {dtype!r}", arr,
                            f"a tensor of shape {np.shape(value)} and dtype {dtype} (as read by to_numpy)")
        self._remember(t, arr.shape)
        return t

    def integer_leaf(self, value: np.ndarray, dtype: str, requires_grad: bool = False) -> Any:
        t = self._inner.integer_leaf(value, dtype, requires_grad)
        arr = None if t is None else self._inner.to_numpy(t)
        if not isinstance(arr, np.ndarray) or arr.shape != np.shape(value) or _name(arr.dtype) != dtype:
            raise self._lie("integer_leaf", f"shape {np.shape(value)}, {dtype!r}", arr,
                            f"a tensor of shape {np.shape(value)} and dtype {dtype} (as read by to_numpy)")
        return t

    def apply(self, op: str, inputs: Sequence[Any], params: dict[str, Any]) -> Any:
        out = self._inner.apply(op, inputs, params)
        if out is None:
            raise self._lie("apply", repr(op), out, "a tensor")
        shapes = [self._shape(t, known=True) for t in inputs]
        # values only when the reference shape of these input shapes and params is not known yet; a lazy
        # engine's inputs are not read unless the reference refuses stand-ins drawn from the op's domains
        reads = [lambda: [self._value(t) for t in inputs]]
        if self._lazy and all(s is not None for s in shapes):
            reads.insert(0, lambda: _stand_ins(op, inputs, shapes))
        want = _reference_shape(op, shapes, params, reads)
        got = self._shape(out, (op, want, shapes, params))
        if want is not None and got is not None and got != want:
            if self._lazy:  # the values decide: to_numpy raises if they do not have the shape shape_of said
                self.to_numpy(out)
            raise _wrong(op, got, shapes, params, want)
        return out

    def _value(self, t: Any) -> Any:
        # a Python number operand (SCALAR_OPERANDS) is read as a 0-d array
        return np.asarray(t) if isinstance(t, (int, float)) else self._inner.to_numpy(t)

    def _shape(self, t: Any, op: tuple[str, Any, list[Any], dict[str, Any]] | None = None,
               known: bool = False) -> tuple[int, ...] | None:
        """``t``'s shape (None: to_numpy gave no array, which the read reports), from shape_of if implemented.

        ``op``: (op, reference shape, input shapes, params) of the op whose result ``t`` is, for a later read.
        ``known``: a shape read earlier (``t`` an op's input) serves; an op's result is always read."""
        if isinstance(t, (int, float)):
            return np.shape(t)
        if not self._lazy:
            seen = self._read.get(id(t)) if known else None
            if seen is not None and seen[0]() is t:
                return seen[1]
            arr = self._value(t)
            if not isinstance(arr, np.ndarray):
                return None
            self._remember(t, arr.shape)
            return arr.shape
        s = self._inner.shape_of(t)
        if not isinstance(s, tuple) or not all(isinstance(d, (int, np.integer)) and d >= 0 for d in s):
            raise self._lie("shape_of", "tensor", s, "a tuple of non-negative ints")
        s = tuple(int(d) for d in s)
        claims, key = self._claims, id(t)
        try:  # the claim lives as long as the tensor: dropped when it dies, before its id can be reused
            ref = weakref.ref(t, lambda r: claims.pop(key) if claims.get(key, (None,))[0] is r else None)
        except TypeError:  # not weakly referenceable: nothing to hold the claim to later, so read it now
            arr = self._value(t)
            return arr.shape if isinstance(arr, np.ndarray) else None
        if op is not None or key not in claims:
            claims[key] = (ref, s, op)
        return s

    def _remember(self, t: Any, shape: tuple[int, ...]) -> None:
        """Keep the shape to_numpy read of ``t`` (non-lazy engines: ``_shape`` answers from it for inputs)."""
        if self._lazy:
            return
        read = self._read
        if len(read) >= _REMEMBERED:  # entries of dead tensors are never looked up again: drop them all now
            read.clear()
        try:
            read[id(t)] = (weakref.ref(t), shape)
        except TypeError:  # not weakly referenceable: nothing tells a later tensor with its id apart; read again
            pass

    def shape_of(self, t: Any) -> tuple[int, ...]:
        s = self._shape(t)
        return self.to_numpy(t).shape if s is None else s

    def to_numpy(self, t: Any) -> np.ndarray:
        arr = self._inner.to_numpy(t)
        if not isinstance(arr, np.ndarray):
            raise self._lie("to_numpy", "tensor", arr, "a numpy.ndarray")
        claim = self._claims.get(id(t))
        if claim is not None and claim[0]() is t and arr.shape != claim[1]:
            if claim[2] is not None and claim[2][1] is not None and arr.shape != claim[2][1]:
                op, want, shapes, params = claim[2]
                raise _wrong(op, arr.shape, shapes, params, want)  # the op's wrong result, whatever shape_of said
            raise self._lie("shape_of", "tensor", claim[1], f"{arr.shape}, the shape to_numpy reads")
        return arr

    def grad_of(self, t: Any) -> np.ndarray | None:
        g = self._inner.grad_of(t)
        if g is not None and not isinstance(g, np.ndarray):
            raise self._lie("grad_of", "tensor", g, "a numpy.ndarray or None")
        return g

    def dtype_of(self, t: Any) -> str:
        return self._typed("dtype_of", self._inner.dtype_of(t), str, "a str")

    def is_leaf(self, t: Any) -> bool:
        return self._typed("is_leaf", self._inner.is_leaf(t), (bool, np.bool_), "a bool")

    def requires_grad(self, t: Any) -> bool:
        return self._typed("requires_grad", self._inner.requires_grad(t), (bool, np.bool_), "a bool")

    def grad_fn_name(self, t: Any) -> str | None:
        v = self._inner.grad_fn_name(t)
        return v if v is None else self._typed("grad_fn_name", v, str, "a str or None")

    def jvp(self, fn: Any, primals: Any, tangents: Any) -> list[np.ndarray | None]:
        out = self._inner.jvp(fn, primals, tangents)
        if not isinstance(out, list) or any(t is not None and not isinstance(t, np.ndarray) for t in out):
            raise self._lie("jvp", f"fn, {len(primals)} primals", out, "a list of numpy.ndarray or None")
        return out

    def _typed(self, method: str, v: Any, typ: Any, want: str) -> Any:
        if not isinstance(v, typ):
            raise self._lie(method, "tensor", v, want)
        return v

    def backward(self, out: Any, gradient: Any = None, retain_graph: bool | None = None,
                 create_graph: bool = False) -> None:
        return self._inner.backward(out, gradient, retain_graph, create_graph)

    def apply_inplace(self, op: str, t: Any, other: Any) -> Any:
        self._read.pop(id(t), None)  # written in place: its shape is read again when an op next reads it
        return self._inner.apply_inplace(op, t, other)

    # the rest of the protocol: plain delegation (explicit, so Adapter's defaults never shadow it)
    def version(self) -> str | None: return self._inner.version()
    def has_op(self, op: str) -> bool: return self._inner.has_op(op)
    def implements(self, method: str) -> bool: return self._inner.implements(method)
    def grad(self, *a: Any, **k: Any) -> Any: return self._inner.grad(*a, **k)
    def grad_tensor(self, t: Any) -> Any: return self._inner.grad_tensor(t)
    def set_requires_grad(self, t: Any, flag: bool) -> None: return self._inner.set_requires_grad(t, flag)
    def zero_grad(self, t: Any) -> None: return self._inner.zero_grad(t)
    def retain_grad(self, t: Any) -> None: return self._inner.retain_grad(t)
    def detach(self, t: Any) -> Any: return self._inner.detach(t)
    def register_hook(self, t: Any, fn: Any) -> Any: return self._inner.register_hook(t, fn)
    def version_counter(self, t: Any) -> int | None: return self._inner.version_counter(t)
    def no_grad(self) -> Any: return self._inner.no_grad()
    def enable_grad(self) -> Any: return self._inner.enable_grad()
    def set_grad_enabled(self, flag: bool) -> Any: return self._inner.set_grad_enabled(flag)
    def is_grad_enabled(self) -> bool: return self._inner.is_grad_enabled()
    def no_grad_decorator(self, fn: Any) -> Any: return self._inner.no_grad_decorator(fn)
    def is_autograd_error(self, exc: BaseException) -> bool: return self._inner.is_autograd_error(exc)


def _wrong(op: str, got: tuple[int, ...], shapes: list[Any], params: dict[str, Any],
           want: tuple[int, ...]) -> WrongResultError:
    return WrongResultError(f"{op} returned shape {got} for inputs of shape {', '.join(map(str, shapes))} "
                            f"and params {params!r}; expected {want} (numpy reference of {op})", op)


_SHAPES: dict[Any, tuple[int, ...] | None] = {}  # (op, input shapes, params) -> reference output shape
#: tensors whose read shape a CheckedAdapter keeps at most (then it forgets them all and reads again)
_REMEMBERED = 4096
_NAMES: dict[np.dtype, str] = {}


def _name(dtype: np.dtype) -> str:
    """``str(dtype)``, which numpy computes in Python on every call, once per dtype."""
    name = _NAMES.get(dtype)
    if name is None:
        name = _NAMES[dtype] = str(dtype)
    return name


def _stand_ins(op: str, inputs: Sequence[Any], shapes: list[Any]) -> list[np.ndarray]:
    """Values of the inputs' shapes drawn (seeded) from the op's domains; Python numbers as they are."""
    spec, rng = REGISTRY[op], np.random.default_rng(0)
    return [np.asarray(t if isinstance(t, (int, float)) else spec.domain(i).sample(rng, s))  # 0-d: a numpy scalar
            for i, (t, s) in enumerate(zip(inputs, shapes))]


def _reference_shape(op: str, shapes: list[tuple[int, ...] | None], params: dict[str, Any],
                     reads: Sequence[Callable[[], list[Any]]]) -> tuple[int, ...] | None:
    """Shape of the registry's numpy reference on the inputs' values (None: no reference to trust).

    Cached by op, input shapes and params, unless the params' repr is abbreviated (large arrays): the
    shape is taken to depend on nothing else (no registry op's does), so on a miss the values come
    from the first of ``reads`` whose values the reference accepts."""
    spec = REGISTRY.get(op)
    if spec is None or any(s is None for s in shapes):
        return None
    key = _key(op, shapes, params)
    if key in _SHAPES:
        return _SHAPES[key]
    shape: tuple[int, ...] | None = None
    for read in reads:
        values = read()
        if not all(isinstance(v, np.ndarray) for v in values):
            return None
        try:
            with np.errstate(all="ignore"):
                shape = tuple(np.shape(spec.reference(*(v.astype(np.float64) for v in values), **params)))
            break
        except Exception:  # noqa: BLE001 - the reference refusing these inputs is the engine's business
            continue
    if not (isinstance(key, str) and "..." in key) and len(_SHAPES) < 100_000:
        _SHAPES[key] = shape
    return shape


def _key(op: str, shapes: list[tuple[int, ...] | None], params: dict[str, Any]) -> Any:
    """``_SHAPES``'s key: the params' values with their types (1, 1.0 and True apart, as their reprs are),
    hashed as they are (a repr costs more than the rest of the check); their repr where one is not hashable
    (arrays, lists)."""
    try:
        key = (op, tuple(shapes), tuple((k, _typed(v)) for k, v in sorted(params.items())))
        hash(key)
        return key
    except TypeError:
        return repr((op, list(shapes), sorted(params.items())))


def _typed(v: Any) -> Any:
    return tuple(_typed(x) for x in v) if type(v) is tuple else (type(v), v)


def checked(adapter: Adapter) -> Adapter:
    """``adapter`` wrapped in a CheckedAdapter (idempotent)."""
    return adapter if isinstance(adapter, CheckedAdapter) else CheckedAdapter(adapter)
