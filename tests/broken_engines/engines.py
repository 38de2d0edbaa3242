"""The broken engines.  Each docstring says which real-world bug it imitates."""
from __future__ import annotations

import weakref
from contextlib import contextmanager
from typing import Any, Iterator, Sequence

import numpy as np
import torch

from conformance.engines.torch import TorchAdapter


class _Broken(TorchAdapter):
    def __init__(self) -> None:
        super().__init__("cpu")
        self.name = f"broken:{type(self).__name__}"
        self.spec = f"{type(self).__module__}:{type(self).__name__}"


# -- wrong numbers ---------------------------------------------------------------------------
class _SinOff(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, x: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(x)
        return torch.sin(x)

    @staticmethod
    def backward(ctx: Any, g: torch.Tensor) -> torch.Tensor:
        (x,) = ctx.saved_tensors
        return g * torch.cos(x) * (1 + 1e-4)


class SinBackwardOff(_Broken):
    """sin's derivative off by 1e-4 relative (a tiny systematic error; numerics alone may miss it)."""

    def apply(self, op: str, inputs: Sequence[Any], params: dict[str, Any]) -> Any:
        return _SinOff.apply(inputs[0]) if op == "sin" else super().apply(op, inputs, params)


class _ExpF32(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, x: torch.Tensor) -> torch.Tensor:
        y = torch.exp(x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx: Any, g: torch.Tensor) -> torch.Tensor:
        (y,) = ctx.saved_tensors
        return (g * y).float().to(g.dtype)  # precision silently lost to float32


class ExpFloat32RoundTrip(_Broken):
    """exp's backward goes through float32 even for float64 inputs."""

    def apply(self, op: str, inputs: Sequence[Any], params: dict[str, Any]) -> Any:
        return _ExpF32.apply(inputs[0]) if op == "exp" else super().apply(op, inputs, params)


def _first_slice(g: torch.Tensor, shape: torch.Size) -> torch.Tensor:
    """The bug: 'reduce' a broadcast gradient by taking the first slice instead of summing."""
    while g.dim() > len(shape):
        g = g[0]
    for d, s in enumerate(shape):
        if s == 1 and g.shape[d] != 1:
            g = g.narrow(d, 0, 1)
    return g


class _AddNoReduce(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        ctx.shapes = (a.shape, b.shape)
        return a + b

    @staticmethod
    def backward(ctx: Any, g: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return _first_slice(g, ctx.shapes[0]), _first_slice(g, ctx.shapes[1])


class AddDropsBroadcastReduction(_Broken):
    """add's backward does not sum the gradient over broadcast dimensions."""

    def apply(self, op: str, inputs: Sequence[Any], params: dict[str, Any]) -> Any:
        return _AddNoReduce.apply(*inputs) if op == "add" else super().apply(op, inputs, params)


class _ReluShifted(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, x: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(x)
        return torch.relu(x)

    @staticmethod
    def backward(ctx: Any, g: torch.Tensor) -> torch.Tensor:
        (x,) = ctx.saved_tensors
        return g * (x > 0).to(g.dtype) * torch.where(x > 2.0, 0.5, 1.0).to(g.dtype)


class ReluWrongForLargeInputs(_Broken):
    """relu's derivative is wrong only for x > 2 (a bug in part of the input space)."""

    def apply(self, op: str, inputs: Sequence[Any], params: dict[str, Any]) -> Any:
        return _ReluShifted.apply(inputs[0]) if op == "relu" else super().apply(op, inputs, params)


# -- wrong graph handling ----------------------------------------------------------------------
class LosesReusedContribution(_Broken):
    """A value consumed a second time contributes no gradient through that use
    (an engine keying pending gradients by node and overwriting instead of adding)."""

    def __init__(self) -> None:
        super().__init__()
        # by identity: a WeakSet compares tensors with ==, which torch makes elementwise
        self._seen: dict[int, "weakref.ref[torch.Tensor]"] = {}

    def apply(self, op: str, inputs: Sequence[Any], params: dict[str, Any]) -> Any:
        fixed = []
        for t in inputs:
            ref = self._seen.get(id(t))
            fixed.append(t.detach() if ref is not None and ref() is t else t)
            self._seen[id(t)] = weakref.ref(t)
        return super().apply(op, fixed, params)


class FillsNonLeafGrad(_Broken):
    """Every intermediate keeps its gradient in .grad (non-leaf .grad must stay None)."""

    def apply(self, op: str, inputs: Sequence[Any], params: dict[str, Any]) -> Any:
        out = super().apply(op, inputs, params)
        if out.requires_grad:
            out.retain_grad()
        return out


class NoGradNotRestoredOnError(_Broken):
    """no_grad restores grad mode on normal exit only, not when an exception leaves the block."""

    @contextmanager
    def no_grad(self) -> Iterator[None]:
        prev = torch.is_grad_enabled()
        torch.set_grad_enabled(False)
        yield
        torch.set_grad_enabled(prev)


class RetainGradIgnored(_Broken):
    """retain_grad() is accepted but does nothing."""

    def retain_grad(self, t: Any) -> None:
        pass


class BackwardAlwaysRetainsGraph(_Broken):
    """The graph is never freed, so a second backward silently succeeds (and double counts)."""

    def backward(self, out: Any, gradient: Any = None, retain_graph: Any = None, create_graph: bool = False) -> None:
        super().backward(out, gradient, True, create_graph)


class ImplicitOnesForNonScalar(_Broken):
    """backward() of a non-scalar without a gradient silently uses ones."""

    def backward(self, out: Any, gradient: Any = None, retain_graph: Any = None, create_graph: bool = False) -> None:
        if gradient is None and out.numel() != 1:
            gradient = torch.ones_like(out)
        super().backward(out, gradient, retain_graph, create_graph)


class DetachKeepsGraph(_Broken):
    """detach() returns the tensor itself, so gradient still flows through it."""

    def detach(self, t: Any) -> Any:
        return t


class GradInFloat64(_Broken):
    """.grad of float32 leaves is float64 (the engine accumulates in double and never casts back)."""

    def grad_tensor(self, t: Any) -> Any:
        g = super().grad_tensor(t)
        return None if g is None else g.double()


class HookReturnIgnored(_Broken):
    """A hook is called, but its return value does not replace the gradient."""

    def register_hook(self, t: Any, fn: Any) -> Any:
        return t.register_hook(lambda g: (fn(g), None)[1])


class _SoftmaxDim0(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, dim: int) -> torch.Tensor:
        y = torch.softmax(x, dim)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx: Any, g: torch.Tensor) -> tuple[torch.Tensor, None]:
        (y,) = ctx.saved_tensors
        d = 0 if y.dim() else None  # the bug: the reduction always runs over dim 0
        s = (g * y).sum(dim=d, keepdim=True) if d is not None else g * y
        return y * (g - s), None


class SoftmaxBackwardWrongDim(_Broken):
    """softmax's backward reduces over dim 0 whatever dim was used (right only for dim 0 / 1-D)."""

    def apply(self, op: str, inputs: Sequence[Any], params: dict[str, Any]) -> Any:
        if op == "softmax":
            return _SoftmaxDim0.apply(inputs[0], params["dim"])
        return super().apply(op, inputs, params)


class GradOverwrittenNotAccumulated(_Broken):
    """Each backward overwrites .grad instead of adding to it."""

    def __init__(self) -> None:
        super().__init__()
        self._leaves: "weakref.WeakSet[torch.Tensor]" = weakref.WeakSet()

    def leaf(self, value: Any, dtype: str, requires_grad: bool) -> Any:
        t = super().leaf(value, dtype, requires_grad)
        self._leaves.add(t)
        return t

    def backward(self, out: Any, gradient: Any = None, retain_graph: Any = None, create_graph: bool = False) -> None:
        for t in list(self._leaves):
            t.grad = None
        super().backward(out, gradient, retain_graph, create_graph)


class _SinFirstOrderOnly(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, x: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(x)
        return torch.sin(x)

    @staticmethod
    def backward(ctx: Any, g: torch.Tensor) -> torch.Tensor:
        (x,) = ctx.saved_tensors
        return g * torch.cos(x).detach()  # the bug: cos(x) is treated as a constant


class SinBackwardNotDifferentiable(_Broken):
    """sin's backward is right, but is not itself differentiated w.r.t. x (double backward misses -sin)."""

    def apply(self, op: str, inputs: Sequence[Any], params: dict[str, Any]) -> Any:
        return _SinFirstOrderOnly.apply(inputs[0]) if op == "sin" else super().apply(op, inputs, params)


# -- rules that once let deviations through (issue 13 item 7) --------------------------------
class _Tracked:
    """Tensors an engine remembers, by identity and weakly (a WeakSet would compare tensors with ==)."""

    def __init__(self) -> None:
        self._refs: list[weakref.ref] = []

    def add(self, t: torch.Tensor) -> None:
        self._refs = [r for r in self._refs if r() is not None] + [weakref.ref(t)]

    def __iter__(self) -> Iterator[torch.Tensor]:
        return iter([t for t in (r() for r in self._refs) if t is not None])


class _RemembersLeaves(_Broken):
    def __init__(self) -> None:
        super().__init__()
        self._leaves = _Tracked()  # the leaves requiring grad built since the last backward

    def leaf(self, value: Any, dtype: str, requires_grad: bool) -> Any:
        t = super().leaf(value, dtype, requires_grad)
        if requires_grad:
            self._leaves.add(t)
        return t


class UnusedLeafGetsZeros(_RemembersLeaves):
    """backward() gives every leaf requiring grad a .grad, zeros where the output does not depend on it
    (micrograd-style engines initialise every grad to 0); torch leaves an unused leaf's .grad None."""

    def backward(self, out: Any, gradient: Any = None, retain_graph: Any = None, create_graph: bool = False) -> None:
        leaves, self._leaves = self._leaves, _Tracked()
        super().backward(out, gradient, retain_graph, create_graph)
        for t in leaves:
            if t.grad is None:
                t.grad = torch.zeros_like(t)


class UnusedLeafRaises(_RemembersLeaves):
    """backward() raises when a leaf requiring grad built since the last backward got no gradient
    (like DistributedDataParallel's unused-parameter error); torch leaves such a leaf's .grad None."""

    def backward(self, out: Any, gradient: Any = None, retain_graph: Any = None, create_graph: bool = False) -> None:
        leaves, self._leaves = self._leaves, _Tracked()
        super().backward(out, gradient, retain_graph, create_graph)
        if any(t.grad is None for t in leaves):
            raise RuntimeError("a leaf requiring grad received no gradient")


class NoGradResultsRequireGrad(_Broken):
    """Op results built under no_grad are untracked (no grad_fn) but keep requires_grad=True of their
    inputs, so they are leaves requiring grad: used later in a graph, they receive a .grad."""

    def __init__(self) -> None:
        super().__init__()
        self._no_grad_depth = 0  # the engine's own grad mode, which its ops consult

    @contextmanager
    def no_grad(self) -> Iterator[None]:
        self._no_grad_depth += 1
        try:
            with torch.no_grad():
                yield
        finally:
            self._no_grad_depth -= 1

    def apply(self, op: str, inputs: Sequence[Any], params: dict[str, Any]) -> Any:
        out = super().apply(op, inputs, params)
        if self._no_grad_depth and any(isinstance(t, torch.Tensor) and t.requires_grad for t in inputs):
            out = out.detach().requires_grad_(True)
        return out


class RetainGradSwitchRetainsAll(_Broken):
    """retain_grad() is a global switch: asked for one tensor, it makes every op result (intermediates
    and the output) keep its .grad."""

    def __init__(self) -> None:
        super().__init__()
        self._results = _Tracked()

    def apply(self, op: str, inputs: Sequence[Any], params: dict[str, Any]) -> Any:
        out = super().apply(op, inputs, params)
        if isinstance(out, torch.Tensor):
            self._results.add(out)
        return out

    def retain_grad(self, t: Any) -> None:
        t.retain_grad()
        for r in self._results:
            if r.requires_grad and not r.is_leaf:
                r.retain_grad()


class RetainedGradOverwritten(_Broken):
    """A retained intermediate's .grad is overwritten by each backward instead of accumulated
    (leaves accumulate correctly), so a second retain_graph=True backward halves it vs torch."""

    def __init__(self) -> None:
        super().__init__()
        self._retained = _Tracked()

    def retain_grad(self, t: Any) -> None:
        t.retain_grad()
        if not t.is_leaf:  # retain_grad() on a leaf is a no-op: its .grad accumulates as usual
            self._retained.add(t)

    def backward(self, out: Any, gradient: Any = None, retain_graph: Any = None, create_graph: bool = False) -> None:
        for t in self._retained:
            t.grad = None
        super().backward(out, gradient, retain_graph, create_graph)


def _array_after_ellipsis(index: Any) -> bool:
    seen = False
    for i in index if isinstance(index, tuple) else (index,):
        seen = seen or i is Ellipsis
        if seen and isinstance(i, np.ndarray):
            return True
    return False


class _IndexAssignBackward(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, index: tuple) -> torch.Tensor:
        ctx.shape, ctx.index = x.shape, index
        return x[index].clone()

    @staticmethod
    def backward(ctx: Any, g: torch.Tensor) -> tuple[torch.Tensor, None]:
        grad = g.new_zeros(ctx.shape)
        grad[ctx.index] = g  # the bug: assignment, so a repeated index keeps one contribution, not their sum
        return grad, None


class IndexAfterEllipsisOverwrites(_Broken):
    """x[..., idx] with an integer array after an Ellipsis takes a second backward path that assigns the
    gradient instead of accumulating it: repeated indices (x[..., [0, 0]]) lose all but one contribution.
    The common path (no Ellipsis before the array) accumulates correctly."""

    def apply(self, op: str, inputs: Sequence[Any], params: dict[str, Any]) -> Any:
        if op == "index" and _array_after_ellipsis(params["index"]):
            index = tuple(torch.as_tensor(i) if isinstance(i, np.ndarray) else i for i in params["index"])
            return _IndexAssignBackward.apply(inputs[0], index)
        return super().apply(op, inputs, params)


class _AmaxAllFortran(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, keepdim: bool) -> torch.Tensor:
        ctx.save_for_backward(x)
        return torch.amax(x, dim=None, keepdim=keepdim)

    @staticmethod
    def backward(ctx: Any, g: torch.Tensor) -> tuple[torch.Tensor, None]:
        (x,) = ctx.saved_tensors
        flat = int(torch.argmax(x.reshape(-1)))
        where = np.unravel_index(flat, tuple(x.shape), order="F")  # the bug: the flat index is row-major
        grad = torch.zeros_like(x)
        grad[tuple(int(i) for i in where)] = g.sum()
        return grad, None


class AmaxAllDimsColumnMajor(_Broken):
    """amax(x, dim=None) -- over every dim, a form torch accepts -- sends the gradient to the maximum's
    flat index unravelled in column-major order: right for 0-d and 1-d inputs, wrong for most matrices.
    The dim=int and tuple paths are torch's own."""

    def apply(self, op: str, inputs: Sequence[Any], params: dict[str, Any]) -> Any:
        if op == "amax" and params["dim"] is None:
            return _AmaxAllFortran.apply(inputs[0], params["keepdim"])
        return super().apply(op, inputs, params)

#: engine class -> (ops, properties) of the cells that must flag it
BROKEN: dict[type, tuple[list[str] | None, list[str]]] = {
    SinBackwardOff: (["sin"], ["grad_vs_torch"]),
    ExpFloat32RoundTrip: (["exp"], ["grad_vs_torch"]),
    AddDropsBroadcastReduction: (["add"], ["grad_vs_numerical"]),
    ReluWrongForLargeInputs: (["relu"], ["grad_vs_numerical"]),
    LosesReusedContribution: (["mul"], ["grad_vs_numerical"]),
    FillsNonLeafGrad: (None, ["leaf_rule"]),
    NoGradNotRestoredOnError: (None, ["grad_mode_exception"]),
    RetainGradIgnored: (None, ["retain_grad"]),
    BackwardAlwaysRetainsGraph: (None, ["second_backward"]),
    ImplicitOnesForNonScalar: (None, ["implicit_nonscalar"]),
    DetachKeepsGraph: (None, ["detach"]),
    GradInFloat64: (["mul"], ["grad_dtype_shape"]),
    HookReturnIgnored: (None, ["hooks"]),
    SoftmaxBackwardWrongDim: (["softmax"], ["grad_vs_numerical"]),
    GradOverwrittenNotAccumulated: (None, ["accumulation"]),
    SinBackwardNotDifferentiable: (["sin"], ["higher_order"]),
    UnusedLeafGetsZeros: (None, ["leaf_rule"]),
    UnusedLeafRaises: (None, ["leaf_rule"]),
    NoGradResultsRequireGrad: (None, ["no_grad"]),
    RetainGradSwitchRetainsAll: (None, ["retain_grad"]),
    RetainedGradOverwritten: (None, ["retain_grad"]),
    IndexAfterEllipsisOverwrites: (["index"], ["grad_vs_torch"]),
    AmaxAllDimsColumnMajor: (["amax"], ["grad_vs_torch"]),
}


class NaiveSoftmax(_Broken):
    """softmax as exp(x) / sum(exp(x)), without subtracting the max first: right for moderate logits, NaN once
    exp overflows (logits ~ 1e3 in float64, ~ 89 in float32) -- the textbook formula; only `stability` sees it."""

    def apply(self, op: str, inputs: Sequence[Any], params: dict[str, Any]) -> Any:
        if op == "softmax":
            e = torch.exp(inputs[0])
            return e / e.sum(dim=params["dim"], keepdim=True)
        return super().apply(op, inputs, params)


BROKEN[NaiveSoftmax] = (["softmax"], ["stability"])
