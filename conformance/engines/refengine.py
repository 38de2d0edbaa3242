"""``--engine refengine``: the project's reference engine, which exposes the torch-like API."""
from __future__ import annotations

import importlib

from conformance.engines.torchlike import TorchLikeAdapter
from conformance.errors import ConfigError


class RefEngineAdapter(TorchLikeAdapter):
    def __init__(self) -> None:
        try:
            module = importlib.import_module("refengine")
        except Exception as e:  # a broken build must read as a config error, not a crash
            raise ConfigError(f"cannot import refengine: {type(e).__name__}: {e}") from None
        super().__init__(module, name="refengine")
