"""A broken engine for forward mode: a wrong Jacobian-vector product next to a correct backward.

Not in ``BROKEN`` (whose cells run at the ci profile with reproducers): forward-mode checks
call the adapter's ``jvp`` with a Python callable, so there is no script to replay;
tests/test_detection_forward_ad.py asserts the catch at the quick profile.
"""
from __future__ import annotations

from typing import Any, Sequence

import torch

from .engines import _Broken


class _SinJvpOff(torch.autograd.Function):
    """sin with the right backward and a forward-mode rule off by 1e-4 relative."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(x)
        ctx.save_for_forward(x)
        return torch.sin(x)

    @staticmethod
    def backward(ctx: Any, g: torch.Tensor) -> torch.Tensor:
        (x,) = ctx.saved_tensors
        return g * torch.cos(x)

    @staticmethod
    def jvp(ctx: Any, t: torch.Tensor) -> torch.Tensor:
        (x,) = ctx.saved_tensors
        return t * torch.cos(x) * (1 + 1e-4)


class SinJvpOff(_Broken):
    """sin's forward-mode derivative off by 1e-4 relative, its backward right: two rules written
    apart (as torch's derivatives.yaml has a forward and a backward formula per op) that drifted.
    Reverse-mode properties cannot see it; finite differences miss it in float32."""

    def apply(self, op: str, inputs: Sequence[Any], params: dict[str, Any]) -> Any:
        return _SinJvpOff.apply(inputs[0]) if op == "sin" else super().apply(op, inputs, params)
