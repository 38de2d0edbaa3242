"""Engines whose failures belong to different parties (tests/test_runner_faults.py).

The engine's own op returning a wrong shape is the engine's fault (a failure of that op),
not the adapter's; an adapter that mistypes its own op table is the adapter's; an oracle
that raises is the harness's.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import torch

from .engines import _Broken


class UnsqueezeAtFront(_Broken):
    """unsqueeze always inserts the new axis first (the engine's bug; its tensors are well formed)."""

    def apply(self, op: str, inputs: Sequence[Any], params: dict[str, Any]) -> Any:
        if op == "unsqueeze":
            return torch.unsqueeze(inputs[0], 0)
        return super().apply(op, inputs, params)


class AdapterTableTypo(_Broken):
    """The adapter looks exp up under a misspelt name: a KeyError in the adapter's own code."""

    TABLE = {"expp": torch.exp}

    def apply(self, op: str, inputs: Sequence[Any], params: dict[str, Any]) -> Any:
        if op == "exp":
            return self.TABLE[op](inputs[0])
        return super().apply(op, inputs, params)


class AdapterReadsAList(_Broken):
    """to_numpy returns a list for float32 tensors: the adapter breaks its contract."""

    def to_numpy(self, t: Any) -> Any:
        arr = super().to_numpy(t)
        return arr.tolist() if arr.dtype == np.float32 and arr.ndim else arr


class UnsqueezeAtFrontBehindShapeOf(UnsqueezeAtFront):
    """The same bug behind a ``shape_of`` that answers unsqueeze's right shape (a lazy engine's shape rule
    that is not what it computes): the values, read later, still show the op's wrong shape."""

    def apply(self, op: str, inputs: Sequence[Any], params: dict[str, Any]) -> Any:
        out = super().apply(op, inputs, params)
        if op == "unsqueeze":
            out.said_shape = tuple(torch.unsqueeze(inputs[0], params["dim"]).shape)
        return out

    def shape_of(self, t: Any) -> tuple[int, ...]:
        return getattr(t, "said_shape", tuple(t.shape))


class ShapeOfLies(_Broken):
    """``shape_of`` answers a leading extra dim for sin's results, whose values are right: the adapter's lie."""

    def apply(self, op: str, inputs: Sequence[Any], params: dict[str, Any]) -> Any:
        out = super().apply(op, inputs, params)
        if op == "sin":
            out.said_shape = (1, *out.shape)
        return out

    def shape_of(self, t: Any) -> tuple[int, ...]:
        return getattr(t, "said_shape", tuple(t.shape))
