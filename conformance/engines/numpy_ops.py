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
written with ``log_softmax``, integer indexing (``x[rows, target]``) and mean/sum.  The further ops
(selections, linalg decompositions, pad, the composites torch defines as expressions: losses,
activations, normalisations) are in ``numpy_ops_more``, merged here.
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

    from conformance.engines.numpy_ops_more import fallback_entries, has_function, more_entries

    # a fallback first: the op's own entry, where the module has its function, comes later and wins
    entries = fallback_entries(xp) + entries + _more_entries(xp) + more_entries(xp)

    def has(name: str) -> bool:
        if name == "log_softmax":
            return log_softmax is not None
        return name == "getitem" or has_function(xp, name)  # indexing is the tensor's own, not the module's
    return {op: fn for op, needs, fn in entries if all(has(n) for n in needs.split())}


def _narrow(x: Any, dim: int, start: int, length: int) -> Any:
    start %= x.shape[dim]  # torch counts a negative start from the end
    idx = [slice(None)] * x.ndim
    idx[dim] = slice(start, start + length)
    return x[tuple(idx)]


def _chunk(x: Any, chunks: int, dim: int, k: int) -> Any:
    size = -(-x.shape[dim] // chunks)  # torch.chunk: pieces of ceil(n / chunks), the last one shorter
    return _narrow(x, dim, k * size, size)


def _take(x: Any, dim: int, k: int) -> Any:
    idx: list[Any] = [slice(None)] * x.ndim
    idx[dim] = k
    return x[tuple(idx)]


def _gather(xp: Any, x: Any, dim: int, index: np.ndarray) -> Any:
    """torch.gather lets ``index`` be smaller than ``x`` in the other dims: the corner of ``x`` it covers."""
    dim %= x.ndim
    corner = tuple(slice(None) if d == dim else slice(0, n) for d, n in enumerate(index.shape))
    return xp.take_along_axis(x[corner], index, axis=dim)


def _scan(scan: Callable[..., Any], x: Any, dim: int) -> Any:
    """A scan of a 0-d tensor is the tensor (numpy's axis=None would flatten it to shape (1,))."""
    return x if len(x.shape) == 0 else scan(x, axis=dim)


def _sort(xp: Any, x: Any, dim: int, descending: bool) -> Any:
    axis = axis_of(x, dim)
    if axis is None:
        return x
    out = xp.sort(x, axis=axis)
    return xp.flip(out, axis=axis) if descending else out


def _more_entries(xp: Any) -> list[tuple[str, str, Op]]:
    """The registry's further ops where numpy spells them (torch name -> numpy name; argument conventions)."""
    def unary(name: str) -> Op:
        return lambda i, p: getattr(xp, name)(i[0])

    def binary(name: str) -> Op:
        return lambda i, p: getattr(xp, name)(i[0], i[1])

    renamed = {"asin": "arcsin", "acos": "arccos", "atan": "arctan", "asinh": "arcsinh", "acosh": "arccosh",
               "atanh": "arctanh"}
    same = ("tan", "sinh", "cosh", "log1p", "expm1", "log2", "log10", "exp2", "reciprocal", "square", "sign",
            "floor", "ceil", "trunc", "fix", "round")
    return [
        *((op, np_name, unary(np_name)) for op, np_name in renamed.items()),
        *((op, op, unary(op)) for op in same),
        ("rsqrt", "reciprocal sqrt", lambda i, p: xp.reciprocal(xp.sqrt(i[0]))),
        ("atan2", "arctan2", binary("arctan2")),
        # comparisons: bool results, never differentiated (autograd.numpy and jax.numpy give no gradient through them)
        ("eq", "equal", binary("equal")), ("lt", "less", binary("less")), ("gt", "greater", binary("greater")),
        *((op, op, binary(op)) for op in ("hypot", "fmod", "remainder", "logaddexp")),  # numpy's remainder: torch's
        ("dot", "dot", binary("dot")), ("vdot", "vdot", binary("vdot")), ("mv", "matmul", binary("matmul")),
        ("outer", "outer", binary("outer")), ("ger", "outer", binary("outer")),
        ("cross", "cross", lambda i, p: xp.cross(i[0], i[1], axis=p["dim"])),
        ("einsum", "einsum", lambda i, p: xp.einsum(p["equation"], i[0], i[1])),
        ("trace", "trace", unary("trace")),
        ("diag", "diag", lambda i, p: xp.diag(i[0], p["diagonal"])),
        ("diagonal", "diagonal", lambda i, p: xp.diagonal(i[0], p["offset"], p["dim1"], p["dim2"])),
        ("tril", "tril", lambda i, p: xp.tril(i[0], p["diagonal"])),
        ("triu", "triu", lambda i, p: xp.triu(i[0], p["diagonal"])),
        ("cumsum", "cumsum", lambda i, p: _scan(xp.cumsum, i[0], p["dim"])),
        ("cumprod", "cumprod", lambda i, p: _scan(xp.cumprod, i[0], p["dim"])),
        ("sort", "sort flip", lambda i, p: _sort(xp, i[0], p["dim"], p["descending"])),
        ("msort", "sort", lambda i, p: xp.sort(i[0], axis=0)),
        ("std", "std", lambda i, p: xp.std(i[0], axis=axis_of(i[0], p["dim"]), ddof=p["correction"],
                                            keepdims=p["keepdim"])),
        ("flip", "flip", lambda i, p: xp.flip(i[0], axis=p["dims"])),
        ("roll", "roll", lambda i, p: xp.roll(i[0], p["shifts"], axis=p["dims"])),
        ("repeat", "tile", lambda i, p: xp.tile(i[0], p["sizes"])),  # len(sizes) >= ndim: numpy's tile
        ("tile", "tile", lambda i, p: xp.tile(i[0], p["dims"])),
        ("narrow", "getitem", lambda i, p: _narrow(i[0], p["dim"], p["start"], p["length"])),
        ("chunk", "getitem", lambda i, p: _chunk(i[0], p["chunks"], p["dim"], p["k"])),
        ("unbind", "getitem", lambda i, p: _take(i[0], p["dim"], p["k"])),
        ("movedim", "moveaxis", lambda i, p: xp.moveaxis(i[0], p["source"], p["destination"])),
        ("moveaxis", "moveaxis", lambda i, p: xp.moveaxis(i[0], p["source"], p["destination"])),
        ("broadcast_to", "broadcast_to", lambda i, p: xp.broadcast_to(i[0], p["size"])),
        ("take_along_dim", "take_along_axis reshape",
         lambda i, p: xp.take_along_axis(xp.reshape(i[0], (-1,)), p["indices"].reshape(-1), axis=0)
         if p["dim"] is None else xp.take_along_axis(i[0], p["indices"], axis=p["dim"])),
        ("gather", "take_along_axis getitem", lambda i, p: _gather(xp, i[0], p["dim"], p["index"])),
        ("index_select", "take", lambda i, p: xp.take(i[0], p["index"], axis=p["dim"])),
        ("masked_fill", "where", lambda i, p: xp.where(p["mask"], p["value"], i[0])),
    ]
