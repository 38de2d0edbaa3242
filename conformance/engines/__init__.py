"""Engines by name.  This is the one place where an engine name becomes an Adapter.

Names: ``torch``, ``torch:cuda``, ``refengine``, ``torchlike:MODULE``, ``package.module:ClassName``.
Importing this package imports no engine; each is imported when resolved.
"""
from __future__ import annotations

import importlib
import inspect
import os
import sys
from typing import Iterable

from conformance.engines.adapter import Adapter
from conformance.errors import ConfigError, closest

BUILTIN = {
    "torch": "PyTorch on CPU (also the float64 oracle)",
    "torch:cuda": "PyTorch on CUDA, where available",
    "refengine": "the project's reference engine",
    "torchlike:MODULE": "any importable module mimicking the torch API",
    "package.module:ClassName": "your own Adapter subclass",
}


# -- third-party engines (conformance/engines/peers; pip install 'autograd-conformance[peers]') --------
PEERS = {
    "micrograd": "conformance.engines.peers.micrograd:MicrogradAdapter",
    "tinygrad": "conformance.engines.peers.tinygrad:TinygradAdapter",
    "mygrad": "conformance.engines.peers.mygrad:MyGradAdapter",
    "autograd": "conformance.engines.peers.hips_autograd:AutogradAdapter",
    "jax": "conformance.engines.peers.jax:JaxAdapter",
    "torch-compile": "conformance.engines.peers.torch_compile:TorchCompileAdapter",
    "torch-compile:inductor": "conformance.engines.peers.torch_compile:InductorAdapter",
    "paddle": "conformance.engines.peers.paddle:PaddleAdapter",
    "tensorflow": "conformance.engines.peers.tensorflow:TensorFlowAdapter",
}
#: what installs each third-party engine (shown by ``conformance list-engines``)
_INSTALL = {"torch-compile": "torch.compile of torch itself (AOTAutograd, aot_eager backend)",
            "torch-compile:inductor": "torch.compile with the inductor backend (needs a C++ compiler)",
            "paddle": "third-party engine (paddle extra)", "tensorflow": "third-party engine (tensorflow extra)"}
BUILTIN.update({k: _INSTALL.get(k, "third-party engine (peers extra)") for k in PEERS})
# -------------------------------------------------------------------------------------------------------

#: modules an engine imports lazily, on first use, in every worker: a run's forkserver imports them once before
#: it forks the workers (runner/processes.py).  torch's forward-mode AD imports torch._dynamo (~1 s) on the
#: first op whose forward gradient is a Python decomposition.
_TORCH_LAZY = ("torch._dynamo",)
WORKER_PRELOADS: dict[str, tuple[str, ...]] = {
    name: _TORCH_LAZY for name in ("torch", "torch:cpu", "torch:cuda", "torchlike:torch", "torch-compile",
                                   "torch-compile:inductor")}


def worker_preloads(name: str) -> tuple[str, ...]:
    """What a worker of engine ``name`` imports sooner or later that is worth importing before the fork."""
    return WORKER_PRELOADS.get(name, ())


def resolve(name: str) -> Adapter:
    """Build the adapter for ``name``; raise ConfigError with a one-line reason otherwise."""
    adapter = _resolve(name)
    adapter.spec = PEERS.get(name, name)  # a name reproducer scripts can import (pkg.mod:Class for peers)
    return adapter


def _resolve(name: str) -> Adapter:
    # each engine is imported only when named: importing conformance imports no engine
    name = PEERS.get(name, name)  # third-party engines: resolved below as package.module:ClassName
    if name in ("torch", "torch:cpu", "torch:cuda"):
        from conformance.engines.torch import TorchAdapter
        return TorchAdapter("cuda" if name.endswith("cuda") else "cpu")
    if name == "refengine":
        from conformance.engines.refengine import RefEngineAdapter
        return RefEngineAdapter()
    if name.startswith("torchlike:"):
        from conformance.engines.torchlike import TorchLikeAdapter
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
        cls = load_adapter_class(name)  # ConfigError: import error, no such class, missing methods
        try:
            adapter = cls()
        except ConfigError:
            raise
        except Exception as e:
            raise ConfigError(f"adapter {name!r} failed to start: {type(e).__name__}: {e}") from None
        if not isinstance(adapter, Adapter):
            raise ConfigError(f"{name!r} is not a conformance.engines.Adapter subclass")
        return adapter
    raise unknown_engine(name, BUILTIN)


def unknown_engine(name: str, builtin: Iterable[str]) -> ConfigError:
    names = [n for n in builtin if n == n.lower()]  # not the placeholders torchlike:MODULE, pkg.mod:Class
    return ConfigError(f"unknown engine {name!r}{closest(name, names)}; use one of conformance list-engines, "
                       "torchlike:MODULE or package.module:ClassName")


def check_engine_name(name: str) -> None:
    """Reject a plain name that is no built-in engine without importing anything (ConfigError)."""
    if ":" not in name and name not in BUILTIN and name not in PEERS:
        raise unknown_engine(name, BUILTIN)


def load_adapter_class(name: str) -> type:
    """The class named by ``package.module:ClassName``, checked to be a complete Adapter."""
    modname, _, clsname = name.partition(":")
    if os.getcwd() not in sys.path and "" not in sys.path:  # like `python -m`: the user's own package
        sys.path.insert(0, os.getcwd())
    try:
        module = importlib.import_module(modname)
    except Exception as e:  # noqa: BLE001 - any import failure is the user's configuration problem
        raise ConfigError(f"cannot import module {modname!r} for engine {name!r}: "
                          f"{type(e).__name__}: {e}") from None
    cls = getattr(module, clsname, None)
    if cls is None:
        found = [n for n, v in vars(module).items() if inspect.isclass(v) and issubclass(v, Adapter)]
        raise ConfigError(f"module {modname!r} has no attribute {clsname!r}{closest(clsname, found)}")
    if not (inspect.isclass(cls) and issubclass(cls, Adapter)):
        raise ConfigError(f"{name!r} is not a conformance.engines.Adapter subclass")
    missing = sorted(getattr(cls, "__abstractmethods__", ()))
    if missing:
        raise ConfigError(f"adapter class {name!r} lacks required methods: {', '.join(missing)} "
                          "(see conformance/engines/adapter.py)")
    return cls


__all__ = ["Adapter", "ConfigError", "resolve", "BUILTIN", "PEERS", "check_engine_name", "load_adapter_class",
           "worker_preloads"]
