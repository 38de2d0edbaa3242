"""User op specs: extra OpSpecs from the user's code (``--ops-from``) and installed packages.

Convention (documented in docs/new-op.md): a module contributes ops with a module-level
list ``OPS = [OpSpec(...), ...]`` (``SPECS`` is accepted too, as in the registry's family
modules).  An installed package contributes ops through the ``conformance.ops`` entry
point group; the entry point may name a module (its ``OPS`` are used), a list of OpSpecs,
or a function returning one::

    [project.entry-points."conformance.ops"]
    mypkg = "mypkg.conformance_ops"

Loaded specs join ``conformance.spec.ops.REGISTRY``, so every property, the runner, the
replay corpus and the reproducer scripts treat them like built-in ops.  An op whose spec
has no ``torch_equivalent`` is checked against numerical differentiation, its own numpy
forward reference and the engine-internal rules only: the properties that declare a torch
oracle (``@prop(..., oracles={"torch-float64"})``) report it not-applicable, and any-op
rules that consult torch do not draw it.
"""
from __future__ import annotations

import importlib
import os
import sys
from importlib import metadata
from typing import Any, Iterable, Sequence

from conformance.errors import ConfigError
from conformance.spec.ops import REGISTRY
from conformance.spec.opspec import OpSpec

ENTRY_POINT_GROUP = "conformance.ops"
#: modules loaded with --ops-from, for worker processes that rebuild the registry
ENV_VAR = "CONFORMANCE_OPS_FROM"
ENV_ENTRY_POINTS = "CONFORMANCE_OPS_ENTRY_POINTS"

#: op name -> where it came from ("module mypkg.ops", "entry point mypkg")
USER_OPS: dict[str, str] = {}


class UserOpsError(ConfigError):
    """A user op module cannot be used (one line: what was wrong, what was expected)."""


def _specs_of(obj: Any, where: str) -> list[OpSpec]:
    if isinstance(obj, type(os)):  # a module
        specs = getattr(obj, "OPS", getattr(obj, "SPECS", None))
        if specs is None:
            raise UserOpsError(f"{where} defines no OPS list (expected a module-level OPS = [OpSpec(...), ...])")
    elif callable(obj) and not isinstance(obj, OpSpec):
        try:
            specs = obj()
        except Exception as e:  # noqa: BLE001 - user code
            raise UserOpsError(f"{where} raised {type(e).__name__}: {e}") from None
    else:
        specs = obj
    if isinstance(specs, OpSpec):
        specs = [specs]
    if not isinstance(specs, Iterable) or isinstance(specs, (str, bytes, dict)):
        raise UserOpsError(f"{where}: OPS is a {type(specs).__name__}, expected a list of OpSpec")
    out = list(specs)
    for i, s in enumerate(out):
        if not isinstance(s, OpSpec):
            raise UserOpsError(f"{where}: OPS[{i}] is a {type(s).__name__}, expected a conformance.spec.opspec.OpSpec")
        _validate(s, where)
    return out


def _validate(s: OpSpec, where: str) -> None:
    if not isinstance(s.name, str) or not s.name.isidentifier():
        raise UserOpsError(f"{where}: op name {s.name!r} is not an identifier")
    if not isinstance(s.arity, int) or s.arity < 1:
        raise UserOpsError(f"{where}: op {s.name}: arity {s.arity!r}, expected an int >= 1")
    for field_name in ("sample", "reference"):
        if not callable(getattr(s, field_name)):
            raise UserOpsError(f"{where}: op {s.name}: {field_name} is not callable")
    if not (isinstance(s.template, str) or callable(s.template)):
        raise UserOpsError(f"{where}: op {s.name}: template must be a str or a function of the params")


def register(specs: Sequence[OpSpec], where: str) -> list[str]:
    """Add ``specs`` to the registry; a name already there (built-in or user) is an error, nothing is added."""
    seen: set[str] = set()
    for s in specs:
        if s.name in REGISTRY or s.name in seen:
            origin = USER_OPS.get(s.name, "the built-in registry" if s.name in REGISTRY else where)
            raise UserOpsError(f"{where}: op {s.name!r} is already defined (by {origin}); op names must be unique")
        seen.add(s.name)
    for s in specs:
        REGISTRY[s.name] = s
        USER_OPS[s.name] = where
    return [s.name for s in specs]


def load_module(modname: str) -> list[str]:
    """Import ``modname`` and register its OPS; returns the new op names."""
    if not modname or not all(part.isidentifier() for part in modname.split(".")):
        raise UserOpsError(f"--ops-from {modname!r}: expected a dotted module name such as mypkg.conformance_ops")
    where = f"module {modname}"
    if where in USER_OPS.values():  # loading twice is a no-op
        return [n for n, w in USER_OPS.items() if w == where]
    if os.getcwd() not in sys.path and "" not in sys.path:  # like `python -m`: the user's own package
        sys.path.insert(0, os.getcwd())
    try:
        module = importlib.import_module(modname)
    except Exception as e:  # noqa: BLE001 - whatever the user's import raises
        raise UserOpsError(f"--ops-from {modname}: cannot import it: {type(e).__name__}: {e}") from None
    names = register(_specs_of(module, where), where)
    loaded = [m for m in os.environ.get(ENV_VAR, "").split(",") if m]
    if modname not in loaded:
        os.environ[ENV_VAR] = ",".join(loaded + [modname])
    return names


def load_entry_points() -> list[str]:
    """Register the ops of every installed ``conformance.ops`` entry point."""
    names: list[str] = []
    for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
        where = f"entry point {ep.name} ({ep.value})"
        if where in USER_OPS.values():
            continue
        try:
            obj = ep.load()
        except Exception as e:  # noqa: BLE001
            raise UserOpsError(f"{where}: cannot load it: {type(e).__name__}: {e}") from None
        names += register(_specs_of(obj, where), where)
    if names:
        os.environ[ENV_ENTRY_POINTS] = "1"  # worker processes load them too (load_inherited)
    return names


def load(modules: Sequence[str] | None = None, entry_points: bool = True) -> list[str]:
    """Entry points, then ``modules`` (and those named in $CONFORMANCE_OPS_FROM, for workers)."""
    names = load_entry_points() if entry_points else []
    env = [m for m in os.environ.get(ENV_VAR, "").split(",") if m]
    for m in list(dict.fromkeys(env + list(modules or []))):
        names += load_module(m)
    return names


def unload(names: Iterable[str]) -> None:
    """Remove user ops (tests); built-in ops cannot be removed."""
    for n in list(names):
        if n in USER_OPS:
            where = USER_OPS.pop(n)
            REGISTRY.pop(n, None)
            if where.startswith("module ") and where not in USER_OPS.values():
                mod = where[len("module "):]
                rest = [m for m in os.environ.get(ENV_VAR, "").split(",") if m and m != mod]
                if rest:
                    os.environ[ENV_VAR] = ",".join(rest)
                else:
                    os.environ.pop(ENV_VAR, None)
    if not any(w.startswith("entry point") for w in USER_OPS.values()):
        os.environ.pop(ENV_ENTRY_POINTS, None)



def load_inherited() -> list[str]:
    """In a process started by a run (a worker, a replay child): the run's user ops, as named in the
    environment it inherited ($CONFORMANCE_OPS_FROM, and entry points when the run loaded any)."""
    return load(entry_points=bool(os.environ.get(ENV_ENTRY_POINTS)))
