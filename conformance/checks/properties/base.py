"""Property: one named rule, checked on hypothesis-drawn examples, returning evidence.

A property's ``check(adapter, example)`` returns :class:`Evidence` (never prints).
It may call ``hypothesis.reject()`` for samples on a non-differentiable point
(discarded, never failed).  An exception escaping ``check`` is an engine error
(Status.ERROR); a wrong answer is ``Evidence(ok=False)`` (Status.FAILED).
Properties with ``per_op=False`` do not depend on an op: they are reported under
``results.ANY_OP`` and draw programs over every op the engine has.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np
from hypothesis import reject
from hypothesis import strategies as st

from conformance.checks.oracles import Comparison
from conformance.spec.programs import KINK_MARGIN, Program, any_program, programs
from conformance.spec.ops import REGISTRY


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


@dataclass(frozen=True)
class Property:
    """``strategy(ops, dtype, available)`` draws examples; ``applies(op)`` filters ops (per-op properties);
    ``needs_ops`` are helper ops the check itself applies (missing: not-applicable)."""

    name: str
    family: str
    doc: str
    check: Callable[[Any, Any], Evidence]
    per_op: bool = True
    needs: frozenset[str] = frozenset()
    dtypes: tuple[str, ...] = ("float64", "float32")
    strategy: Callable[[Sequence[str], str, frozenset[str] | None], st.SearchStrategy[Any]] | None = None
    needs_ops: frozenset[str] = frozenset()
    applies: Callable[[str], bool] = lambda op: True
    cost: float = 1.0  # relative cost per example; the runner scales example counts by 1/cost

    def examples(self, ops: Sequence[str], dtype: str,
                 available: frozenset[str] | None = None) -> st.SearchStrategy[Any]:
        """Examples for cell ``ops[0]`` (per-op) or drawn over ``ops`` (any-op); ``available``: engine ops."""
        if self.strategy is not None:
            return self.strategy(ops, dtype, available)
        if self.per_op:
            return programs(ops[0], dtype, available=available)
        return any_program(ops, dtype, available=available)


PROPERTIES: dict[str, Property] = {}


def register(prop: Property) -> Property:
    assert prop.name not in PROPERTIES, prop.name
    PROPERTIES[prop.name] = prop
    return prop


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
