"""The Result record: what one op x property x dtype cell of a conformance run found.

This module is the contract between the runner (which produces Results) and the
report writers (which only read them).  Reports must be regenerable from
``results.json`` alone, so everything a report shows lives here.  Bump
``SCHEMA_VERSION`` on any incompatible change and update ``schema/results.schema.json``.
"""
from __future__ import annotations

import dataclasses
import enum
from dataclasses import dataclass, field
from typing import Any

SCHEMA_VERSION = "2.0"  # 2.0: findings, and culprit/signature/fault/finding/also on cells
#: results.json versions this harness reads: 2.0 only added fields, so a 1.0 run (a baseline from
#: before) loads, its findings grouped anew from its cells' messages
READABLE_SCHEMAS = ("1.0", SCHEMA_VERSION)

#: The op name used by properties that do not depend on any op (grad-mode rules...).
ANY_OP = "*"


class Status(str, enum.Enum):
    """Outcome of one cell.  Ordered roughly from best to worst for display."""

    PASSED = "passed"
    NOT_APPLICABLE = "not-applicable"  # the engine declares it lacks a needed capability
    EXPECTED_FAILURE = "expected-failure"  # failed, and listed in the --expect file
    BLOCKED_BY = "blocked-by"  # could not run because a prerequisite cell failed
    FAILED = "failed"  # the engine gave a wrong answer
    ERROR = "error"  # the engine (or adapter) raised, crashed or hung where no error was expected

    @property
    def is_problem(self) -> bool:
        """A status that makes the run nonconformant (exit code 1)."""
        return self in (Status.FAILED, Status.ERROR)


@dataclass
class Result:
    """One op x property x dtype cell.

    ``expected`` / ``observed`` are JSON-able values (nested lists of floats, or
    short strings for semantic rules such as "RuntimeError raised").  Errors are
    ``max(|observed - expected|)`` and the same divided by ``max(|expected|, tiny)``,
    recorded for passing cells too so reports can show how close a pass was.
    """

    engine: str
    op: str
    property: str
    dtype: str
    status: Status
    examples: int = 0
    message: str = ""
    max_abs_error: float | None = None
    max_rel_error: float | None = None
    reproducer: str | None = None
    expected: Any = None
    observed: Any = None
    seed: int | None = None
    duration_s: float = 0.0
    oracles: list[str] = field(default_factory=list)
    traceback: str | None = None
    blocked_by: str | None = None
    expectation_reason: str | None = None
    #: the shrunk failing example, exactly (conformance.programjson); what --save-failures stores
    program: Any = None
    # -- diagnosis (failed, error and blocked-by cells; see conformance.runner.findings) --
    #: what is wrong: {"op": NAME} (a node of that op misbehaves alone) or {"rule": PROPERTY}
    culprit: dict[str, str] | None = None
    #: the bug in words, the same for every cell it explains ("gradient not reduced over broadcast dims")
    signature: str | None = None
    #: whose fault: "engine", "adapter" (broke the Adapter contract) or "harness" (please report)
    fault: str | None = None
    #: no single node was wrong alone: the failure needs the program around the op
    interaction: bool = False
    #: the id of the finding (results.json ``findings``) this cell is explained by
    finding: str | None = None
    #: further distinct failures the cell found after the first (each: message, signature, culprit,
    #: fault, reproducer, program, finding)
    also: list[dict[str, Any]] = field(default_factory=list)

    @property
    def key(self) -> tuple[str, str, str]:
        """Identity of the cell across runs (engine excluded, so runs of two engines compare)."""
        return (self.op, self.property, self.dtype)

    def to_dict(self) -> dict:
        """The cell as a dict of its fields (shallow: nested values are shared, so copy before changing them).

        Not ``dataclasses.asdict``: its deep copy of every nested list was ~45% of writing results.json,
        which a run rewrites as cells finish; the fields hold plain data, never dataclasses."""
        d = {f.name: getattr(self, f.name) for f in _RESULT_FIELDS}
        d["status"] = self.status.value
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "Result":
        names = {f.name for f in dataclasses.fields(cls)}
        kwargs = {k: v for k, v in d.items() if k in names}
        kwargs["status"] = Status(d["status"])
        return cls(**kwargs)


_RESULT_FIELDS = dataclasses.fields(Result)


@dataclass
class RunInfo:
    """Metadata of one run: who was tested, with what, and whether it finished."""

    engine: str
    engine_version: str | None
    harness_version: str
    python_version: str
    numpy_version: str
    torch_version: str | None
    profile: str
    seed: int | None
    started_at: str  # ISO 8601, UTC
    finished_at: str | None = None
    complete: bool = False  # False while running, and for interrupted runs
    ops_in_registry: int = 0
    properties: list[str] = field(default_factory=list)
    argv: list[str] = field(default_factory=list)
    shapes: int | None = None  # input shapes per op and rank (--shapes; None: unbounded)
    budget_minutes: float | None = None  # --budget, when given
    budget_cut: bool = False  # the budget made some cells run fewer examples than the profile's

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "RunInfo":
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})


@dataclass
class RunResults:
    """A whole run: metadata plus every cell.  ``results.json`` is ``to_dict()`` of this."""

    info: RunInfo
    results: list[Result] = field(default_factory=list)

    def to_dict(self) -> dict:
        found = self.findings()  # first: it stamps each cell's ``finding``
        return {
            "schema_version": SCHEMA_VERSION,
            "run": self.info.to_dict(),
            "findings": [f.to_dict() for f in found],
            "results": [r.to_dict() for r in self.results],
            "coverage": self.coverage(),
        }

    def findings(self) -> list[Any]:
        """One Finding per distinct root cause among the cells, most cells first (stamps ``finding``)."""
        from conformance.runner.findings import collect  # findings are derived from cells, never stored apart
        return collect(self.results)

    @classmethod
    def from_dict(cls, d: dict) -> "RunResults":
        if d.get("schema_version") not in READABLE_SCHEMAS:
            raise ValueError(
                f"results.json has schema_version {d.get('schema_version')!r}; "
                f"this harness reads {', '.join(map(repr, READABLE_SCHEMAS))}"
            )
        return cls(RunInfo.from_dict(d["run"]), [Result.from_dict(r) for r in d["results"]])

    def coverage(self) -> dict:
        ops_run = sorted({r.op for r in self.results if r.op != ANY_OP and r.status != Status.NOT_APPLICABLE})
        counts = {s.value: 0 for s in Status}
        for r in self.results:
            counts[r.status.value] += 1
        return {
            "ops_run": len(ops_run),
            "ops_in_registry": self.info.ops_in_registry,
            "cells": len(self.results),
            "by_status": counts,
        }

    @property
    def conformant(self) -> bool:
        """No failed or error cell, and no finding outside the expected deviations.

        A finding whose cells are all blocked-by (its culprit op was not among the run's ops)
        still makes the run nonconformant: the engine has that bug.  Harness errors do not count
        against the engine (see ``harness_errors``)."""
        if any(r.status.is_problem and r.fault != "harness" for r in self.results):
            return False
        return not any(f.counts for f in self.findings())

    @property
    def harness_errors(self) -> list[Result]:
        """Cells where the harness itself failed (an oracle raised...): never the engine's fault."""
        return [r for r in self.results if r.fault == "harness" and r.status == Status.ERROR]

    @property
    def tested(self) -> int:
        """Cells that actually asked the engine something (not not-applicable, not blocked)."""
        return sum(r.status not in (Status.NOT_APPLICABLE, Status.BLOCKED_BY) for r in self.results)
