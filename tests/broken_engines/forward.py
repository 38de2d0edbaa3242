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
        return t * torch.cos(x) * (1 + 1e-3)


class SinJvpOff(_Broken):
    """sin's forward-mode derivative off by 1e-4 relative, its backward right: two rules written
    apart (as torch's derivatives.yaml has a forward and a backward formula per op) that drifted.
    Reverse-mode properties cannot see it; finite differences miss it in float32."""

    def apply(self, op: str, inputs: Sequence[Any], params: dict[str, Any]) -> Any:
        return _SinJvpOff.apply(inputs[0]) if op == "sin" else super().apply(op, inputs, params)


class _NormalizeJvpOff(torch.autograd.Function):
    """normalize (p = 2) with the right backward and a forward-mode rule off by 1e-3 relative."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, dim: int) -> torch.Tensor:
        ctx.save_for_backward(x)
        ctx.save_for_forward(x)
        ctx.dim = dim
        return torch.nn.functional.normalize(x, p=2.0, dim=dim)

    @staticmethod
    def _rule(x: torch.Tensor, t: torch.Tensor, dim: int) -> torch.Tensor:
        # d(x / |x|) t = t / |x| - x (x . t) / |x|^3: symmetric, so forward and backward share it
        n = x.norm(dim=dim, keepdim=True)
        return t / n - x * (x * t).sum(dim=dim, keepdim=True) / n ** 3

    @staticmethod
    def backward(ctx: Any, g: torch.Tensor) -> tuple[torch.Tensor, None]:
        (x,) = ctx.saved_tensors
        return _NormalizeJvpOff._rule(x, g, ctx.dim), None

    @staticmethod
    def jvp(ctx: Any, t: torch.Tensor, _: None) -> torch.Tensor:
        (x,) = ctx.saved_tensors
        return _NormalizeJvpOff._rule(x, t, ctx.dim) * (1 + 1e-3)


class NormalizeJvpOff(_Broken):
    """normalize's forward-mode derivative off by 1e-3 relative (p = 2), its backward right: on the op
    whose formula cancels terms far larger than its Jacobian, where the transpose rule's rounding
    bound counts those terms (``forward.cancelled_terms``) and must still see a real error."""

    def apply(self, op: str, inputs: Sequence[Any], params: dict[str, Any]) -> Any:
        if op == "normalize" and params["p"] == 2.0:
            return _NormalizeJvpOff.apply(inputs[0], params["dim"])
        return super().apply(op, inputs, params)
