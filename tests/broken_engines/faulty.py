"""Engines that crash, hang, lie or raise in ONE op each (tests/test_runner_workers.py, tests/test_cli_errors.py).

``Faulty`` is torch except: ``sin`` segfaults (a NULL read through ctypes, like a buggy C
extension), ``cos`` hangs, ``exp`` returns a tensor of the wrong shape, ``sigmoid`` raises, and
``log`` calls ``os._exit(3)``.  Every other op is torch's, so it must still be checked and pass.
"""
from __future__ import annotations

import ctypes
import os
import time
from typing import Any, Sequence

import torch

from conformance.engines.adapter import Adapter
from conformance.engines.torch import TorchAdapter


class Faulty(TorchAdapter):
    """One fault per op; see the module docstring."""

    def __init__(self) -> None:
        super().__init__("cpu")
        self.name = "faulty"

    def apply(self, op: str, inputs: Sequence[Any], params: dict[str, Any]) -> Any:
        if op == "sin":
            ctypes.string_at(0)  # SIGSEGV
        if op == "cos":
            while True:
                time.sleep(0.05)
        if op == "sigmoid":
            raise ValueError("sigmoid kernel missing")
        if op == "log":
            os._exit(3)
        out = super().apply(op, inputs, params)
        if op == "exp":
            return torch.cat([out.reshape(-1), out.reshape(-1)])  # twice as many elements: a lie
        return out


class _NanSqrt(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, x: torch.Tensor) -> torch.Tensor:
        return torch.sqrt(x)

    @staticmethod
    def backward(ctx: Any, g: torch.Tensor) -> torch.Tensor:
        return g * torch.nan


class NanGradient(TorchAdapter):
    """sqrt's backward returns NaN (a 0/0 in a hand-written derivative)."""

    def __init__(self) -> None:
        super().__init__("cpu")
        self.name = "nan-gradient"

    def apply(self, op: str, inputs: Sequence[Any], params: dict[str, Any]) -> Any:
        return _NanSqrt.apply(inputs[0]) if op == "sqrt" else super().apply(op, inputs, params)


class Slow(TorchAdapter):
    """Correct but slow (0.2 s per op), so a test can signal a run while it is in progress."""

    def __init__(self) -> None:
        super().__init__("cpu")
        self.name = "slow"

    def apply(self, op: str, inputs: Sequence[Any], params: dict[str, Any]) -> Any:
        time.sleep(0.2)
        return super().apply(op, inputs, params)


class Incomplete(Adapter):
    """An adapter class that forgot most of the protocol (bad-input test: 'lacks required methods')."""

    def leaf(self, value: Any, dtype: str, requires_grad: bool) -> Any:
        return value


class NoOps(TorchAdapter):
    """torch that claims no op at all: every cell of a run is not-applicable."""

    def has_op(self, op: str) -> bool:
        return False


class Spins(TorchAdapter):
    """``tan`` never returns and keeps a core busy (a spinning loop, not a sleep)."""

    def __init__(self) -> None:
        super().__init__("cpu")
        self.name = "spins"

    def apply(self, op: str, inputs: Sequence[Any], params: dict[str, Any]) -> Any:
        while op == "tan":
            pass
        return super().apply(op, inputs, params)


class Descheduled(TorchAdapter):
    """Correct, but its first ``tan`` takes 4.5 s of wall time while getting a third of a core
    (0.1 s of work, 0.2 s off the CPU), as a process does on a loaded machine."""

    def __init__(self) -> None:
        super().__init__("cpu")
        self.name = "descheduled"
        self.first = True

    def apply(self, op: str, inputs: Sequence[Any], params: dict[str, Any]) -> Any:
        if op == "tan" and self.first:
            self.first = False
            end = time.monotonic() + 4.5
            while time.monotonic() < end:
                busy = time.process_time() + 0.1
                while time.process_time() < busy:
                    pass
                time.sleep(0.2)
        return super().apply(op, inputs, params)
