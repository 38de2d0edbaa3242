"""Adapters for third-party autograd engines (``pip install 'autograd-conformance[peers]'``).

One module per engine; each imports its engine when the adapter is built and raises
ConfigError with a one-line install hint when the package is absent.  Engines that change
process-wide state (tinygrad: the recursion limit; jax: x64 mode) should be run in their
own process (one ``conformance run`` per engine).
"""
from __future__ import annotations

import importlib
from typing import Any

from conformance.errors import ConfigError

HINT = "pip install 'autograd-conformance[peers]'"


def require(module: str, engine: str) -> Any:
    """Import ``module`` or raise ConfigError with the install hint."""
    try:
        return importlib.import_module(module)
    except ImportError as e:
        raise ConfigError(f"--engine {engine} needs the {module!r} package ({HINT}): {e}") from None
