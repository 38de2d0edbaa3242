"""The runner: profiles, seeds, cells (op x property x dtype), evidence -> Result records.

Each cell is one hypothesis test with explicit settings built from our own profile
(never the globally loaded one: hypothesis silently loads its "ci" profile when the
CI variable is set, which would change derandomization and reporting).  The cell's
hypothesis seed is derived from (run seed, property, op, dtype), so ``--seed N``
replays every cell exactly, whatever else is selected.  A failing cell keeps the
hypothesis-shrunk program as a runnable script, expected vs observed, and errors.
"""
from __future__ import annotations

import platform
import time
import traceback
import zlib
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable, Iterator, Sequence

import numpy as np
from hypothesis import HealthCheck, Phase, Verbosity, given, seed as hseed, settings
from hypothesis.errors import HypothesisException, StopTest

from . import userops
from .adapters.base import Adapter
from .checked import checked
from .programjson import corpus_program
from .properties import PROPERTIES, Property
from .registry import REGISTRY
from .results import ANY_OP, Result, RunInfo, RunResults, Status

HARNESS_VERSION = "0.1.0"
ANY_OP_FACTOR = 8


@dataclass(frozen=True)
class Profile:
    """``max_examples`` per cell for a cost-1 property (scaled by 1/cost, at least 2)."""

    name: str
    max_examples: int
    default_seed: int | None  # None: a fresh random seed per run (printed, recorded)
    mpmath: bool = False
    shrink: bool = True


PROFILES: dict[str, Profile] = {
    "quick": Profile("quick", 6, 0),
    "ci": Profile("ci", 50, 0),
    "thorough": Profile("thorough", 300, None, mpmath=True),
}

for _p in PROFILES.values():  # registered explicitly, loaded by name, never via settings.load_profile
    settings.register_profile(
        f"conformance-{_p.name}", max_examples=_p.max_examples, deadline=None, database=None,
        derandomize=False, print_blob=False, report_multiple_bugs=False, verbosity=Verbosity.quiet,
        phases=(Phase.explicit, Phase.generate, Phase.shrink) if _p.shrink else (Phase.explicit, Phase.generate),
        suppress_health_check=list(HealthCheck))


class _Mismatch(AssertionError):
    """The engine gave a wrong answer (Status.FAILED)."""


class _EngineError(Exception):
    """The engine raised where no error was expected (Status.ERROR)."""


def cell_seed(run_seed: int, prop: str, op: str, dtype: str) -> int:
    return zlib.crc32(f"{run_seed}:{prop}:{op}:{dtype}".encode())


def _not_applicable(adapter: Adapter, prop: Property, op: str, dtype: str) -> str | None:
    missing = sorted(set(prop.needs) - set(adapter.capabilities))
    if missing:
        return f"engine lacks capability {', '.join(missing)}"
    if dtype not in adapter.capabilities:
        return f"engine lacks dtype {dtype}"
    if op != ANY_OP and not adapter.has_op(op):
        return f"engine has no op {op}"
    if op != ANY_OP and userops.oracle_not_applicable(prop, op):  # user op without a torch equivalent
        return userops.oracle_not_applicable(prop, op)
    lacking = sorted(o for o in prop.needs_ops if not adapter.has_op(o))
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
    why = _not_applicable(adapter, prop, op, dtype)
    if why:
        return Result(status=Status.NOT_APPLICABLE, message=why, **base)
    # op-independent rules are one cell instead of one per op: give them proportionally more examples
    n = max(2, round(profile.max_examples / prop.cost * (1 if prop.per_op else ANY_OP_FACTOR)))
    state: dict[str, Any] = {"count": 0, "worst": (0.0, 0.0)}
    available = frozenset(o for o in REGISTRY if adapter.has_op(o))
    ops = userops.ops_for(prop, ops) if op == ANY_OP else ops  # no torch-less op where torch is the oracle
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
        return _run_test(test, state, adapter, prop, op, run_seed, selection, base, t0)
    finally:
        _restore_grad_mode(adapter)


def _restore_grad_mode(adapter: Adapter) -> None:
    """A broken engine may leave grad mode off; without this every later cell (and the torch
    oracle, in the same process) would fail for a reason that belongs to one cell only."""
    import sys

    try:
        if "no_grad" in adapter.capabilities and not adapter.is_grad_enabled():
            adapter.set_grad_enabled(True).__enter__()  # torch-style: entering (or calling) sets the mode
    except Exception:  # noqa: BLE001 - best effort; the cell that broke it is already reported
        pass
    torch = sys.modules.get("torch")
    if torch is not None and not torch.is_grad_enabled():
        torch.set_grad_enabled(True)


def _run_test(test: Any, state: dict[str, Any], adapter: Adapter, prop: Property, op: str, run_seed: int,
              selection: Sequence[str] | None, base: dict[str, Any], t0: float) -> Result:
    try:
        test()
    except _Mismatch:
        ev = state["evidence"]
        return Result(status=Status.FAILED, examples=state["count"], message=ev.message, expected=ev.expected,
                      observed=ev.observed, max_abs_error=ev.max_abs, max_rel_error=ev.max_rel,
                      reproducer=_script(adapter, prop, op, ev.program, ev.message, run_seed, selection),
                      duration_s=time.perf_counter() - t0, oracles=ev.oracles,
                      program=corpus_program(state.get("example")), **base)
    except _EngineError:
        e, tb, example = state["error"]
        program = example if hasattr(example, "to_script") else None
        return Result(status=Status.ERROR, examples=state["count"], message=f"{type(e).__name__}: {e}"[:500],
                      traceback=tb, reproducer=_script(adapter, prop, op, program, f"raised {type(e).__name__}",
                                                       run_seed, selection),
                      duration_s=time.perf_counter() - t0, program=corpus_program(example), **base)
    except Exception as e:  # noqa: BLE001 - flaky engines, unsatisfiable strategies: never "passed"
        return Result(status=Status.ERROR, examples=state["count"],
                      message=f"harness: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"[:500],
                      traceback=traceback.format_exc(), duration_s=time.perf_counter() - t0, **base)
    a, r = state["worst"]
    return Result(status=Status.PASSED, examples=state["count"], max_abs_error=a, max_rel_error=r,
                  duration_s=time.perf_counter() - t0, oracles=sorted(state.get("oracles", ())), **base)


def _script(adapter: Adapter, prop: Property, op: str, program: Any, message: str, run_seed: int,
            ops: Sequence[str] | None = None) -> str | None:
    if program is None:
        return None
    # any-op cells draw from the run's op list: the replay must select the same ops
    engine = adapter.spec or adapter.name
    replay_ops = f"--ops {op}" if op != ANY_OP else (f"--ops {','.join(ops)}" if ops else "")
    head = (f"# property {prop.name!r} ({prop.doc}) failed: {message[:300]}\n"
            f"# replay: conformance run --engine {engine} {replay_ops} "
            f"--properties {prop.name} --seed {run_seed}\n")
    torch_version = "\n".join("# " + line for line in program.to_script("torch").splitlines())
    return head + program.to_script(engine) + "\n# The same program on torch:\n" + torch_version + "\n"


def plan(adapter: Adapter, profile: Profile, ops: Sequence[str] | None = None,
         properties: Sequence[str] | None = None) -> list[tuple[Property, str, str]]:
    """The cells of a run, in order: (property, op, dtype)."""
    selected_ops = list(ops) if ops else list(REGISTRY)
    cells = []
    for name in properties or list(PROPERTIES):
        prop = PROPERTIES[name]
        if prop.name.startswith("mpmath") and not profile.mpmath:
            continue
        targets = [o for o in selected_ops if prop.applies(o)] if prop.per_op else [ANY_OP]
        cells += [(prop, o, dt) for o in targets for dt in prop.dtypes]
    return cells


def run(adapter: Adapter, profile: str = "ci", ops: Sequence[str] | None = None,
        properties: Sequence[str] | None = None, seed: int | None = None,
        progress: Callable[[int, int, str], None] | None = None) -> Iterator[Result]:
    """Yield one Result per cell.  Unknown op/property names raise KeyError."""
    prof = PROFILES[profile]
    for o in ops or []:
        REGISTRY[o]
    for p in properties or []:
        PROPERTIES[p]
    run_seed = resolve_seed(prof, seed)
    cells = plan(adapter, prof, ops, properties)
    engine_ops = [o for o in (ops or list(REGISTRY)) if adapter.has_op(o)]
    for k, (prop, op, dtype) in enumerate(cells):
        if progress:
            progress(k, len(cells), f"{prop.name} {op} {dtype}")
        yield run_cell(adapter, prop, op, dtype, prof, run_seed, engine_ops, ops)
    if progress:
        progress(len(cells), len(cells), "done")


def resolve_seed(prof: Profile, seed: int | None) -> int:
    if seed is not None:
        return seed
    if prof.default_seed is not None:
        return prof.default_seed
    return int(np.random.SeedSequence().entropy % (2**31))


def run_all(adapter: Adapter, profile: str = "ci", ops: Sequence[str] | None = None,
            properties: Sequence[str] | None = None, seed: int | None = None,
            progress: Callable[[int, int, str], None] | None = None, argv: Sequence[str] = (),
            on_result: Callable[[RunResults], None] | None = None) -> RunResults:
    """Run every selected cell and return the whole RunResults (``info.complete`` set at the end).

    ``on_result(run_results)`` is called after every cell (the CLI saves partial reports with it,
    so an interrupted run leaves a valid ``complete: false`` results.json).
    """
    import sys

    torch_mod = sys.modules.get("torch")
    run_seed = resolve_seed(PROFILES[profile], seed)
    info = RunInfo(engine=adapter.name, engine_version=adapter.version(), harness_version=HARNESS_VERSION,
                   python_version=platform.python_version(), numpy_version=np.__version__,
                   torch_version=getattr(torch_mod, "__version__", None), profile=profile, seed=run_seed,
                   started_at=datetime.now(timezone.utc).isoformat(), ops_in_registry=len(REGISTRY),
                   properties=list(properties or PROPERTIES), argv=list(argv))
    rr = RunResults(info)
    for r in run(adapter, profile, ops, properties, run_seed, progress):
        rr.results.append(r)
        if on_result:
            on_result(rr)
    if info.torch_version is None and "torch" in sys.modules:
        info.torch_version = getattr(sys.modules["torch"], "__version__", None)
    info.finished_at = datetime.now(timezone.utc).isoformat()
    info.complete = True
    return rr
