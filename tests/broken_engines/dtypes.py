"""Broken engines for the dtype properties: each gets one op's dtype wrong, as numpy-based engines do."""
from __future__ import annotations

from typing import Any, Sequence

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
