"""``--engine tinygrad``: tinygrad 0.14 (lazy n-d tensors, CPU device compiled with clang).

Needs Debian's ``clang`` for the default CPU device (``apt-get install -y clang``).
Global state: importing tinygrad raises the process's recursion limit to 10000.
tinygrad has no ``requires_grad``: ``backward`` fills ``.grad`` of every live float tensor
in the graph (leaves, constants and intermediates alike), so ``requires_grad`` reads True
for every float tensor and a "frozen" leaf is an ordinary tensor.  ``is_leaf`` means "made
by ``leaf``/``detach``" (tinygrad has no such notion); ``grad_fn`` is the op of the tensor's
lazy UOp.  Misuse is signalled with ``assert`` (non-scalar backward), so AssertionError is the
autograd-error category.  Declared: RETAIN_GRAPH (the lazy graph is never freed; a second
backward runs and accumulates), FUNCTIONAL_GRAD + HIGHER_ORDER (``Tensor.gradient`` returns
differentiable lazy tensors).  0-d leaves are made as ``Tensor([v]).reshape(())``: a 0-d
tensor built directly from a 0-d array never receives a gradient (docs/findings.md, T1).
"""
from __future__ import annotations

import weakref
from typing import Any, Sequence

import numpy as np

from conformance.engines.adapter import (COMPILES, FLOAT32, FLOAT64, FUNCTIONAL_GRAD, HIGHER_ORDER, ND, RETAIN_GRAPH,
                                        Adapter)
from conformance.engines.peers import require
from conformance.engines.peers.tinygrad_ops import OPS as _MORE_OPS


def _red(name: str) -> Any:
    return lambda i, p: getattr(i[0], name)(axis=p["dim"], keepdim=p["keepdim"])


def _reduce(v: Any, r: str) -> Any:
    return v.mean() if r == "mean" else v.sum() if r == "sum" else v


OPS = {
    "add": lambda i, p: i[0] + i[1], "sub": lambda i, p: i[0] - i[1], "mul": lambda i, p: i[0] * i[1],
    "div": lambda i, p: i[0] / i[1], "pow": lambda i, p: i[0].pow(i[1]),
    "maximum": lambda i, p: i[0].maximum(i[1]), "minimum": lambda i, p: i[0].minimum(i[1]),
    "where": lambda i, p: p["cond"].where(i[0], i[1]), "clamp": lambda i, p: i[0].clamp(p["lo"], p["hi"]),
    **{n: (lambda n: lambda i, p: getattr(i[0], n)())(n)
       for n in ("neg", "exp", "log", "sqrt", "sin", "cos", "tanh", "sigmoid", "relu", "abs")},
    "sum": _red("sum"), "mean": _red("mean"), "max": _red("max"), "min": _red("min"), "amax": _red("max"),
    "amin": _red("min"), "logsumexp": _red("logsumexp"), "prod": _red("prod"),
    "var": lambda i, p: i[0].var(axis=p["dim"], keepdim=p["keepdim"], correction=p["correction"]),
    "matmul": lambda i, p: i[0].matmul(i[1]), "mm": lambda i, p: i[0].matmul(i[1]),
    "bmm": lambda i, p: i[0].matmul(i[1]),
    "transpose": lambda i, p: i[0].transpose(p["dim0"], p["dim1"]), "permute": lambda i, p: i[0].permute(p["dims"]),
    "reshape": lambda i, p: i[0].reshape(p["shape"]), "view": lambda i, p: i[0].view(p["shape"]),
    "expand": lambda i, p: i[0].expand(p["shape"]), "squeeze": lambda i, p: i[0].squeeze(p["dim"]),
    "unsqueeze": lambda i, p: i[0].unsqueeze(p["dim"]),
    "flatten": lambda i, p: i[0].flatten(p["start_dim"], p["end_dim"]),
    "cat": lambda i, p: i[0].cat(i[1], dim=p["dim"]), "stack": lambda i, p: i[0].stack(i[1], dim=p["dim"]),
    "split": lambda i, p: i[0].split(p["size"], p["dim"])[p["k"]], "index": lambda i, p: i[0][p["index"]],
    "softmax": lambda i, p: i[0].softmax(p["dim"]), "log_softmax": lambda i, p: i[0].log_softmax(p["dim"]),
    "cross_entropy": lambda i, p: i[0].cross_entropy(p["target"], reduction=p["reduction"]),
    "nll_loss": lambda i, p: i[0].nll_loss(p["target"], reduction=p["reduction"]),
    "mse_loss": lambda i, p: _reduce((i[0] - i[1]).square(), p["reduction"]),
    "conv2d": lambda i, p: i[0].conv2d(i[1], i[2], stride=p["stride"], padding=p["padding"]),
    "max_pool2d": lambda i, p: i[0].max_pool2d((p["kernel_size"],) * 2, p["stride"]),
    "avg_pool2d": lambda i, p: i[0].avg_pool2d((p["kernel_size"],) * 2, p["stride"]),
    **_MORE_OPS,  # the issue-16 ops: tinygrad_ops.py
}


class TinygradAdapter(Adapter):
    name = "tinygrad"
    # kernels are compiled (clang) per shape: runs draw shapes from a small pool (--shapes)
    capabilities = frozenset({FLOAT64, FLOAT32, ND, RETAIN_GRAPH, FUNCTIONAL_GRAD, HIGHER_ORDER, COMPILES})

    def __init__(self) -> None:
        tg = require("tinygrad", "tinygrad")  # raises sys.setrecursionlimit(10000), process-wide
        self.Tensor, self.dtypes = tg.Tensor, tg.dtypes
        self._leaves: dict[int, weakref.ref[Any]] = {}  # by id: Tensor.__eq__ is elementwise

    def version(self) -> str | None:
        from importlib.metadata import version
        return version("tinygrad")

    def has_op(self, op: str) -> bool:
        return op in OPS

    def _t(self, v: Any) -> Any:  # params: index arrays, masks, targets become tensors
        if isinstance(v, np.ndarray):
            return self.Tensor(v)
        return tuple(self._t(x) for x in v) if isinstance(v, tuple) else v

    def leaf(self, value: np.ndarray, dtype: str, requires_grad: bool) -> Any:
        a = np.array(value, dtype=dtype)
        t = self.Tensor(a.reshape(1), dtype=getattr(self.dtypes, dtype)).reshape(()) if a.ndim == 0 else \
            self.Tensor(a, dtype=getattr(self.dtypes, dtype))
        return self._mark(t)

    def _mark(self, t: Any) -> Any:
        self._leaves[id(t)] = weakref.ref(t)
        return t

    def apply(self, op: str, inputs: Sequence[Any], params: dict[str, Any]) -> Any:
        return OPS[op](list(inputs), {k: self._t(v) for k, v in params.items()})

    def backward(self, out: Any, gradient: Any = None, retain_graph: bool | None = None,
                 create_graph: bool = False) -> None:
        out.backward(gradient)

    def grad(self, outputs: Sequence[Any], inputs: Sequence[Any], grad_outputs: Sequence[Any],
             retain_graph: bool | None = None, create_graph: bool = False,
             allow_unused: bool = False) -> list[Any]:
        out = outputs[0] if len(outputs) == 1 else sum(((o * c).sum() for o, c in zip(outputs, grad_outputs)))
        gs = out.gradient(*inputs, gradient=grad_outputs[0] if len(outputs) == 1 else None)
        used = set(out.uop.toposort())
        return [None if allow_unused and t.uop not in used else g for t, g in zip(inputs, gs)]

    def to_numpy(self, t: Any) -> np.ndarray:
        return np.array(t.numpy(), copy=True)

    def shape_of(self, t: Any) -> tuple[int, ...]:
        # lazy: the contract check reads shapes without realizing each op's result (kernels fuse as in use)
        return tuple(int(d) for d in t.shape)

    def grad_tensor(self, t: Any) -> Any:
        return t.grad

    def grad_of(self, t: Any) -> np.ndarray | None:
        return None if t.grad is None else self.to_numpy(t.grad)

    def dtype_of(self, t: Any) -> str:
        named = {self.dtypes.float64: "float64", self.dtypes.float32: "float32"}.get(t.dtype)
        return named or (str(np.dtype(t.dtype.fmt)) if t.dtype.fmt else str(t.dtype))  # numpy's: "bool", "int64"

    def is_leaf(self, t: Any) -> bool:
        ref = self._leaves.get(id(t))
        return ref is not None and ref() is t

    def requires_grad(self, t: Any) -> bool:
        return bool(t.is_floating_point())

    def grad_fn_name(self, t: Any) -> str | None:
        return None if self.is_leaf(t) else str(t.uop.op)

    def zero_grad(self, t: Any) -> None:
        t.grad = None

    def detach(self, t: Any) -> Any:
        return self._mark(t.detach())

    def is_autograd_error(self, exc: BaseException) -> bool:
        return isinstance(exc, (AssertionError, RuntimeError))
