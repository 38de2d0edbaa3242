"""Shared base for functional engines (jax, HIPS autograd): a program is recorded, then differentiated whole.

Functional engines have no Variable: gradients are ``vjp(f, *args)`` of a pure function.
The adapter's tensor ``Rec`` holds the engine's forward value (computed eagerly by the
engine) and how it was made (a function of its inputs).  ``backward`` rebuilds the
function from the recorded leaves requiring grad to the output and asks the engine for
its VJP (``jax.vjp`` / ``autograd.make_vjp``); with ``gradient=None`` it uses the engine's
*scalar* ``grad`` instead, so a non-scalar output raises the engine's own error.
``grad(..., create_graph=True)`` returns records whose function is itself a VJP, so a
second ``grad`` differentiates through the engine's VJP: higher order is the engine's.
``detach`` records the engine's stop-gradient.

What is emulated here, not the engine's: ``.grad`` storage and accumulation across
``backward`` calls, ``is_leaf`` / ``requires_grad`` / ``grad_fn`` (read off the record).
Properties that check only those rules therefore test this file, not the engine; see
docs/findings.md (harness limitation H2).
"""
from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from conformance.engines.adapter import FLOAT32, FLOAT64, FUNCTIONAL_GRAD, HIGHER_ORDER, ND, SCALAR_OPERANDS
from conformance.engines.numpy_style import NumpyStyleAdapter

CAPABILITIES = frozenset({FLOAT64, FLOAT32, ND, FUNCTIONAL_GRAD, HIGHER_ORDER, SCALAR_OPERANDS})


def _differentiable(value: Any) -> bool:
    """Whether an op's result can carry a gradient: not a bool or integer array."""
    dtype = getattr(value, "dtype", None)
    return dtype is None or np.dtype(dtype).kind not in "biu"


class Misuse(RuntimeError):
    """Raised by the adapter itself for a misuse the engine cannot see (backward of a constant)."""


class Rec:
    """A recorded value: a leaf (``fn`` None) or ``fn(*input values)``."""

    __slots__ = ("value", "fn", "inputs", "requires_grad", "grad", "name", "__weakref__")

    def __init__(self, value: Any, fn: Callable[..., Any] | None = None, inputs: Sequence["Rec"] = (),
                 requires_grad: bool = False, name: str | None = None) -> None:
        self.value, self.fn, self.inputs = value, fn, tuple(inputs)
        self.requires_grad, self.grad, self.name = requires_grad, None, name


def _ancestors(outs: Sequence[Rec], tracked: bool = False) -> list[Rec]:
    """Every record below ``outs``; with ``tracked``, only through records that require grad (as torch's
    graph: a detached value or a constant subgraph hides its inputs)."""
    seen: dict[int, Rec] = {}
    stack = list(outs)
    while stack:
        r = stack.pop()
        if id(r) not in seen and (r.requires_grad or not tracked):
            seen[id(r)] = r
            stack.extend(r.inputs)
    return list(seen.values())


def replay(outs: Sequence[Rec], given: dict[int, Any]) -> list[Any]:
    """Values of ``outs`` recomputed by the engine, with ``given[id(rec)]`` substituted."""
    memo = dict(given)

    def val(r: Rec) -> Any:
        if id(r) not in memo:
            memo[id(r)] = r.value if r.fn is None else r.fn(*(val(i) for i in r.inputs))
        return memo[id(r)]
    return [val(o) for o in outs]


class FunctionalAdapter(NumpyStyleAdapter):
    """Subclasses set ``xp`` (numpy-style module; the op table is NumpyStyleAdapter's) and implement the four
    engine hooks below."""

    capabilities = CAPABILITIES

    # -- engine hooks ----------------------------------------------------------------
    def array(self, value: np.ndarray, dtype: str) -> Any:
        raise NotImplementedError

    def vjp(self, f: Callable[..., Any], args: list[Any], cot: Any) -> list[Any]:
        """Engine VJP of ``f`` at ``args`` with cotangent ``cot``."""
        raise NotImplementedError

    def scalar_grad(self, f: Callable[..., Any], args: list[Any]) -> list[Any]:
        """Engine gradient of scalar-valued ``f`` (raises the engine's error otherwise)."""
        raise NotImplementedError

    def stop_gradient(self, x: Any) -> Any:
        raise NotImplementedError

    # -- building --------------------------------------------------------------------
    def leaf(self, value: np.ndarray, dtype: str, requires_grad: bool) -> Rec:
        return Rec(self.array(np.array(value), dtype), requires_grad=requires_grad)

    def integer_leaf(self, value: np.ndarray, dtype: str, requires_grad: bool = False) -> Rec:
        """An integer array; with ``requires_grad`` the engine is asked what requires_grad stands for
        here, a gradient with respect to that array (jax and autograd raise TypeError)."""
        arr = self.array(np.array(value), dtype)
        if requires_grad:
            self.scalar_grad(lambda x: self.xp.sum(x), [arr])
        return Rec(arr, requires_grad=requires_grad)

    def apply(self, op: str, inputs: Sequence[Rec | float | int], params: dict[str, Any]) -> Rec:
        fn = self.ops[op]
        recs = [r for r in inputs if isinstance(r, Rec)]
        # a param may be the engine's own tensor (comparison's mask for where / masked_fill): a constant here
        params = {k: v.value if isinstance(v, Rec) else v for k, v in params.items()}

        def f(*xs: Any) -> Any:
            # a Python number operand (SCALAR_OPERANDS) is a constant of the function, not a recorded input
            it = iter(xs)
            return fn([next(it) if isinstance(r, Rec) else r for r in inputs], params)
        value = f(*(r.value for r in recs))
        # a bool or integer result (eq, lt, gt) is not differentiable: it never requires grad, as in torch
        rg = any(r.requires_grad for r in recs) and _differentiable(value)
        return Rec(value, f, recs, rg, op)

    def detach(self, t: Rec) -> Rec:
        return Rec(t.value, self.stop_gradient, (t,), False, None)

    # -- differentiation -------------------------------------------------------------
    def _vjp_rec(self, outs: Sequence[Rec], wrt: Sequence[Rec], cots: Sequence[Rec | None], k: int) -> Rec:
        """A record of d<outs, cots>/d wrt[k] as a function of every leaf below ``outs`` (so differentiable)."""
        leaves = [r for r in _ancestors(outs) if r.fn is None]
        cot_recs = [c for c in cots if c is not None]

        def f(*vals: Any) -> Any:
            base = {id(r): v for r, v in zip(leaves, vals)}
            it = iter(vals[len(leaves):])
            return self._vjps(outs, wrt, [None if c is None else next(it) for c in cots], base)[k]
        rg = any(r.requires_grad for r in leaves)
        return Rec(f(*(r.value for r in leaves), *(c.value for c in cot_recs)), f, leaves + cot_recs, rg, "VjpBackward")

    def _vjps(self, outs: Sequence[Rec], wrt: Sequence[Rec], cots: list[Any], base: dict[int, Any]) -> list[Any]:
        """The engine's gradient of <outs, cots> w.r.t. ``wrt``, leaves fixed at ``base`` (default: recorded)."""
        xp = self.xp
        at = replay(wrt, base)
        h = lambda *w: replay(outs, {**base, **{id(r): x for r, x in zip(wrt, w)}})  # noqa: E731
        if len(outs) == 1 and cots[0] is None:
            return self.scalar_grad(lambda *w: h(*w)[0], at)
        if len(outs) == 1:
            return self.vjp(lambda *w: h(*w)[0], at, cots[0])
        return self.scalar_grad(lambda *w: sum(xp.sum(o if c is None else xp.multiply(o, c))
                                               for o, c in zip(h(*w), cots)), at)

    def backward(self, out: Rec, gradient: Rec | None = None, retain_graph: bool | None = None,
                 create_graph: bool = False) -> None:
        leaves = [r for r in _ancestors([out], tracked=True) if r.fn is None]
        if not leaves or not out.requires_grad:
            raise Misuse("backward of a value that depends on no leaf requiring grad")
        gs = self._grads([out], leaves, [gradient])
        for r, g in zip(leaves, gs):
            r.grad = Rec(g if r.grad is None else self.xp.add(r.grad.value, g))

    def _grads(self, outs: Sequence[Rec], wrt: Sequence[Rec], cots: Sequence[Rec | None]) -> list[Any]:
        return self._vjps(outs, wrt, [None if c is None else c.value for c in cots], {})

    def grad(self, outputs: Sequence[Rec], inputs: Sequence[Rec], grad_outputs: Sequence[Rec | None],
             retain_graph: bool | None = None, create_graph: bool = False,
             allow_unused: bool = False) -> list[Rec | None]:
        below = {id(r) for r in _ancestors(outputs, tracked=True)}
        if create_graph:
            res = [self._vjp_rec(outputs, inputs, grad_outputs, k) for k in range(len(inputs))]
        else:
            res = [Rec(g) for g in self._grads(outputs, inputs, grad_outputs)]
        return [None if allow_unused and id(t) not in below else r for t, r in zip(inputs, res)]

    # -- reading (to_numpy, grad_of, dtype_of: NumpyStyleAdapter's, through values) ------------
    def values(self, t: Rec) -> Any:
        return t.value

    def grad_tensor(self, t: Rec) -> Any:
        return t.grad

    def is_leaf(self, t: Rec) -> bool:
        return t.fn is None or not t.requires_grad

    def requires_grad(self, t: Rec) -> bool:
        return t.requires_grad

    def grad_fn_name(self, t: Rec) -> str | None:
        return None if self.is_leaf(t) else t.name

    def set_requires_grad(self, t: Rec, flag: bool) -> None:
        t.requires_grad = flag

    def zero_grad(self, t: Rec) -> None:
        t.grad = None
