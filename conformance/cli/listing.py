"""``conformance list-engines | list-ops [--engine E] [--params] [--ops A,B] | list-properties``."""
from __future__ import annotations

import argparse
from typing import Any

from conformance.checks.properties import PROPERTIES
from conformance.cli.run import split
from conformance.engines import BUILTIN, resolve
from conformance.errors import ConfigError, unknown_name
from conformance.runner.profiles import PROFILES
from conformance.runner.session import hypothesis_storage_outside_cwd
from conformance.spec import signature, user_ops
from conformance.spec.ops import REGISTRY


def add_parsers(sub: Any) -> None:
    sub.add_parser("list-engines", help="list engine names").set_defaults(func=cmd_list_engines)
    lo = sub.add_parser("list-ops", help="list ops")
    lo.add_argument("--engine", help="mark which ops this engine supports")
    lo.add_argument("--ops-from", action="append", metavar="MODULE", help="include user OpSpecs")
    lo.add_argument("--ops", action="append", metavar="A,B", help="only these ops")
    lo.add_argument("--params", action="store_true",
                    help="under each op, its call, inputs and params as Adapter.apply gets them (drawn from its OpSpec)")
    lo.set_defaults(func=cmd_list_ops)
    sub.add_parser("list-properties", help="list properties").set_defaults(func=cmd_list_properties)


def cmd_list_engines(args: argparse.Namespace) -> int:
    for name, doc in BUILTIN.items():
        print(f"{name:28s} {doc}")
    return 0


def cmd_list_ops(args: argparse.Namespace) -> int:
    user_ops.load(split(args.ops_from) or [])
    adapter = resolve(args.engine) if args.engine else None
    chosen = split(args.ops) or list(REGISTRY)
    for name in chosen:
        if name not in REGISTRY:
            raise ConfigError(unknown_name("op", name, REGISTRY, "list-ops"))
    if args.params:
        print(signature.CONVENTIONS.replace("SAMPLES", str(signature.SAMPLES)) + "\n")
    n = 0
    for spec in (REGISTRY[name] for name in chosen):
        origin = user_ops.USER_OPS.get(spec.name, "")
        torch_eq = spec.torch_equivalent or "(no torch equivalent)"
        where = f"  [{origin}]" if origin else ""
        if adapter is None:
            print(f"{spec.name:14s} {spec.family:12s} {torch_eq}{where}")
        else:
            ok = adapter.has_op(spec.name)
            n += ok
            print(f"{spec.name:14s} {spec.family:12s} {'supported' if ok else 'missing':10s} {torch_eq}{where}")
        if args.params:
            with hypothesis_storage_outside_cwd():  # drawing samples must not leave .hypothesis/ in the cwd
                print("\n".join(signature.describe(spec).lines()))
    if adapter is not None:
        print(f"{adapter.name}: {n}/{len(chosen)} registry ops supported")
    return 0


def cmd_list_properties(args: argparse.Namespace) -> int:
    """One line per property, then its declared needs, indented (what makes it not-applicable)."""
    for p in PROPERTIES.values():
        scope = "per-op" if p.per_op else "any-op"
        print(f"{p.name:22s} {p.family:11s} {scope:7s} {p.doc}")
        needs = [("capabilities", p.capabilities), ("adapter methods", p.methods), ("helper ops", p.helper_ops),
                 ("oracles", p.oracles)]
        if set(p.profiles) != set(PROFILES):
            needs.append(("profiles", p.profiles))
        shown = "; ".join(f"{what}: {', '.join(sorted(names))}" for what, names in needs if names)
        print(f"{'':42s} {shown}")
    return 0
