"""Cells: one op x property x dtype, run as one hypothesis test, turned into a Result.

A failing cell keeps the hypothesis-shrunk program as a runnable script, expected vs
observed, and errors.  What happened becomes a status: a wrong answer is FAILED, an
exception escaping the engine is ERROR, a property the engine cannot be asked about is
NOT_APPLICABLE (with the reason), anything else is PASSED.
"""
from __future__ import annotations

import sys
import time
import traceback
from typing import Any, Sequence

from hypothesis import given, settings
from hypothesis import seed as hseed
from hypothesis.errors import HypothesisException, StopTest

from conformance.checks import oracles as O
from conformance.checks.properties import PROPERTIES, Property
from conformance.engines.adapter import Adapter
from conformance.engines.contract import checked
from conformance.runner.profiles import ANY_OP_FACTOR, Profile, cell_seed
from conformance.runner.reproducer import script
from conformance.runner.results import ANY_OP, Result, Status
from conformance.spec.ops import REGISTRY
from conformance.spec.program_json import corpus_program

Cell = tuple[Property, str, str]  # (property, op, dtype)


class _Mismatch(AssertionError):
    """The engine gave a wrong answer (Status.FAILED)."""


class _EngineError(Exception):
    """The engine raised where no error was expected (Status.ERROR)."""


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


def run_cell(adapter: Adapter, prop: Property, op: str, dtype: str, profile: Profile, run_seed: int,
             ops: Sequence[str], selection: Sequence[str] | None = None) -> Result:
    """Run one op x property x dtype cell and turn what happened into a Result.

    ``ops`` are the engine's ops that any-op properties draw from; ``selection`` is the
    user's --ops (None: all), quoted in reproducers so a replay draws the same programs.
    """
    adapter = checked(adapter)  # adapter lies (wrong type/shape) -> an error naming the method
    base = dict(engine=adapter.name, op=op, property=prop.name, dtype=dtype, seed=run_seed)
    broken_spec = uncallable(adapter, prop, op)
    if broken_spec:
        return Result(status=Status.ERROR, message=broken_spec, **base)
    why = not_applicable(adapter, prop, op, dtype)
    if why:
        return Result(status=Status.NOT_APPLICABLE, message=why, **base)
    n = max(2, round(profile.max_examples / prop.cost * (1 if prop.per_op else ANY_OP_FACTOR)))
    state: dict[str, Any] = {"count": 0, "worst": (0.0, 0.0)}
    available = frozenset(o for o in REGISTRY if adapter.has_op(o))
    ops = prop.drawable(ops) if op == ANY_OP else ops  # no torch-less op where torch is the oracle
    if op == ANY_OP and not ops:
        return Result(status=Status.NOT_APPLICABLE, message="engine has none of the selected ops", **base)
    strategy = prop.examples([op] if op != ANY_OP else list(ops), dtype, available)

    @settings(settings.get_profile(f"conformance-{profile.name}"), max_examples=n)
    @hseed(cell_seed(run_seed, prop.name, op, dtype))
    @given(strategy)
    def test(example: Any) -> None:
        state.pop("evidence", None)
        state.pop("error", None)
        state["example"] = example  # the last call is hypothesis's final replay of the shrunk example
        try:
            ev = prop.check(adapter, example)
        except (HypothesisException, StopTest):
            raise
        except Exception as e:  # noqa: BLE001 - anything the engine raises is evidence
            state["error"] = (e, traceback.format_exc(), example)
            state["first_failure"] = True
            raise _EngineError(f"{type(e).__name__}: {e}") from e
        if "first_failure" not in state:  # shrinking replays after the first failure are not examples
            state["count"] += 1
        state.setdefault("oracles", set()).update(ev.oracles)
        if ev.max_abs is not None:
            a, r = state["worst"]
            state["worst"] = (max(a, ev.max_abs), max(r, ev.max_rel or 0.0))
        if not ev.ok:
            state["first_failure"] = True
            state["evidence"] = ev
            raise _Mismatch(ev.message)

    t0 = time.perf_counter()
    try:
        return _outcome(test, state, adapter, prop, op, run_seed, selection, base, t0)
    finally:
        restore_grad_mode(adapter)


def restore_grad_mode(adapter: Adapter) -> None:
    """Turn grad mode back on after a cell.

    A broken engine may leave grad mode off; without this every later cell (and the torch
    oracle, in the same process) would fail for a reason that belongs to one cell only."""
    try:
        if "no_grad" in adapter.capabilities and not adapter.is_grad_enabled():
            adapter.set_grad_enabled(True).__enter__()  # torch-style: entering (or calling) sets the mode
    except Exception:  # noqa: BLE001 - best effort; the cell that broke it is already reported
        pass
    torch = sys.modules.get("torch")
    if torch is not None and not torch.is_grad_enabled():
        torch.set_grad_enabled(True)


def _outcome(test: Any, state: dict[str, Any], adapter: Adapter, prop: Property, op: str, run_seed: int,
             selection: Sequence[str] | None, base: dict[str, Any], t0: float) -> Result:
    """Run the hypothesis test and read its state into a Result."""
    try:
        test()
    except _Mismatch:
        ev = state["evidence"]
        return Result(status=Status.FAILED, examples=state["count"], message=ev.message, expected=ev.expected,
                      observed=ev.observed, max_abs_error=ev.max_abs, max_rel_error=ev.max_rel,
                      reproducer=script(adapter, prop, op, ev.program, ev.message, run_seed, selection),
                      duration_s=time.perf_counter() - t0, oracles=ev.oracles,
                      program=corpus_program(state.get("example")), **base)
    except _EngineError:
        e, tb, example = state["error"]
        program = example if hasattr(example, "to_script") else None
        return Result(status=Status.ERROR, examples=state["count"], message=f"{type(e).__name__}: {e}"[:500],
                      traceback=tb, reproducer=script(adapter, prop, op, program, f"raised {type(e).__name__}",
                                                      run_seed, selection),
                      duration_s=time.perf_counter() - t0, program=corpus_program(example), **base)
    except Exception as e:  # noqa: BLE001 - flaky engines, unsatisfiable strategies: never "passed"
        return Result(status=Status.ERROR, examples=state["count"],
                      message=f"harness: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"[:500],
                      traceback=traceback.format_exc(), duration_s=time.perf_counter() - t0, **base)
    a, r = state["worst"]
    return Result(status=Status.PASSED, examples=state["count"], max_abs_error=a, max_rel_error=r,
                  duration_s=time.perf_counter() - t0, oracles=sorted(state.get("oracles", ())), **base)
