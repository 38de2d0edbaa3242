"""``--engine torch`` (CPU) and ``--engine torch:cuda``: PyTorch through the torch-like adapter.

torch is imported when the adapter is built, never when conformance is imported.
"""
from __future__ import annotations

import importlib
from typing import Any

import numpy as np

from conformance.engines.adapter import Tensor
from conformance.engines.torchlike import DTYPE_NAMES, NP_TYPES, TorchLikeAdapter
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

        # torch's dtypes hash: a dict names them (the torch-like loop compares each name in turn)
        self._dtype_names: dict[Any, str] = {}
        for name in DTYPE_NAMES:
            self._dtype_names.setdefault(getattr(torch, name), name)
        self._from_numpy = {getattr(torch, name): np_type for name, np_type in NP_TYPES.items() if name != "bfloat16"}

    def leaf(self, value: np.ndarray, dtype: str, requires_grad: bool) -> Tensor:
        """A tensor of its own copy of ``value``: ``from_numpy`` (~1 us) where numpy has the dtype, as
        ``torch.tensor`` (~3 us; a leaf per program node, a program per example) otherwise."""
        np_type = self._from_numpy.get(getattr(self.M, dtype, None)) if self.device == "cpu" else None
        if np_type is None:
            return super().leaf(value, dtype, requires_grad)
        return self.M.from_numpy(np.array(value, dtype=np_type)).requires_grad_(requires_grad)

    def dtype_of(self, t: Tensor) -> str:
        name = self._dtype_names.get(t.dtype)
        return name if name is not None else super().dtype_of(t)

    def to_numpy(self, t: Tensor) -> np.ndarray:
        return super().to_numpy(t.cpu() if self.device != "cpu" else t)
