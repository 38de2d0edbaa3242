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
import warnings
from dataclasses import dataclass
from typing import Any, Sequence

from hypothesis import example as hexample
from hypothesis import given, settings
from hypothesis import seed as hseed
from hypothesis.errors import Flaky, HypothesisException, StopTest, Unsatisfiable, UnsatisfiedAssumption

from conformance.checks.diagnosis import culprit, fault_of, rejected_by_adapter
from conformance.checks.properties import Property
from conformance.checks.properties.base import Evidence
from conformance.engines.adapter import Adapter
from conformance.engines.contract import WrongResultError, checked
from conformance.runner import draws
from conformance.runner.plan import available_ops, nominal_examples, not_applicable, shape_bound, uncallable
from conformance.runner.profiles import Profile, cell_seed
from conformance.runner.reproducer import script
from conformance.runner.findings import signature_of
from conformance.runner.results import ANY_OP, Result, Status
from conformance.spec import sampler, shape_pool
from conformance.spec.program_json import corpus_program
from conformance.spec.programs import Program



@dataclass
class Failure:
    """One distinct failure a cell found, diagnosed: what, where, whose fault."""

    status: Status  # FAILED (wrong answer) or ERROR (raised)
    message: str
    program: Any  # the shrunk example (a Program for most properties)
    culprit: dict[str, str]  # {"op": NAME} or {"rule": PROPERTY}
    signature: str  # the bug in words: what groups cells into one finding
    fault: str  # engine | adapter | harness
    interaction: bool = False
    evidence: Evidence | None = None
    traceback: str | None = None
    reproducer: str | None = None
    example: Any = None  # what hypothesis drew (the check re-runs on it to record a reproducer)

    @property
    def cheap(self) -> str:
        """The key a later exploration of the same cell uses to recognise this failure again."""
        return signature_of(self.message)

    def blocked_by(self, op: str) -> bool:
        """Whether this failure lies in another op than the cell's (the cell is then blocked by it)."""
        return "op" in self.culprit and self.culprit["op"] != op

    def to_dict(self) -> dict[str, Any]:
        return {"status": self.status.value, "message": self.message, "culprit": self.culprit,
                "signature": self.signature, "fault": self.fault, "interaction": self.interaction,
                "reproducer": self.reproducer, "program": corpus_program(self.program)}


def diagnose(adapter: Adapter, prop: Property, op: str, status: Status, message: str, example: Any,
             evidence: Evidence | None = None, exc: BaseException | None = None, tb: str | None = None) -> Failure:
    """Find the culprit of a shrunk failure: a node wrong alone, else the op (an interaction) or the rule."""
    fault = fault_of(adapter, exc) if exc is not None else "engine"
    if isinstance(exc, WrongResultError):
        status, fault = Status.FAILED, "engine"
    program = example if isinstance(example, Program) else None
    if fault != "harness" and program is not None:
        restore_grad_mode(adapter)  # the failure may have left grad mode off; nodes are judged with it on
        verdict = culprit(getattr(adapter, "_inner", adapter), program)
        if verdict is not None:
            where = {"rule": verdict.rule} if verdict.rule else {"op": verdict.op}
            return Failure(status, message, example, where, verdict.signature, verdict.fault,
                           evidence=evidence, traceback=tb)
    own: dict[str, str]
    if op == ANY_OP or prop.family in RULE_FAMILIES:
        own, interaction = {"rule": prop.name}, False
    else:
        own, interaction = {"op": op}, fault == "engine"
    if fault == "harness":
        own = {"rule": prop.name}
    what = "harness error" if fault == "harness" else prop.name
    signature = f"{what}: {signature_of(message)}"
    if interaction and status == Status.FAILED:
        signature = _as_node_signature(signature_of(message)) or signature
    return Failure(status, message, example, own, signature, fault, interaction, evidence, tb)


def _as_node_signature(kind: str) -> str | None:
    """An interaction's wrong answer in the words a node check uses, so that one bug of an op --
    seen alone on some programs and only in context on others -- is one finding."""
    grads = "grad" in kind.split(":")[0] or "Hessian" in kind
    for tail, grad_words, forward_words in (
            ("wrong values", "gradient values wrong", "forward values wrong"),
            ("wrong shape", "gradient has the wrong shape", "output has the wrong shape"),
            ("None where a value was expected", "no gradient for an input that requires grad", None)):
        if kind.endswith(tail):
            return grad_words if grads else forward_words
    return None




class _Mismatch(AssertionError):
    """The engine gave a wrong answer (Status.FAILED)."""


class _EngineError(Exception):
    """The engine raised where no error was expected (Status.ERROR)."""


#: explorations of one cell: the first, then up to this many more with each found bug set aside
EXTRA_ROUNDS = 2
#: under a --budget, the rounds after a cell's first failure keep their full count while this process has
#: spent at most this share of its cells' time on such rounds (then they are cut like the rest)
FOLLOW_UP_SHARE = 0.1
#: seconds this process spent in cells, and in the rounds after a cell's first failure (``_follow_up_count``)
_SPENT = {"cells": 0.0, "follow_up": 0.0}
#: per-op properties that state a rule (not a value): a failure with no wrong node is the rule's
RULE_FAMILIES = frozenset({"structural", "semantics", "grad_mode", "hooks"})


_SHOWN: set[tuple[type[Warning], str]] = set()  # the warnings this process has shown (run_cell)


def run_cell(adapter: Adapter, prop: Property, op: str, dtype: str, profile: Profile, run_seed: int,
             ops: Sequence[str], selection: Sequence[str] | None = None, *, shapes: int | None = None,
             scale: float = 1.0) -> Result:
    """Run one op x property x dtype cell and turn what happened into a Result (:func:`_run_cell`).

    A warning the engine (or torch) gives is shown once per process, not once per example: an op's
    template is compiled afresh for each example, so Python's default filter, which remembers the
    warnings it showed per module, printed refengine's and torch's kl_div 'mean' notice hundreds of
    times in a ci run."""
    with warnings.catch_warnings():
        show = warnings.showwarning

        def once(message: Warning | str, category: type[Warning], *rest: Any, **kw: Any) -> None:
            key = (category, str(message))
            if key not in _SHOWN:
                _SHOWN.add(key)
                show(message, category, *rest, **kw)
        warnings.showwarning = once
        t0 = time.perf_counter()
        try:
            return _run_cell(adapter, prop, op, dtype, profile, run_seed, ops, selection, shapes=shapes, scale=scale)
        finally:
            _SPENT["cells"] += time.perf_counter() - t0


def _run_cell(adapter: Adapter, prop: Property, op: str, dtype: str, profile: Profile, run_seed: int,
              ops: Sequence[str], selection: Sequence[str] | None = None, *, shapes: int | None = None,
              scale: float = 1.0) -> Result:
    """Run one op x property x dtype cell and turn what happened into a Result.

    ``ops`` are the engine's ops that any-op properties draw from; ``selection`` is the
    user's --ops (None: all), quoted in reproducers so a replay draws the same programs.

    After a failure the cell is diagnosed (which node is wrong, whose fault) and explored
    again with that bug set aside -- its culprit op masked from the programs, or its
    signature ignored -- so a second, distinct bug in the same cell is found too.

    ``shapes``: input shapes from a pool of that many per op and rank (0: unbounded; None: the
    engine's default, :func:`shape_bound`).  ``scale``: the share of the profile's examples to run
    (a ``--budget`` below 1).
    """
    adapter = checked(adapter)  # adapter lies (wrong type/shape) -> an error naming the method
    base = dict(engine=adapter.name, op=op, property=prop.name, dtype=dtype, seed=run_seed)
    broken_spec = uncallable(adapter, prop, op)
    if broken_spec:
        # the OpSpec's torch namespace is wrong: a configuration error of the registry (or the user's
        # --ops-from module), reported on the op so the run is not a false green
        return Result(status=Status.ERROR, message=broken_spec, **base)
    why = not_applicable(adapter, prop, op, dtype)
    if why:
        return Result(status=Status.NOT_APPLICABLE, message=why, **base)
    full = nominal_examples(profile, prop)
    n = max(2, round(full * scale))
    available = available_ops(adapter)
    ops = prop.drawable(ops) if op == ANY_OP else ops  # no torch-less op where torch is the oracle
    if op == ANY_OP and not ops:
        return Result(status=Status.NOT_APPLICABLE, message="engine has none of the selected ops", **base)
    t0 = time.perf_counter()
    try:
        with shape_pool.bounded(shape_bound(adapter, shapes), run_seed):
            shape_pool.prepare([op] if op != ANY_OP else ops)
            mates = draws.sharing(prop, profile.name)
            pool = max(2, round(max(nominal_examples(profile, p) for p in mates) * scale))
            passed, shown = draws.check(adapter, prop, op, [op] if op != ANY_OP else ops, dtype, profile.name,
                                        run_seed, available, n, pool)
            if isinstance(shown, draws.AllRejected):
                return Result(status=Status.NOT_APPLICABLE, message=_all_rejected(shown), **base)
            if passed is not None:
                examples, worst, oracles_used = passed
                return Result(status=Status.PASSED, max_abs_error=worst[0], max_rel_error=worst[1],
                              oracles=sorted(oracles_used), examples=examples,
                              duration_s=time.perf_counter() - t0, **base)
            r = _explored(adapter, prop, op, dtype, profile, run_seed, ops, selection, available, n, base, t0,
                          full=full)
            if shown is not None and r.status == Status.PASSED:
                # the cell's own exploration missed what a shared example showed: show it to hypothesis first
                r = _explored(adapter, prop, op, dtype, profile, run_seed, ops, selection, available, n, base, t0,
                              explicit=shown, full=full)
            return r
    finally:
        restore_grad_mode(adapter)


def _explored(adapter: Adapter, prop: Property, op: str, dtype: str, profile: Profile, run_seed: int,
              ops: Sequence[str], selection: Sequence[str] | None, available: frozenset[str], n: int,
              base: dict[str, Any], t0: float, explicit: Any = None, *, full: int) -> Result:
    """The cell as a hypothesis test of its own (``explicit``: an example to try first), explored again
    after each failure with that bug set aside (see :func:`_run_cell`).

    ``n`` examples look for a first failure; the rounds after one get :func:`_follow_up_count`."""
    failures: list[Failure] = []
    masked: set[str] = set()
    ignored: set[str] = set()
    examples, worst, oracles_used = 0, (0.0, 0.0), set()
    for rnd in range(1 + EXTRA_ROUNDS):
        drawn = [o for o in ([op] if op != ANY_OP else ops) if o not in masked]
        if not drawn:
            break
        known = {(f.culprit.get("op") or f.culprit["rule"], f.signature) for f in failures}
        t_round = time.perf_counter()
        state = _explore(adapter, prop, op, dtype, profile, run_seed, drawn, available - masked,
                         n if rnd == 0 else _follow_up_count(n, full), rnd, ignored, known,
                         explicit if rnd == 0 else None)
        if rnd:
            _SPENT["follow_up"] += time.perf_counter() - t_round
        examples += state["count"]
        worst = (max(worst[0], state["worst"][0]), max(worst[1], state["worst"][1]))
        oracles_used |= state.get("oracles", set())
        if rnd == 0 and "not_applicable" in state:
            return Result(status=Status.NOT_APPLICABLE, message=state["not_applicable"], **base)
        f = state.get("failure")
        if f is None:
            break
        if any(f.signature == g.signature and f.culprit == g.culprit for g in failures):
            break  # the same bug again, under other numbers
        f.reproducer = script(adapter, prop, op, f.example, f.message, run_seed, selection)
        failures.append(f)
        if f.fault == "harness":
            break
        if f.culprit.get("op") and f.culprit["op"] != op and f.culprit["op"] not in masked:
            masked.add(f.culprit["op"])  # a glue op's bug: explore on without that op
        else:
            ignored.add(f.cheap)  # the op's (or rule's) own bug: explore on, ignoring it
    base = dict(base, examples=examples, duration_s=time.perf_counter() - t0)
    if not failures:
        return Result(status=Status.PASSED, max_abs_error=worst[0], max_rel_error=worst[1],
                      oracles=sorted(oracles_used), **base)
    return failed_result(failures, op, prop, base)


def _follow_up_count(n: int, full: int) -> int:
    """Examples for a round after a cell's first failure, the cell cut to ``n`` of its ``full`` (nominal) count.

    Half the full count while this process's rounds after a failure have taken at most
    FOLLOW_UP_SHARE of its cells' time, else half of ``n``: a budget shortens the search of cells that
    pass, not the search for the other bugs of the few cells that fail, and where failing cells are
    many the share keeps their searches from taking the time of all the others.  jax at ci in 10
    minutes, cache empty (5 failing cells of 3,878): the promotion cell on xlogy has three distinct
    backward errors; at the budget's scale (3 examples of 50) the rounds after its first ran 2
    examples each and found neither of the other two.  tinygrad (250 failing cells) with every such
    round at the full count: 5,965 examples instead of 8,639, and 100 other cells lost their failure."""
    if n < full and _SPENT["follow_up"] <= FOLLOW_UP_SHARE * _SPENT["cells"]:
        return max(2, full // 2)
    return max(2, n // 2)


def _all_rejected(count: int) -> str:
    return f"the adapter rejected every example drawn ({count}): inputs its engine cannot express (adapter's reject())"


def _explore(adapter: Adapter, prop: Property, op: str, dtype: str, profile: Profile, run_seed: int,
             drawn: list[str], available: frozenset[str], n: int, rnd: int, ignored: set[str],
             known: set[tuple[str, str]] | None = None, explicit: Any = None) -> dict[str, Any]:
    """One hypothesis exploration of the cell; ``state["failure"]`` holds the shrunk failure, if any.

    Failures whose signature is in ``ignored``, or whose culprit node is a ``known`` (op,
    signature), are bugs already found: they count as passing examples, so a later round
    neither reports nor re-shrinks them."""
    state: dict[str, Any] = {"count": 0, "worst": (0.0, 0.0)}
    strategy = prop.examples(drawn, dtype, available)

    def seen(message: str, example: Any) -> bool:
        if signature_of(message) in ignored:
            return True
        if not known or not isinstance(example, Program):
            return False
        restore_grad_mode(adapter)
        v = culprit(getattr(adapter, "_inner", adapter), example)
        return v is not None and ((v.rule or v.op), v.signature) in known

    @settings(settings.get_profile(f"conformance-{profile.name}"), max_examples=n)
    @hseed(cell_seed(run_seed, prop.name, op, dtype) + rnd)
    @given(strategy)
    def test(example: Any) -> None:
        state.pop("evidence", None)
        state.pop("error", None)
        state["example"] = example  # the last call is hypothesis's final replay of the shrunk example
        try:
            ev = prop.check(adapter, example)
        except UnsatisfiedAssumption as e:
            if rejected_by_adapter(e):
                state["rejected"] = state.get("rejected", 0) + 1
            raise
        except (HypothesisException, StopTest):
            raise
        except WrongResultError as e:  # an op of the engine returned a wrong shape: a wrong answer
            ev = Evidence(False, str(e), program=example if isinstance(example, Program) else None)
        except Exception as e:  # noqa: BLE001 - anything the engine raises is evidence
            if seen(f"{type(e).__name__}: {e}", example):
                return
            state["error"] = (e, traceback.format_exc(), example)
            state["first_failure"] = True
            raise _EngineError(f"{type(e).__name__}: {e}") from e
        if not ev.ok and seen(ev.message, example):
            return
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

    if explicit is not None:  # hypothesis runs explicit examples first, as they are (never shrunk)
        test = hexample(explicit)(test)
    # no example database (profiles say database=None), so no key is needed: without this hypothesis
    # computes one from test()'s source for every cell (inspect + tokenize, ~17 ms a cell)
    test._hypothesis_internal_database_key = None  # type: ignore[attr-defined]
    try:
        with sampler.without_local_constants():  # the same examples in a worker as in one process
            test()
    except _Mismatch:
        ev = state["evidence"]
        state["failure"] = diagnose(adapter, prop, op, Status.FAILED, ev.message, ev.program or state.get("example"),
                                    evidence=ev)
    except _EngineError:
        e, tb, example = state["error"]
        state["failure"] = diagnose(adapter, prop, op, Status.ERROR, f"{type(e).__name__}: {e}"[:500], example,
                                    exc=e, tb=tb)
    except Unsatisfiable as e:
        if state["count"] == 0 and state.get("rejected"):
            # every example drawn was one the adapter cannot express: nothing was asked of the engine
            state["not_applicable"] = _all_rejected(state["rejected"])
        else:
            state["failure"] = _unexpected(e, op, prop)
    except Exception as e:  # noqa: BLE001 - flaky engines, unsatisfiable strategies: never "passed"
        state["failure"] = _unexpected(e, op, prop)
    if "failure" in state:
        state["failure"].example = state.get("example")
    return state


def _unexpected(e: Exception, op: str, prop: Property) -> "Failure":
    """A cell's exploration ended in something other than a failing example: a flaky engine (the
    op's), or hypothesis giving up -- unsatisfiable strategies are the harness's."""
    flaky = isinstance(e, Flaky)
    msg = f"{'' if flaky else 'harness: '}{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"[:500]
    return Failure(Status.ERROR, msg, None, {"op": op} if flaky else {"rule": prop.name},
                   signature_of(msg), "engine" if flaky else "harness", traceback=traceback.format_exc())


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


def failed_result(failures: list["Failure"], op: str, prop: Property, base: dict[str, Any]) -> Result:
    """The Result of a cell that found ``failures``: its own first failure decides the status;
    a cell whose every failure lies in another op reads blocked-by that op."""
    own = [f for f in failures if not f.blocked_by(op)]
    first = own[0] if own else failures[0]
    ev = first.evidence
    status = first.status if own else Status.BLOCKED_BY
    return Result(status=status, message=first.message, expected=ev.expected if ev else None,
                  observed=ev.observed if ev else None, max_abs_error=ev.max_abs if ev else None,
                  max_rel_error=ev.max_rel if ev else None, reproducer=first.reproducer,
                  oracles=ev.oracles if ev else [], program=corpus_program(first.program),
                  traceback=first.traceback, blocked_by=None if own else first.culprit.get("op"),
                  culprit=first.culprit, signature=first.signature, fault=first.fault,
                  interaction=first.interaction, also=[f.to_dict() for f in failures if f is not first], **base)
