"""Property: one named rule, checked on hypothesis-drawn examples, returning evidence.

A property is declared by the ``@prop`` decorator over its check function: the first
paragraph of the check's docstring is the property's doc, and the decorator's arguments
say what the rule needs -- engine capabilities, the optional adapter methods the check
calls, the oracles it compares with, helper ops it applies, the profiles it runs in.  The
runner reads those needs to decide, before any example, whether a cell is not-applicable
and why; a declaration that names something unknown fails at import, not mid-run::

    @prop("hooks", family="hooks", per_op=False, capabilities={caps.HOOKS}, methods={"register_hook"},
          oracles={"rule", "torch-float64"}, helper_ops={"mul"})
    def _hooks(A, p):
        \"\"\"register_hook sees the gradient and can replace it.\"\"\"

A check ``(adapter, example) -> Evidence`` never prints.  It may call
``hypothesis.reject()`` for samples on a non-differentiable point (discarded, never
failed).  An exception escaping it is an engine error (Status.ERROR); a wrong answer is
``Evidence(ok=False)`` (Status.FAILED).  Properties with ``per_op=False`` do not depend on
an op: they are reported under ``results.ANY_OP`` and draw programs over every op the
engine has.
"""
from __future__ import annotations

import inspect
import warnings
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Callable, Collection, Iterator, Sequence

import numpy as np
from hypothesis import reject
from hypothesis import strategies as st
from hypothesis.errors import HypothesisDeprecationWarning

from conformance.checks.oracles import Comparison
from conformance.engines.adapter import ALL_CAPABILITIES, OPTIONAL_METHODS, Adapter
from conformance.errors import closest
from conformance.spec.dtypes import HALF_DTYPES
from conformance.spec.ops import REGISTRY
from conformance.spec.programs import KINK_MARGIN, Program, any_program, programs
from conformance.spec.tolerances import ORACLES, TORCH_ORACLES

#: the profiles a property may name; conformance.runner.profiles defines one Profile for each
PROFILE_NAMES = ("quick", "ci", "thorough")
DTYPES = ("float64", "float32")  # a property's cells unless it names its own (``dtypes=``)
#: every dtype a property may name: float16 and bfloat16 cells belong to the half-precision properties alone
ALL_DTYPES = DTYPES + HALF_DTYPES

Strategy = Callable[[Sequence[str], str, "frozenset[str] | None"], st.SearchStrategy[Any]]


@dataclass
class Evidence:
    ok: bool
    message: str = ""
    expected: Any = None
    observed: Any = None
    max_abs: float | None = None
    max_rel: float | None = None
    oracles: list[str] = field(default_factory=list)
    program: Program | None = None


@dataclass(frozen=True, kw_only=True)
class Property:
    """One rule and everything the runner must know to ask it of an engine (built by ``@prop``)."""

    name: str  # as in --properties and in results
    family: str  # display group: gradients, semantics, structural, grad_mode, hooks
    doc: str  # the rule in one sentence: the first paragraph of the check's docstring
    check: Callable[[Adapter, Any], Evidence]  # one example -> Evidence; raises only when the engine does
    per_op: bool = True  # one cell per op; False: one any-op cell drawing programs over every op
    capabilities: frozenset[str] = frozenset()  # Adapter.capabilities the engine must declare
    methods: frozenset[str] = frozenset()  # optional Adapter methods the check calls (OPTIONAL_METHODS)
    oracles: frozenset[str] = frozenset()  # where expected values come from (spec.tolerances.ORACLES)
    helper_ops: frozenset[str] = frozenset()  # registry ops the check applies itself, besides the drawn ones
    profiles: frozenset[str] = frozenset(PROFILE_NAMES)  # the profiles whose runs include this property
    dtypes: tuple[str, ...] = DTYPES  # one cell per dtype
    strategy: Strategy | None = None  # (ops, dtype, engine ops) -> examples; None: programs around the op
    applies: Callable[[str], bool] = lambda op: True  # per-op properties: which ops get a cell
    # (op, dtype) -> why the cell cannot be asked whatever the engine (torch has no float16 kernel for the op,
    # so nothing tells what a float16 engine should give), or None; asked once per cell, outside hypothesis
    refuses: Callable[[str, str], str | None] | None = None
    cost: float = 1.0  # relative cost per example; the runner scales example counts by 1/cost
    # whether the property asks ops with a non-floating result (comparisons: bool; OpSpec.result_dtype); without
    # it such ops get no cell and any-op cells never draw them: a program differentiates through every op it holds
    nondifferentiable: bool = False

    @property
    def uses_torch(self) -> bool:
        """Whether the check consults PyTorch (so it cannot judge an op torch does not have)."""
        return bool(self.oracles & TORCH_ORACLES)

    def examples(self, ops: Sequence[str], dtype: str,
                 available: frozenset[str] | None = None) -> st.SearchStrategy[Any]:
        """Examples for cell ``ops[0]`` (per-op) or drawn over ``ops`` (any-op); ``available``: engine ops."""
        if self.strategy is not None:
            drawn = self.strategy(ops, dtype, available)
        elif self.per_op:
            drawn = programs(ops[0], dtype, available=available)
        else:
            drawn = any_program(ops, dtype, available=available)
        return drawn.filter(_smooth)

    def drawable(self, ops: Sequence[str]) -> list[str]:
        """The ops an any-op cell may draw: with torch as an oracle, only ops torch has; only ops with a
        floating result unless the property declares ``nondifferentiable``."""
        if not self.nondifferentiable:
            ops = [o for o in ops if differentiable(o)]
        if not self.uses_torch:
            return list(ops)
        return [o for o in ops if o in REGISTRY and REGISTRY[o].torch_equivalent]


def nonscalar_programs(ops: Sequence[str], dtype: str, available: frozenset[str] | None = None) -> Any:
    """Programs around ``ops[0]`` with a random cotangent v (the output is not summed to a scalar).

    One function for every property that asks for such programs: per-op properties with the same
    strategy share their drawn examples (runner/draws.py), so a twin of this function would draw twice."""
    return programs(ops[0], dtype, scalar_output=False, available=available)


def differentiable(op: str) -> bool:
    """Whether ``op``'s result is floating (an op the registry does not know is taken to be)."""
    spec = REGISTRY.get(op)
    return spec is None or spec.differentiable


PROPERTIES: dict[str, Property] = {}


class DeclarationError(Exception):
    """A property's declaration names something that does not exist (raised at import)."""


def prop(name: str, *, family: str, per_op: bool = True, capabilities: Collection[str] = (),
         methods: Collection[str] = (), oracles: Collection[str] = (), helper_ops: Collection[str] = (),
         profiles: Collection[str] = PROFILE_NAMES, dtypes: Sequence[str] = DTYPES, strategy: Strategy | None = None,
         applies: Callable[[str], bool] | None = None, cost: float = 1.0,
         refuses: Callable[[str, str], str | None] | None = None,
         nondifferentiable: bool = False) -> Callable[[Callable], Callable]:
    """Register the decorated check as property ``name``; returns the check unchanged.

    ``applies`` picks the ops a per-op property has cells for; an op with a non-floating result (a
    comparison) is left out unless ``nondifferentiable`` says the check asks such ops.

    Raises DeclarationError naming the property and the bad value (with the valid ones)
    when a declaration is wrong: a duplicate name, no docstring, an unknown capability,
    adapter method, oracle, helper op, profile or dtype.
    """
    def register(check: Callable) -> Callable:
        def bad(what: str) -> DeclarationError:
            return DeclarationError(f"@prop({name!r}) on {getattr(check, '__qualname__', check)!r}: {what}")

        if not (isinstance(name, str) and name.isidentifier()):
            raise bad("the name must be an identifier")
        if name in PROPERTIES:
            raise bad(f"property {name!r} is already registered (by {PROPERTIES[name].check.__module__})")
        doc = _first_paragraph(check)
        if not doc:
            raise bad("the check has no docstring; its first paragraph is the property's one-line doc")
        _known(bad, "capability", capabilities, ALL_CAPABILITIES)
        _known(bad, "adapter method", methods, OPTIONAL_METHODS,
               hint="required methods need no declaration; declare the optional ones the check calls")
        _known(bad, "oracle", oracles, ORACLES, hint="add new oracles to conformance.spec.tolerances")
        _known(bad, "helper op", helper_ops, REGISTRY)
        _known(bad, "profile", profiles, PROFILE_NAMES)
        _known(bad, "dtype", dtypes, ALL_DTYPES)
        if not oracles:
            raise bad("no oracles declared; name where the expected values come from (e.g. 'rule')")
        if not (isinstance(cost, (int, float)) and cost > 0):
            raise bad(f"cost {cost!r}: expected a positive number")
        own = applies or (lambda op: True)
        PROPERTIES[name] = Property(
            name=name, family=family, doc=doc, check=check, per_op=per_op, capabilities=frozenset(capabilities),
            methods=frozenset(methods), oracles=frozenset(oracles), helper_ops=frozenset(helper_ops),
            profiles=frozenset(profiles), dtypes=tuple(dtypes), strategy=strategy,
            applies=lambda op: (nondifferentiable or differentiable(op)) and own(op), cost=float(cost),
            refuses=refuses, nondifferentiable=nondifferentiable)
        return check
    return register


def _first_paragraph(check: Callable) -> str:
    text = inspect.getdoc(check) or ""
    return " ".join(text.split("\n\n", 1)[0].split())


def _known(bad: Callable[[str], DeclarationError], kind: str, given: Collection[str], valid: Collection[str],
           hint: str = "") -> None:
    if isinstance(given, str):  # a bare string would be read as its characters
        raise bad(f"{kind}s must be a collection of names, not the string {given!r}")
    for g in given:
        if g not in valid:
            shown = ", ".join(sorted(valid)) if len(valid) <= 20 else "see conformance list-ops"
            raise bad(f"unknown {kind} {g!r}{closest(str(g), valid)}; known: {shown}" + (f" ({hint})" if hint else ""))


def _smooth(example: Any) -> bool:
    """Not a program within finite-difference reach of a kink.

    Values shrink to simple numbers (0, 1, 0.5), so relu at 0, clamp at a bound and ties of max
    would be drawn often; there any subgradient is right (torch's pick is one of many), so no
    property is asked about them."""
    return not isinstance(example, Program) or example.kink_distance() >= KINK_MARGIN


@contextmanager
def outside_hypothesis() -> Iterator[None]:
    """Run checks on an example outside a hypothesis test (diagnosis, corpus replay, reproducer
    recording).  There a ``reject()`` -- the harness's (a kink) or an adapter's (inexpressible
    inputs) -- raises UnsatisfiedAssumption, which the caller reads as "not judged"; hypothesis
    would also warn that reject() outside a test is deprecated, which is noise here."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", HypothesisDeprecationWarning)
        yield


def require_smooth(p: Program) -> None:
    """Discard samples within finite-difference reach of a kink (relu at 0, max ties...)."""
    if p.kink_distance() < KINK_MARGIN:
        reject()


def named(p: Program, d: dict[int, Any]) -> dict[str, Any]:
    return {f"v{i}": v for i, v in d.items()}


def jsonable(d: dict[str, np.ndarray | None] | np.ndarray | None) -> Any:
    if d is None:
        return None
    if isinstance(d, np.ndarray):
        return d.tolist()
    return {k: (None if v is None else np.asarray(v).tolist()) for k, v in d.items()}


def from_comparison(c: Comparison, expected: Any, observed: Any, oracle: str, p: Program | None,
                    what: str) -> Evidence:
    msg = "" if c.ok else f"{what}: {c.message}"
    return Evidence(c.ok, msg, jsonable(expected), jsonable(observed), c.max_abs, c.max_rel, [oracle], p)


def violations(problems: list[str], p: Program | None, oracle: str = "rule") -> Evidence:
    """Evidence for semantic rules: a list of violated statements (empty = ok)."""
    return Evidence(not problems, "; ".join(problems[:5]), "rule holds", problems[:5] or "rule holds",
                    oracles=[oracle], program=p)


def smooth2(op: str) -> bool:
    return REGISTRY[op].smooth2
