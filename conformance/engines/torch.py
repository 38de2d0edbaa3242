"""``--engine torch`` (CPU) and ``--engine torch:cuda``: PyTorch through the torch-like adapter.

torch is imported when the adapter is built, never when conformance is imported.
"""
from __future__ import annotations

import importlib
from typing import Any

import numpy as np

from conformance.engines.adapter import Tensor
from conformance.engines.torchlike import TorchLikeAdapter
from conformance.errors import ConfigError


class _DeviceNamespace:
    """torch, except that ``tensor(...)`` lands on ``device`` (so params/indices follow the inputs)."""

    def __init__(self, torch: Any, device: str) -> None:
        self._torch, self._device = torch, device

    def __getattr__(self, name: str) -> Any:
        return getattr(self._torch, name)

    def tensor(self, *args: Any, **kwargs: Any) -> Any:
        return self._torch.tensor(*args, device=self._device, **kwargs)


class TorchAdapter(TorchLikeAdapter):
    def __init__(self, device: str = "cpu") -> None:
        try:
            torch = importlib.import_module("torch")
        except ImportError as e:
            raise ConfigError(f"--engine torch needs PyTorch installed ({e})") from None
        if device not in ("cpu", "cuda"):
            raise ConfigError(f"unknown torch device {device!r} (use torch or torch:cuda)")
        if device == "cuda" and not torch.cuda.is_available():
            raise ConfigError("--engine torch:cuda: CUDA is not available on this machine")
        # the harness's tensors are tiny: intra-op threads only add contention on a shared machine
        torch.set_num_threads(1)
        module = torch if device == "cpu" else _DeviceNamespace(torch, device)
        super().__init__(module, name="torch" if device == "cpu" else f"torch:{device}")
        self.device = device

    def to_numpy(self, t: Tensor) -> np.ndarray:
        return super().to_numpy(t.cpu() if self.device != "cpu" else t)
