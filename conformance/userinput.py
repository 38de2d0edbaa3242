"""Bad user input -> one clear line (the CLI prints it on stderr and exits 2).

Every function here raises ``ConfigError`` (engines) or ``ValueError`` (anything else)
whose message is the whole explanation: the name that was wrong and the closest valid
one, the import error of a module, the methods an adapter class lacks, the file and
line of a malformed input file, or why a report directory cannot be written.
"""
from __future__ import annotations

import difflib
import importlib
import inspect
import os
import pathlib
import sys
import tempfile
from typing import Any, Iterable

from .adapters.base import Adapter, ConfigError

__all__ = ["closest", "unknown_name", "unknown_engine", "load_adapter_class", "check_report_dir",
           "load_json_or_toml", "entry_line"]


def closest(name: str, choices: Iterable[str]) -> str:
    """' (did you mean 'sin'?)' for the closest choice, or '' when nothing is close."""
    match = difflib.get_close_matches(name, list(choices), n=1, cutoff=0.6)
    return f" (did you mean {match[0]!r}?)" if match else ""


def unknown_name(kind: str, name: str, choices: Iterable[str], listing: str) -> str:
    """"unknown op 'sinn' (did you mean 'sin'?); see conformance list-ops"."""
    return f"unknown {kind} {name!r}{closest(name, choices)}; see conformance {listing}"


def unknown_engine(name: str, builtin: Iterable[str]) -> ConfigError:
    names = [n for n in builtin if n == n.lower()]  # not the placeholders torchlike:MODULE, pkg.mod:Class
    return ConfigError(f"unknown engine {name!r}{closest(name, names)}; use one of conformance list-engines, "
                       "torchlike:MODULE or package.module:ClassName")


def check_engine_name(name: str) -> None:
    """Reject a plain name that is no built-in engine without importing anything (ConfigError)."""
    from .adapters import BUILTIN, PEERS
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
        raise ConfigError(f"{name!r} is not a conformance.adapters.base.Adapter subclass")
    missing = sorted(getattr(cls, "__abstractmethods__", ()))
    if missing:
        raise ConfigError(f"adapter class {name!r} lacks required methods: {', '.join(missing)} "
                          "(see conformance/adapters/base.py)")
    return cls


def check_report_dir(path: str | os.PathLike[str]) -> None:
    """Create ``path`` if needed and prove a file can be written there (before any engine runs)."""
    p = pathlib.Path(path)
    try:
        p.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=p, prefix=".write-test.")
        os.close(fd)
        os.unlink(tmp)
    except OSError as e:
        raise ValueError(f"cannot write the report to {p}: {e.strerror or e}") from None


def load_json_or_toml(path: pathlib.Path) -> Any:
    """Parse a TOML (or ``.json``) file; ValueError names the file, line and what was expected."""
    import json
    import tomllib

    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ValueError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as e:
        raise ValueError(f"{path}: cannot read: {getattr(e, 'strerror', None) or e}") from None
    try:
        return json.loads(text) if path.suffix == ".json" else tomllib.loads(text)
    except json.JSONDecodeError as e:
        raise ValueError(f"{path}:{e.lineno}: invalid JSON: {e.msg} (column {e.colno})") from None
    except tomllib.TOMLDecodeError as e:
        raise ValueError(f"{path}: invalid TOML: {e}") from None


def entry_line(text: str, k: int) -> str:
    """':LINE' of the k-th (0-based) ``[[deviation]]`` table in a TOML text, or '' if not found."""
    lines = [i + 1 for i, line in enumerate(text.splitlines()) if line.strip().startswith("[[deviation")]
    return f":{lines[k]}" if k < len(lines) else ""
