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
