"""Traces: every adapter call one property check makes, so the whole check can be replayed.

A reproducer that replays one forward and one backward shows nothing for a rule failure (a
second backward, accumulation across calls, a result of no_grad reused later): the bug lives
in the *sequence* of calls.  ``Recorder(adapter)`` records that sequence while the check runs
-- tensor arguments by the name of the call that produced them, numpy arguments by value --
along with what each call showed (values, flags, whether it raised).  ``replay(trace, other)``
runs the same calls on another adapter (torch, for the expected observations), and
``differences`` says where two runs part.  conformance/runner/reproducer.py renders a trace as
a standalone script.

Tensors pass through the Recorder untouched: checks compare identities (``ts[i] is ts[j]``).
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from conformance.engines.adapter import Adapter
from conformance.spec.tolerances import difference

__all__ = ["Call", "Outcome", "Recorder", "Ref", "Trace", "differences", "replay"]

#: methods whose result is an object later calls may use: a tensor, a list of tensors, a context manager
PRODUCES = {"leaf": "tensor", "apply": "tensor", "apply_inplace": "tensor", "detach": "tensor",
            "grad_tensor": "tensor", "grad": "list", "no_grad": "cm", "enable_grad": "cm", "set_grad_enabled": "cm"}

#: method -> what a call shows, as plain comparable values (grad_fn names differ between engines: None-ness only)
OBSERVE: dict[str, Callable[[Any], list[Any]]] = {
    "to_numpy": lambda r: [np.array(r, copy=True)],
    "grad_of": lambda r: [None if r is None else np.array(r, copy=True)],
    "grad_tensor": lambda r: [r is None],
    "dtype_of": lambda r: [str(r)],
    "is_leaf": lambda r: [bool(r)],
    "requires_grad": lambda r: [bool(r)],
    "is_grad_enabled": lambda r: [bool(r)],
    "grad_fn_name": lambda r: [r is not None],
    "version_counter": lambda r: [None if r is None else int(r)],
    "grad": lambda r: [x is None for x in r],
}


@dataclass(frozen=True)
class Ref:
    """A tensor (or context manager) argument: the name of the call result it is, "v3" or "v9[0]"."""

    name: str


@dataclass
class Call:
    """One adapter call: the method and its arguments, positionally (name -> Ref or value)."""

    n: int  # its step number
    method: str  # an Adapter method, or "enter"/"exit" of a grad-mode context manager
    args: list[tuple[str, Any]]

    @property
    def name(self) -> str:
        """The name of its result in the trace (and in scripts)."""
        return f"v{self.n}"


@dataclass
class Outcome:
    """What one call showed: observations, or the error category it raised, or skipped."""

    obs: list[Any] = field(default_factory=list)
    raised: str | None = None  # None, "autograd error" or "error" (is_autograd_error said no)
    error: str = ""  # "TypeName: message", for people
    skipped: bool = False  # an argument was the result of a call that raised


@dataclass
class Trace:
    calls: list[Call] = field(default_factory=list)
    outcomes: list[Outcome] = field(default_factory=list)  # the recorded engine's
    unrenderable: str | None = None  # why the calls cannot be written out as code, or None


class BlockExit(Exception):
    """Stands in, on replay, for the exception that left a grad-mode block while recording."""


def _is_value(v: Any) -> bool:
    return v is None or v is Ellipsis or isinstance(v, (bool, int, float, str, slice, np.ndarray, np.generic))


class Recorder(Adapter):
    """Delegates to ``inner``, recording every call of the protocol into ``self.trace``."""

    def __init__(self, inner: Adapter) -> None:
        object.__setattr__(self, "_inner", inner)
        object.__setattr__(self, "trace", Trace())
        object.__setattr__(self, "_names", {})  # id(object) -> name in the trace
        object.__setattr__(self, "_keep", [])  # the named objects, alive, so their ids stay theirs

    def __getattr__(self, name: str) -> Any:  # identity attributes and extra API: the wrapped adapter's
        return getattr(self._inner, name)

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self._inner, name, value)

    name = property(lambda self: self._inner.name)  # type: ignore[assignment]
    capabilities = property(lambda self: self._inner.capabilities)  # type: ignore[assignment]
    spec = property(lambda self: self._inner.spec)  # type: ignore[assignment]

    # -- recording -------------------------------------------------------------------
    def _ref(self, v: Any) -> Any:
        """An argument as the trace keeps it: tensors by name, containers element-wise, values copied."""
        if isinstance(v, float) and id(v) in self._names:
            # a Python float a call produced: a scalar engine's constant (micrograd's leaf without
            # grad is a float), to be passed on by name -- written as a literal, torch's replay
            # would get a number where it made a tensor
            return Ref(self._names[id(v)])
        if isinstance(v, np.ndarray):
            return v.copy()
        if _is_value(v):
            return v
        if isinstance(v, (list, tuple)):
            return type(v)(self._ref(x) for x in v)
        if isinstance(v, dict):
            return {k: self._ref(x) for k, x in v.items()}
        if id(v) in self._names:
            return Ref(self._names[id(v)])
        self._unrenderable(f"an argument of type {type(v).__name__} that no recorded call produced")
        return Ref("<unknown>")

    def _unrenderable(self, why: str) -> None:
        if self.trace.unrenderable is None:
            self.trace.unrenderable = why

    def _name(self, obj: Any, name: str) -> None:
        self._names[id(obj)] = name
        self._keep.append(obj)

    def _record(self, method: str, args: list[tuple[str, Any]], invoke: Callable[[], Any]) -> Any:
        call = Call(len(self.trace.calls), method, [(k, self._ref(v)) for k, v in args])
        out = Outcome()
        self.trace.calls.append(call)
        self.trace.outcomes.append(out)
        try:
            result = invoke()
        except Exception as e:
            out.raised, out.error = _category(self._inner, e), f"{type(e).__name__}: {e}"[:300]
            raise
        out.obs = OBSERVE.get(method, lambda r: [])(result)
        kind = PRODUCES.get(method)
        if kind == "list":
            for k, t in enumerate(result):
                if t is not None:
                    self._name(t, f"{call.name}[{k}]")
        elif kind and result is not None:
            self._name(result, call.name)
        return _RecordedCM(self, result) if kind == "cm" else result

    def _do(self, method: str, *args: tuple[str, Any]) -> Any:
        return self._record(method, list(args), lambda: getattr(self._inner, method)(*(v for _, v in args)))

    # -- the protocol ----------------------------------------------------------------
    def version(self) -> str | None: return self._inner.version()
    def has_op(self, op: str) -> bool: return self._inner.has_op(op)
    def implements(self, method: str) -> bool: return self._inner.implements(method)
    def is_autograd_error(self, exc: BaseException) -> bool: return self._inner.is_autograd_error(exc)

    def leaf(self, value: np.ndarray, dtype: str, requires_grad: bool) -> Any:
        return self._do("leaf", ("value", np.asarray(value)), ("dtype", dtype), ("requires_grad", requires_grad))

    def apply(self, op: str, inputs: Sequence[Any], params: dict[str, Any]) -> Any:
        return self._do("apply", ("op", op), ("inputs", list(inputs)), ("params", dict(params)))

    def apply_inplace(self, op: str, target: Any, other: Any) -> Any:
        return self._do("apply_inplace", ("op", op), ("target", target), ("other", other))

    def backward(self, out: Any, gradient: Any = None, retain_graph: bool | None = None,
                 create_graph: bool = False) -> None:
        return self._do("backward", ("out", out), ("gradient", gradient), ("retain_graph", retain_graph),
                        ("create_graph", create_graph))

    def grad(self, outputs: Sequence[Any], inputs: Sequence[Any], grad_outputs: Sequence[Any],
             retain_graph: bool | None = None, create_graph: bool = False, allow_unused: bool = False) -> Any:
        return self._do("grad", ("outputs", list(outputs)), ("inputs", list(inputs)),
                        ("grad_outputs", list(grad_outputs)), ("retain_graph", retain_graph),
                        ("create_graph", create_graph), ("allow_unused", allow_unused))

    def to_numpy(self, t: Any) -> np.ndarray: return self._do("to_numpy", ("t", t))
    def grad_of(self, t: Any) -> np.ndarray | None: return self._do("grad_of", ("t", t))
    def grad_tensor(self, t: Any) -> Any: return self._do("grad_tensor", ("t", t))
    def dtype_of(self, t: Any) -> str: return self._do("dtype_of", ("t", t))
    def is_leaf(self, t: Any) -> bool: return self._do("is_leaf", ("t", t))
    def requires_grad(self, t: Any) -> bool: return self._do("requires_grad", ("t", t))
    def grad_fn_name(self, t: Any) -> str | None: return self._do("grad_fn_name", ("t", t))
    def set_requires_grad(self, t: Any, flag: bool) -> None: return self._do("set_requires_grad", ("t", t), ("flag", flag))
    def zero_grad(self, t: Any) -> None: return self._do("zero_grad", ("t", t))
    def retain_grad(self, t: Any) -> None: return self._do("retain_grad", ("t", t))
    def detach(self, t: Any) -> Any: return self._do("detach", ("t", t))
    def version_counter(self, t: Any) -> int | None: return self._do("version_counter", ("t", t))
    def no_grad(self) -> Any: return self._do("no_grad")
    def enable_grad(self) -> Any: return self._do("enable_grad")
    def set_grad_enabled(self, flag: bool) -> Any: return self._do("set_grad_enabled", ("flag", flag))
    def is_grad_enabled(self) -> bool: return self._do("is_grad_enabled")

    def register_hook(self, t: Any, fn: Any) -> Any:
        self._unrenderable("register_hook takes a Python callable")  # the hook's body is the check's code
        return self._inner.register_hook(t, fn)

    def no_grad_decorator(self, fn: Any) -> Any:
        self._unrenderable("no_grad_decorator wraps a Python callable")
        return self._inner.no_grad_decorator(fn)

    def jvp(self, fn: Any, primals: Any, tangents: Any) -> Any:
        self._unrenderable("jvp takes a Python callable")  # the calls fn makes run inside the engine's forward mode
        return self._inner.jvp(fn, primals, tangents)


class _RecordedCM:
    """A grad-mode context manager whose __enter__/__exit__ are calls of the trace too."""

    def __init__(self, rec: Recorder, cm: Any) -> None:
        self._rec, self._cm = rec, cm

    def __enter__(self) -> Any:
        return self._rec._record("enter", [("cm", self._cm)], self._cm.__enter__)

    def __exit__(self, typ: object, exc: object, tb: object) -> Any:
        return self._rec._record("exit", [("cm", self._cm), ("exception", typ is not None)],
                                 lambda: self._cm.__exit__(typ, exc, tb))


def _category(adapter: Any, e: BaseException) -> str:
    try:
        return "autograd error" if adapter.is_autograd_error(e) else "error"
    except Exception:  # noqa: BLE001 - an adapter failing to classify its own error: an error still
        return "error"


# -- replay ------------------------------------------------------------------------------------
class _Missing(Exception):
    """An argument names the result of a call that raised (or was skipped) on this adapter."""


def _resolve(v: Any, env: dict[str, Any]) -> Any:
    if isinstance(v, Ref):
        if v.name not in env:
            raise _Missing(v.name)
        return env[v.name]
    if isinstance(v, (list, tuple)):
        return type(v)(_resolve(x, env) for x in v)
    if isinstance(v, dict):
        return {k: _resolve(x, env) for k, x in v.items()}
    return v.copy() if isinstance(v, np.ndarray) else v


def invoke(adapter: Any, call: Call, args: list[Any]) -> Any:
    """Make ``call`` on ``adapter`` with resolved ``args`` (as recorded, positionally)."""
    if call.method == "enter":
        return args[0].__enter__()
    if call.method == "exit":
        return args[0].__exit__(*((BlockExit, BlockExit("an exception leaves the block"), None) if args[1]
                                  else (None, None, None)))
    return getattr(adapter, call.method)(*args)


def replay(trace: Trace, adapter: Any) -> list[Outcome]:
    """Run ``trace``'s calls on ``adapter``; one Outcome per call (a call never stops the replay)."""
    env: dict[str, Any] = {}
    outcomes = []
    for call in trace.calls:
        out = Outcome()
        outcomes.append(out)
        try:
            args = [_resolve(v, env) for _, v in call.args]
        except _Missing:
            out.skipped = True
            continue
        try:
            result = invoke(adapter, call, args)
        except Exception as e:  # noqa: BLE001 - a raising call is an observation
            out.raised, out.error = _category(adapter, e), f"{type(e).__name__}: {e}"[:300]
            continue
        out.obs = OBSERVE.get(call.method, lambda r: [])(result)
        kind = PRODUCES.get(call.method)
        if kind == "list":
            env.update({f"{call.name}[{k}]": t for k, t in enumerate(result) if t is not None})
        if kind:
            env[call.name] = result
    return outcomes


# -- comparing ---------------------------------------------------------------------------------
def differences(got: list[Outcome], exp: list[Outcome], tol: tuple[float, float]) -> list[str]:
    """Where two runs of one trace part: per call, the error category, then each observation."""
    found = []
    for n, (g, e) in enumerate(zip(got, exp)):
        if g.skipped or e.skipped:
            continue
        if g.raised != e.raised:
            found.append(f"step {n}: raised {g.raised or 'nothing'} ({g.error}), expected {e.raised or 'no error'}")
        elif g.raised is None:
            found += [f"step {n}: {d}" for d in (difference(a, b, *tol) for a, b in zip(g.obs, e.obs)) if d]
    return found
