"""Broken engines for the dtype properties: each gets one op's dtype wrong, as numpy-based engines do."""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import torch

from .engines import _Broken


class MulScalarUpcasts(_Broken):
    """A float32 tensor times a Python float is float64: the Python number taken as a float64 array
    (numpy's rule before NEP 50), so the float32 operand is widened.  torch keeps float32 (a Python
    number is a "weak" scalar).  Every other op, and mul of tensors, is torch's."""

    def apply(self, op: str, inputs: Sequence[Any], params: dict[str, Any]) -> Any:
        if op == "mul" and any(type(v) is float for v in inputs):
            widened = [v.double() if isinstance(v, torch.Tensor) and v.dtype == torch.float32 else v for v in inputs]
            return torch.mul(*widened)
        return super().apply(op, inputs, params)


class _RaisesInBackward(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, y: torch.Tensor) -> torch.Tensor:
        return y.clone()

    @staticmethod
    def backward(ctx: Any, g: torch.Tensor) -> torch.Tensor:
        raise TypeError("log does not accept dtype int64")


class MulIntBackwardRaises(_Broken):
    """mul of a float tensor with an int64 tensor runs forward (promoted, torch's dtype and values) but its
    backward raises, as a derivative rule that uses the integer operand before promoting it does (jax's
    xlogy, J1 in docs/findings.md).  The failure is in the backward only: a reproducer that checks the
    forward dtype alone passes."""

    def apply(self, op: str, inputs: Sequence[Any], params: dict[str, Any]) -> Any:
        out = super().apply(op, inputs, params)
        ints = any(isinstance(v, torch.Tensor) and v.dtype == torch.int64 for v in inputs)
        return _RaisesInBackward.apply(out) if op == "mul" and ints and out.requires_grad else out


class IntegerRequiresGradIgnored(_Broken):
    """``requires_grad=True`` on an integer tensor is dropped silently (the tensor is made, and never
    gets a gradient), where torch raises: a user asking for d/d(indices) learns nothing."""

    def integer_leaf(self, value: Any, dtype: str, requires_grad: bool = False) -> Any:
        return super().integer_leaf(value, dtype, False)


class SumKeepsInt32(_Broken):
    """sum of an int32 (or bool) tensor keeps int32 (numpy on Windows before 2.0: the platform long is
    32 bits), where torch sums integers into int64: large sums overflow."""

    def apply(self, op: str, inputs: Sequence[Any], params: dict[str, Any]) -> Any:
        out = super().apply(op, inputs, params)
        if op == "sum" and isinstance(inputs[0], torch.Tensor) and inputs[0].dtype in (torch.int32, torch.bool):
            return out.to(torch.int32)
        return out


class SumAccumulatesInHalf(_Broken):
    """sum of a float16 tensor adds its elements one after another into a float16 accumulator (numpy's
    ``add.accumulate`` in float16, as a naive half kernel does), where torch accumulates in float32 and rounds
    once: a sum of thousands of elements is off by many units in the last place.  The gradient is sum's;
    every other op, and sum in other dtypes, is torch's."""

    def apply(self, op: str, inputs: Sequence[Any], params: dict[str, Any]) -> Any:
        out = super().apply(op, inputs, params)
        x = inputs[0] if inputs else None
        if op != "sum" or not isinstance(x, torch.Tensor) or x.dtype != torch.float16 or x.ndim == 0:
            return out
        dim, keepdim = params.get("dim"), bool(params.get("keepdim", False))
        given = dim if isinstance(dim, tuple) else (dim,)
        dims = tuple(range(x.ndim)) if dim is None else tuple(d % x.ndim for d in given)
        kept = [d for d in range(x.ndim) if d not in dims]
        a = x.detach().numpy().transpose(kept + list(dims)).reshape([x.shape[d] for d in kept] + [-1])
        acc = np.add.accumulate(a, axis=-1, dtype=np.float16)[..., -1] if a.shape[-1] else np.zeros(a.shape[:-1])
        naive = torch.from_numpy(np.ascontiguousarray(acc, dtype=np.float16)).reshape(out.shape)
        return out + (naive - out).detach()  # the naive value, with sum's gradient


class TanhHalfUpcasts(_Broken):
    """tanh of a float16 tensor is computed and returned in float32 (a kernel without a half version, its
    result never cast back); bfloat16 and every other op are torch's."""

    def apply(self, op: str, inputs: Sequence[Any], params: dict[str, Any]) -> Any:
        if op == "tanh" and inputs[0].dtype == torch.float16:
            return torch.tanh(inputs[0].float())
        return super().apply(op, inputs, params)
