"""Registry ops spelled with a numpy-style module ``xp`` (numpy itself, ``jax.numpy``, ``autograd.numpy``, ``mygrad``).

``numpy_ops(xp, log_softmax)`` maps a registry op name to ``f(inputs, params)``.  Only the
module's own functions are called; torch's argument conventions are translated here, never
re-implemented:

* ``dim`` -> ``axis`` (an int, a tuple of ints, negative counts from the end, None = every axis);
  ``keepdim`` -> ``keepdims``; ``correction`` -> ``ddof``;
* torch lets dim 0 / -1 name the single "dim" of a 0-d tensor: numpy spells that ``axis=None``;
* squeezing a dim whose size is not 1 is a no-op in torch (numpy raises);
* ``expand`` takes -1 for "keep this size"; ``flatten`` flattens dims start..end inclusive.

An op whose module functions are missing is left out of the table (so ``has_op`` says False and
the harness reports it not-applicable, instead of the adapter raising AttributeError mid-run).
``view`` is left out: numpy-style engines have no view op distinct from reshape.  nn losses are
written with ``log_softmax``, integer indexing (``x[rows, target]``) and mean/sum.
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

#: one op: (engine tensors, registry params) -> engine tensor
Op = Callable[[list[Any], dict[str, Any]], Any]
#: ``log_softmax(x, axis)`` over one axis (None: the whole of a 0-d input)
LogSoftmax = Callable[[Any, Any], Any]


def axis_of(x: Any, dim: Any) -> Any:
    """torch lets dim 0 / -1 name the single "dim" of a 0-d tensor; numpy spells that axis=None."""
    return None if len(x.shape) == 0 else dim


def _squeeze(xp: Any, x: Any, dim: Any) -> Any:
    if dim is None or len(x.shape) == 0:
        return xp.squeeze(x)
    return xp.squeeze(x, axis=dim) if x.shape[dim] == 1 else x  # torch: squeezing a non-1 dim is a no-op


def _expand_shape(x: Any, shape: tuple[int, ...]) -> tuple[int, ...]:
    lead = len(shape) - x.ndim
    return tuple(x.shape[i - lead] if s == -1 else s for i, s in enumerate(shape))


def _flat_shape(x: Any, a: int, b: int) -> tuple[int, ...]:
    b %= x.ndim
    return tuple(x.shape[:a]) + (-1,) + tuple(x.shape[b + 1:])


def _split(x: Any, size: int, dim: int, k: int) -> Any:
    idx = [slice(None)] * x.ndim
    idx[dim] = slice(k * size, (k + 1) * size)
    return x[tuple(idx)]


def _reduce(xp: Any, v: Any, reduction: str) -> Any:
    return xp.mean(v) if reduction == "mean" else xp.sum(v) if reduction == "sum" else v


def composite_log_softmax(xp: Any) -> LogSoftmax:
    """``x - max - log(sum(exp(x - max)))`` with the module's max, exp, log, sum: for modules without their own.

    Subtracting the max keeps large logits finite; its gradient cancels exactly, so the result
    is differentiable however the engine treats max.
    """
    def log_softmax(x: Any, axis: Any) -> Any:
        m = xp.max(x, axis=axis, keepdims=True)
        z = xp.subtract(x, m)
        return xp.subtract(z, xp.log(xp.sum(xp.exp(z), axis=axis, keepdims=True)))
    return log_softmax


#: the module functions the composite log_softmax calls
COMPOSITE_NEEDS = ("max", "subtract", "log", "sum", "exp")


def numpy_ops(xp: Any, log_softmax: LogSoftmax | None) -> dict[str, Op]:
    """Ops for numpy-style module ``xp`` that it has the functions for.

    ``log_softmax(x, axis)`` is the engine's own or :func:`composite_log_softmax`; None leaves out
    every op written with it (log_softmax, softmax, cross_entropy, nll_loss need it; nll_loss only
    indexing).
    """
    def loss(x: Any, target: np.ndarray, reduction: str, logp: bool) -> Any:
        lp = log_softmax(x, 1) if logp else x  # type: ignore[misc]
        return _reduce(xp, -lp[np.arange(len(target)), target], reduction)

    def red(name: str) -> Op:
        return lambda i, p: getattr(xp, name)(i[0], axis=axis_of(i[0], p["dim"]), keepdims=p["keepdim"])

    def unary(name: str) -> Op:
        return lambda i, p: getattr(xp, name)(i[0])

    # (op, the module functions it calls -- "log_softmax": the callable above, "getitem": tensor indexing --, op)
    entries: list[tuple[str, str, Op]] = [
        ("add", "add", lambda i, p: xp.add(i[0], i[1])), ("sub", "subtract", lambda i, p: xp.subtract(i[0], i[1])),
        ("mul", "multiply", lambda i, p: xp.multiply(i[0], i[1])),
        ("div", "divide", lambda i, p: xp.divide(i[0], i[1])), ("pow", "power", lambda i, p: xp.power(i[0], i[1])),
        ("maximum", "maximum", lambda i, p: xp.maximum(i[0], i[1])),
        ("minimum", "minimum", lambda i, p: xp.minimum(i[0], i[1])),
        ("where", "where", lambda i, p: xp.where(p["cond"], i[0], i[1])),
        ("clamp", "clip", lambda i, p: xp.clip(i[0], p["lo"], p["hi"])),
        ("neg", "negative", lambda i, p: xp.negative(i[0])), ("abs", "abs", lambda i, p: xp.abs(i[0])),
        *((n, n, unary(n)) for n in ("exp", "log", "sqrt", "sin", "cos", "tanh")),
        ("relu", "maximum", lambda i, p: xp.maximum(i[0], 0.0)),
        ("sum", "sum", red("sum")), ("mean", "mean", red("mean")), ("amax", "max", red("max")),
        ("amin", "min", red("min")), ("max", "max", red("max")), ("min", "min", red("min")),
        ("prod", "prod", red("prod")),
        ("var", "var", lambda i, p: xp.var(i[0], axis=axis_of(i[0], p["dim"]), ddof=p["correction"],
                                            keepdims=p["keepdim"])),
        ("matmul", "matmul", lambda i, p: xp.matmul(i[0], i[1])), ("mm", "matmul", lambda i, p: xp.matmul(i[0], i[1])),
        ("bmm", "matmul", lambda i, p: xp.matmul(i[0], i[1])),
        ("transpose", "swapaxes", lambda i, p: xp.swapaxes(i[0], p["dim0"], p["dim1"])),
        ("permute", "transpose", lambda i, p: xp.transpose(i[0], p["dims"])),
        ("reshape", "reshape", lambda i, p: xp.reshape(i[0], p["shape"])),
        ("expand", "broadcast_to", lambda i, p: xp.broadcast_to(i[0], _expand_shape(i[0], p["shape"]))),
        ("squeeze", "squeeze", lambda i, p: _squeeze(xp, i[0], p["dim"])),
        ("unsqueeze", "expand_dims", lambda i, p: xp.expand_dims(i[0], p["dim"])),
        ("flatten", "reshape", lambda i, p: xp.reshape(i[0], _flat_shape(i[0], p["start_dim"], p["end_dim"]))),
        ("cat", "concatenate", lambda i, p: xp.concatenate([i[0], i[1]], axis=p["dim"])),
        ("stack", "stack", lambda i, p: xp.stack([i[0], i[1]], axis=p["dim"])),
        ("split", "getitem", lambda i, p: _split(i[0], p["size"], p["dim"], p["k"])),
        ("index", "getitem", lambda i, p: i[0][p["index"]]),
        ("log_softmax", "log_softmax", lambda i, p: log_softmax(i[0], axis_of(i[0], p["dim"]))),  # type: ignore[misc]
        ("softmax", "log_softmax exp",
         lambda i, p: xp.exp(log_softmax(i[0], axis_of(i[0], p["dim"])))),  # type: ignore[misc]
        ("cross_entropy", "log_softmax getitem mean sum", lambda i, p: loss(i[0], p["target"], p["reduction"], True)),
        ("nll_loss", "getitem mean sum", lambda i, p: loss(i[0], p["target"], p["reduction"], False)),
        ("mse_loss", "square subtract mean sum",
         lambda i, p: _reduce(xp, xp.square(xp.subtract(i[0], i[1])), p["reduction"])),
    ]

    def has(name: str) -> bool:
        if name == "log_softmax":
            return log_softmax is not None
        return name == "getitem" or hasattr(xp, name)  # indexing is the tensor's own, not the module's
    return {op: fn for op, needs, fn in entries if all(has(n) for n in needs.split())}
