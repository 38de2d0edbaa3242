"""The plan of a run: which cells it has, how many examples each gets, and which of them an
engine cannot be asked (not-applicable, with the reason) -- decided before any cell runs."""
from __future__ import annotations

import sys
import weakref
from typing import Any, Sequence

from conformance.checks import oracles as O
from conformance.checks.properties import PROPERTIES, Property
from conformance.engines.adapter import COMPILES, Adapter
from conformance.runner.profiles import ANY_OP_FACTOR, Profile
from conformance.runner.results import ANY_OP
from conformance.spec.ops import REGISTRY

Cell = tuple[Property, str, str]  # (property, op, dtype)


def plan(profile: Profile, ops: Sequence[str] | None = None, properties: Sequence[str] | None = None,
         dtypes: Sequence[str] | None = None) -> list[Cell]:
    """The cells of a run, in order: (property, op, dtype).  Any-op properties are one cell (op ``*``).

    A property runs only in the profiles it declares (``mpmath_extreme``: thorough)."""
    selected_ops = list(ops) if ops else list(REGISTRY)
    cells = []
    for name in properties or list(PROPERTIES):
        prop = PROPERTIES[name]
        if profile.name not in prop.profiles:
            continue
        targets = [o for o in selected_ops if prop.applies(o)] if prop.per_op else [ANY_OP]
        cells += [(prop, o, dt) for o in targets for dt in prop.dtypes if not dtypes or dt in dtypes]
    return cells


def uncallable(adapter: Adapter, prop: Property, op: str) -> str | None:
    """Why torch cannot call an op whose OpSpec says it has a torch equivalent, or None.

    Asked where torch must call it: when the property consults the torch oracle, or when torch is
    the engine under test.  A wrong namespace in the spec (``M.softplus`` for
    ``torch.nn.functional.softplus``) would otherwise make those cells not-applicable -- untested,
    and a run of nothing but them a false "conformant" -- so it is an error that says what to fix.
    """
    spec = REGISTRY.get(op)
    if op == ANY_OP or spec is None or not spec.torch_equivalent:
        return None
    engine_is_torch = getattr(adapter, "M", None) is not None and getattr(adapter, "M") is sys.modules.get("torch")
    if not (prop.uses_torch or engine_is_torch):
        return None
    try:
        missing = O.torch_adapter().missing_names(op)
    except Exception:  # noqa: BLE001 - no torch here: the cell itself reports why the oracle cannot run
        return None
    if not missing:
        return None
    names = ", ".join(f"M.{n}" for n in missing)
    return (f"op {op}: its OpSpec names torch equivalent {spec.torch_equivalent!r}, but torch has no {names} "
            f"(template {spec.template_for({})!r}); point the template at the namespace where torch has it "
            "(e.g. M.nn.functional.NAME), or set torch_equivalent='' if torch has no such op")


def not_applicable(adapter: Adapter, prop: Property, op: str, dtype: str) -> str | None:
    """Why ``adapter`` cannot be asked this cell's question, or None when it can.

    Read off the property's declaration; the most basic reason is given first.
    """
    declared = undeclared(adapter, prop, op, dtype)
    if declared is not None or prop.refuses is None or op == ANY_OP:
        return declared
    return prop.refuses(op, dtype)  # the oracle cannot judge this op in this dtype (torch refuses it)


def undeclared(adapter: Adapter, prop: Property, op: str, dtype: str) -> str | None:
    """Why this cell asks for what the engine does not declare (a capability, a dtype, an op, an adapter
    method), or None: ``not_applicable`` without asking the oracle which ops it refuses (which runs torch)."""
    missing = sorted(prop.capabilities - set(adapter.capabilities))
    if missing:
        return f"engine lacks capability {', '.join(missing)}"
    if dtype not in adapter.capabilities:
        return f"engine lacks dtype {dtype}"
    if op != ANY_OP and not adapter.has_op(op):
        return f"engine has no op {op}"
    if op != ANY_OP and prop.uses_torch and op in REGISTRY and not REGISTRY[op].torch_equivalent:
        return f"op {op} has no torch equivalent and {prop.name} needs the torch oracle"  # a user op
    lacking = sorted(m for m in prop.methods if not adapter.implements(m))
    if lacking:
        return f"the check calls adapter method(s) {', '.join(lacking)}, which the adapter does not implement"
    lacking = sorted(o for o in prop.helper_ops if not adapter.has_op(o))
    if lacking:
        return f"the check needs op(s) {', '.join(lacking)}, which the engine lacks"
    return None


#: input shapes per op and rank for an engine that declares the ``compiles`` capability (``--shapes``)
DEFAULT_SHAPE_POOL = 3


def shape_bound(adapter: Adapter, shapes: int | None) -> int | None:
    """The shape pool size of a run (None: unbounded): ``shapes`` as given (0: unbounded), else
    :data:`DEFAULT_SHAPE_POOL` for an engine that compiles, else unbounded."""
    if shapes is None:
        return DEFAULT_SHAPE_POOL if COMPILES in adapter.capabilities else None
    return shapes or None


def nominal_examples(profile: Profile, prop: Property) -> int:
    """The examples a cell of ``prop`` gets in ``profile`` (before a ``--budget`` scales them)."""
    return max(2, round(profile.max_examples / prop.cost * (1 if prop.per_op else ANY_OP_FACTOR)))


def available_ops(adapter: Adapter) -> frozenset[str]:
    """The registry's ops the engine has, asked once per adapter and registry (not 160 questions a cell)."""
    inner = getattr(adapter, "_inner", adapter)
    key = (id(inner), len(REGISTRY))
    known = _AVAILABLE.get(key)
    if known is None or known[0]() is not inner:
        ops = frozenset(o for o in REGISTRY if adapter.has_op(o))
        try:
            _AVAILABLE[key] = known = (weakref.ref(inner), ops)
        except TypeError:  # not weakly referenceable: nothing tells a later adapter with its id apart
            return ops
    return known[1]


_AVAILABLE: dict[tuple[int, int], tuple[Any, frozenset[str]]] = {}
