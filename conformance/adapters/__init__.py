"""Engines by name.  This is the one place where an engine name becomes an Adapter.

Names: ``torch``, ``torch:cuda``, ``refengine``, ``torchlike:MODULE``, ``package.module:ClassName``.
Importing this package imports no engine; each is imported when resolved.
"""
from __future__ import annotations

import importlib

from .base import Adapter, ConfigError

BUILTIN = {
    "torch": "PyTorch on CPU (also the float64 oracle)",
    "torch:cuda": "PyTorch on CUDA, where available",
    "refengine": "the project's reference engine",
    "torchlike:MODULE": "any importable module mimicking the torch API",
    "package.module:ClassName": "your own Adapter subclass",
}


# -- third-party engines (conformance/adapters/peers; pip install 'autograd-conformance[peers]') --------
PEERS = {
    "micrograd": "conformance.adapters.peers.micrograd:MicrogradAdapter",
    "tinygrad": "conformance.adapters.peers.tinygrad:TinygradAdapter",
    "mygrad": "conformance.adapters.peers.mygrad:MyGradAdapter",
    "autograd": "conformance.adapters.peers.hips_autograd:AutogradAdapter",
    "jax": "conformance.adapters.peers.jax:JaxAdapter",
}
BUILTIN.update({k: "third-party engine (peers extra)" for k in PEERS})
# -------------------------------------------------------------------------------------------------------


def resolve(name: str) -> Adapter:
    """Build the adapter for ``name``; raise ConfigError with a one-line reason otherwise."""
    adapter = _resolve(name)
    adapter.spec = PEERS.get(name, name)  # a name reproducer scripts can import (pkg.mod:Class for peers)
    return adapter


def _resolve(name: str) -> Adapter:
    name = PEERS.get(name, name)  # third-party engines: resolved below as package.module:ClassName
    if name in ("torch", "torch:cpu", "torch:cuda"):
        from .torch import TorchAdapter
        return TorchAdapter("cuda" if name.endswith("cuda") else "cpu")
    if name == "refengine":
        from .refengine import RefEngineAdapter
        return RefEngineAdapter()
    if name.startswith("torchlike:"):
        from .torchlike import TorchLikeAdapter
        modname = name.split(":", 1)[1]
        try:
            module = importlib.import_module(modname)
        except Exception as e:
            raise ConfigError(f"cannot import {modname!r}: {type(e).__name__}: {e}") from None
        try:
            return TorchLikeAdapter(module, name=name)
        except Exception as e:
            raise ConfigError(f"{modname!r} does not behave like torch: {type(e).__name__}: {e}") from None
    if ":" in name:
        from ..userinput import load_adapter_class
        cls = load_adapter_class(name)  # ConfigError: import error, no such class, missing methods
        try:
            adapter = cls()
        except ConfigError:
            raise
        except Exception as e:
            raise ConfigError(f"adapter {name!r} failed to start: {type(e).__name__}: {e}") from None
        if not isinstance(adapter, Adapter):
            raise ConfigError(f"{name!r} is not a conformance.adapters.base.Adapter subclass")
        return adapter
    from ..userinput import unknown_engine
    raise unknown_engine(name, BUILTIN)


__all__ = ["Adapter", "ConfigError", "resolve", "BUILTIN"]
