"""Broken engines for the comparison property: each gets one comparison's result wrong, as engines that
treat every op alike do (one output type, one requires_grad rule)."""
from __future__ import annotations

from typing import Any, Sequence

import torch

from .engines import _Broken


class LtReturnsFloat(_Broken):
    """lt returns 0.0 / 1.0 in its operands' float dtype instead of bool (an engine whose every op returns a
    float array, as a numpy-backed engine that casts results does); the values are right.  eq, gt and
    every other op are torch's."""

    def apply(self, op: str, inputs: Sequence[Any], params: dict[str, Any]) -> Any:
        if op == "lt":
            a, b = inputs
            return torch.lt(a, b).to(torch.promote_types(a.dtype, b.dtype))
        return super().apply(op, inputs, params)


class GtRequiresGrad(_Broken):
    """gt's result is a bool tensor the engine marks as requiring grad (an engine that sets every op's
    output flag from its inputs', comparisons included), where torch records no graph for a comparison.
    torch cannot make a bool tensor that requires grad, so the mark is kept beside the tensor and read by
    ``requires_grad``; eq, lt and every other op are torch's."""

    def apply(self, op: str, inputs: Sequence[Any], params: dict[str, Any]) -> Any:
        out = super().apply(op, inputs, params)
        if op == "gt" and any(isinstance(t, torch.Tensor) and t.requires_grad for t in inputs):
            out._marked_requires_grad = True  # type: ignore[attr-defined]
        return out

    def requires_grad(self, t: Any) -> bool:
        return bool(getattr(t, "_marked_requires_grad", False)) or super().requires_grad(t)
