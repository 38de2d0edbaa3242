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
"""
from __future__ import annotations

from typing import Any, Sequence

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
        if not isinstance(arr, np.ndarray) or arr.shape != np.shape(value) or str(arr.dtype) != dtype:
            raise self._lie("leaf", f"shape {np.shape(value)}, {dtype!r}", arr,
                            f"a tensor of shape {np.shape(value)} and dtype {dtype} (as read by to_numpy)")
        return t

    def integer_leaf(self, value: np.ndarray, dtype: str, requires_grad: bool = False) -> Any:
        t = self._inner.integer_leaf(value, dtype, requires_grad)
        arr = None if t is None else self._inner.to_numpy(t)
        if not isinstance(arr, np.ndarray) or arr.shape != np.shape(value) or str(arr.dtype) != dtype:
            raise self._lie("integer_leaf", f"shape {np.shape(value)}, {dtype!r}", arr,
                            f"a tensor of shape {np.shape(value)} and dtype {dtype} (as read by to_numpy)")
        return t

    def apply(self, op: str, inputs: Sequence[Any], params: dict[str, Any]) -> Any:
        out = self._inner.apply(op, inputs, params)
        if out is None:
            raise self._lie("apply", repr(op), out, "a tensor")
        # a Python number operand (SCALAR_OPERANDS) is read as a 0-d array
        arrays = [np.asarray(t) if isinstance(t, (int, float)) else self._inner.to_numpy(t) for t in inputs]
        want = _reference_shape(op, arrays, params)
        got = self._inner.to_numpy(out)
        if want is not None and isinstance(got, np.ndarray) and got.shape != want:
            shapes = ", ".join(str(np.shape(a)) for a in arrays)
            raise WrongResultError(f"{op} returned shape {got.shape} for inputs of shape {shapes} "
                                   f"and params {params!r}; expected {want} (numpy reference of {op})", op)
        return out

    def to_numpy(self, t: Any) -> np.ndarray:
        arr = self._inner.to_numpy(t)
        if not isinstance(arr, np.ndarray):
            raise self._lie("to_numpy", "tensor", arr, "a numpy.ndarray")
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

    # the rest of the protocol: plain delegation (explicit, so Adapter's defaults never shadow it)
    def version(self) -> str | None: return self._inner.version()
    def has_op(self, op: str) -> bool: return self._inner.has_op(op)
    def implements(self, method: str) -> bool: return self._inner.implements(method)
    def apply_inplace(self, op: str, t: Any, other: Any) -> Any: return self._inner.apply_inplace(op, t, other)
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


_SHAPES: dict[str, tuple[int, ...] | None] = {}  # (op, input shapes, params) -> reference output shape


def _reference_shape(op: str, values: list[Any], params: dict[str, Any]) -> tuple[int, ...] | None:
    """Shape of the registry's numpy reference on the inputs' values (None: no reference to trust).

    Cached by op, input shapes and params, unless the params' repr is abbreviated (large arrays)."""
    spec = REGISTRY.get(op)
    if spec is None or not all(isinstance(v, np.ndarray) for v in values):
        return None
    key = repr((op, [v.shape for v in values], sorted(params.items())))
    if key in _SHAPES:
        return _SHAPES[key]
    try:
        with np.errstate(all="ignore"):
            shape: tuple[int, ...] | None = tuple(np.shape(spec.reference(*(v.astype(np.float64) for v in values),
                                                                          **params)))
    except Exception:  # noqa: BLE001 - the reference refusing these inputs is the engine's business
        shape = None
    if "..." not in key and len(_SHAPES) < 100_000:
        _SHAPES[key] = shape
    return shape


def checked(adapter: Adapter) -> Adapter:
    """``adapter`` wrapped in a CheckedAdapter (idempotent)."""
    return adapter if isinstance(adapter, CheckedAdapter) else CheckedAdapter(adapter)
