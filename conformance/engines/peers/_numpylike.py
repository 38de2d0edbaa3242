"""Registry ops spelled with a numpy-style module (``jax.numpy``, ``autograd.numpy``, ``mygrad``).

``numpy_ops(xp)`` maps a registry op name to ``f(inputs, params)``; the three numpy-like
peers share it and add or drop entries (softmax, sigmoid, logsumexp come from each engine's
own module where it has one).  Only the engine's own functions are called; torch argument
conventions (``dim``, ``keepdim``, ``correction``, squeeze of a non-1 dim, dim 0 of a 0-d tensor) are translated
here, never re-implemented.  ``view`` is left out: numpy-style engines have no view op
distinct from reshape.  nn losses are written with the engine's log_softmax, indexing and mean.
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

Op = Callable[[list[Any], dict[str, Any]], Any]


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


def numpy_ops(xp: Any, log_softmax: Callable[[Any, int], Any]) -> dict[str, Op]:
    """Ops for numpy-style module ``xp``; ``log_softmax(x, axis)`` is the engine's own or a composite."""

    def loss(x: Any, target: np.ndarray, reduction: str, logp: bool) -> Any:
        lp = log_softmax(x, 1) if logp else x
        return _reduce(xp, -lp[np.arange(len(target)), target], reduction)

    red = lambda f: lambda i, p: f(i[0], axis=axis_of(i[0], p["dim"]), keepdims=p["keepdim"])  # noqa: E731
    return {
        "add": lambda i, p: xp.add(i[0], i[1]), "sub": lambda i, p: xp.subtract(i[0], i[1]),
        "mul": lambda i, p: xp.multiply(i[0], i[1]), "div": lambda i, p: xp.divide(i[0], i[1]),
        "pow": lambda i, p: xp.power(i[0], i[1]),
        "maximum": lambda i, p: xp.maximum(i[0], i[1]), "minimum": lambda i, p: xp.minimum(i[0], i[1]),
        "where": lambda i, p: xp.where(p["cond"], i[0], i[1]),
        "clamp": lambda i, p: xp.clip(i[0], p["lo"], p["hi"]),
        "neg": lambda i, p: xp.negative(i[0]), "abs": lambda i, p: xp.abs(i[0]),
        **{n: (lambda f: lambda i, p: f(i[0]))(getattr(xp, n)) for n in ("exp", "log", "sqrt", "sin", "cos", "tanh")},
        "relu": lambda i, p: xp.maximum(i[0], 0.0),
        "sum": red(xp.sum), "mean": red(xp.mean), "amax": red(xp.max), "amin": red(xp.min),
        "max": red(xp.max), "min": red(xp.min), "prod": red(xp.prod),
        "var": lambda i, p: xp.var(i[0], axis=axis_of(i[0], p["dim"]), ddof=p["correction"], keepdims=p["keepdim"]),
        "matmul": lambda i, p: xp.matmul(i[0], i[1]), "mm": lambda i, p: xp.matmul(i[0], i[1]),
        "bmm": lambda i, p: xp.matmul(i[0], i[1]),
        "transpose": lambda i, p: xp.swapaxes(i[0], p["dim0"], p["dim1"]),
        "permute": lambda i, p: xp.transpose(i[0], p["dims"]),
        "reshape": lambda i, p: xp.reshape(i[0], p["shape"]),
        "expand": lambda i, p: xp.broadcast_to(i[0], _expand_shape(i[0], p["shape"])),
        "squeeze": lambda i, p: _squeeze(xp, i[0], p["dim"]),
        "unsqueeze": lambda i, p: xp.expand_dims(i[0], p["dim"]),
        "flatten": lambda i, p: xp.reshape(i[0], _flat_shape(i[0], p["start_dim"], p["end_dim"])),
        "cat": lambda i, p: xp.concatenate([i[0], i[1]], axis=p["dim"]),
        "stack": lambda i, p: xp.stack([i[0], i[1]], axis=p["dim"]),
        "split": lambda i, p: _split(i[0], p["size"], p["dim"], p["k"]),
        "index": lambda i, p: i[0][p["index"]],
        "log_softmax": lambda i, p: log_softmax(i[0], axis_of(i[0], p["dim"])),
        "softmax": lambda i, p: xp.exp(log_softmax(i[0], axis_of(i[0], p["dim"]))),
        "cross_entropy": lambda i, p: loss(i[0], p["target"], p["reduction"], True),
        "nll_loss": lambda i, p: loss(i[0], p["target"], p["reduction"], False),
        "mse_loss": lambda i, p: _reduce(xp, xp.square(xp.subtract(i[0], i[1])), p["reduction"]),
    }
