"""Baseline diffs: which cells regressed, were fixed, still fail, appeared or disappeared.

Cells are matched by key ``(op, property, dtype)`` (engine excluded).  "Bad" means a
status that makes a run nonconformant: ``failed`` or ``error``.  "Failing" means bad or
``expected-failure``.  Each key in either run gets exactly one category, the first
that applies:

``removed``        in the baseline only (coverage lost; for an incomplete new run,
                   possibly just not reached).
``new``            in the new run only (new coverage, whatever its status; a failing
                   new cell is listed but is *not* a regression, so a harness upgrade that
                   adds checks does not break a user's gate — ``--fail-on any`` catches it).
``regression``     baseline status not bad (passed, not-applicable, expected-failure,
                   blocked-by), new status bad (failed, error).  This is exactly "the
                   baseline would pass a --fail-on regression gate for this cell and the
                   new run would not".
``still-failing``  failing in both (e.g. failed -> failed, error -> expected-failure,
                   expected-failure -> expected-failure).
``fix``            failing in the baseline, passed now.
``unchanged``      same status, not failing.
``changed``        any other status change, which does not gate (passed ->
                   expected-failure, passed -> not-applicable, failed -> blocked-by...).

Findings (distinct bugs, ``results.json`` ``findings``) are matched by id, which is stable
across runs (culprit, signature and fault): ``new``, ``fixed`` and ``still`` findings.  A new
finding that counts against the engine, explains a cell the baseline had and passed, and has
no cell counted as a regression already is a regression too: a glue op newly broken turns
other ops' cells blocked-by, which no cell category would flag.

Exit codes (``RunDiff.exit_code``): with ``fail_on="regression"`` 1 iff there is a
regression (a cell, or a finding as above); with ``fail_on="any"`` 1 iff there is a regression, or the new run has any
failed/error cell, or the new run is incomplete; else 0.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

from conformance.report.formatting import md_escape, one_line
from conformance.runner.results import Result, RunInfo, RunResults, Status


class Change(str, enum.Enum):
    """Category of one cell key in a diff (see the module docstring for the exact rules)."""

    REGRESSION = "regression"
    FIX = "fix"
    STILL_FAILING = "still-failing"
    NEW = "new"
    REMOVED = "removed"
    CHANGED = "changed"
    UNCHANGED = "unchanged"


BAD = frozenset({Status.FAILED, Status.ERROR})
FAILING = BAD | {Status.EXPECTED_FAILURE}
FAIL_ON = ("regression", "any")

_TITLES = {
    Change.REGRESSION: "Regressions",
    Change.FIX: "Fixes",
    Change.STILL_FAILING: "Still failing",
    Change.NEW: "New coverage",
    Change.REMOVED: "Removed coverage",
    Change.CHANGED: "Other status changes",
}


def classify(old: Status | None, new: Status | None) -> Change:
    """Category of a key whose baseline status is ``old`` and new status is ``new`` (None = absent)."""
    if old is None and new is None:
        raise ValueError("a key must be present in at least one run")
    if new is None:
        return Change.REMOVED
    if old is None:
        return Change.NEW
    if old not in BAD and new in BAD:
        return Change.REGRESSION
    if old in FAILING and new in FAILING:
        return Change.STILL_FAILING
    if old in FAILING and new == Status.PASSED:
        return Change.FIX
    if old == new:
        return Change.UNCHANGED
    return Change.CHANGED


@dataclass
class CellChange:
    """One key of the diff with the baseline and new results (either may be None)."""

    key: tuple[str, str, str]
    change: Change
    old: Result | None
    new: Result | None

    @property
    def label(self) -> str:
        op, prop, dtype = self.key
        return f"{op}[{dtype}] {prop}"

    def describe(self) -> str:
        """One line: label, status transition and the reason of the relevant side."""
        o = self.old.status.value if self.old else "absent"
        n = self.new.status.value if self.new else "absent"
        side = self.new if self.new is not None and self.new.status in FAILING else None
        reason = f" — {one_line(side, 120)}" if side is not None else ""
        return f"{self.label}: {o} -> {n}{reason}"


@dataclass
class RunDiff:
    """Every cell key of two runs, classified."""

    baseline: RunInfo
    new: RunInfo
    cells: list[CellChange] = field(default_factory=list)
    new_problems: int = 0  # failed/error cells in the new run
    findings_new: list[Any] = field(default_factory=list)  # Findings of the new run absent from the baseline
    findings_fixed: list[Any] = field(default_factory=list)  # baseline Findings absent from the new run
    findings_still: list[Any] = field(default_factory=list)  # in both (the new run's)
    findings_regressed: list[Any] = field(default_factory=list)  # new, counting, on cells that passed before

    def of(self, change: Change) -> list[CellChange]:
        return [c for c in self.cells if c.change == change]

    @property
    def regressions(self) -> list[CellChange]:
        return self.of(Change.REGRESSION)

    def counts(self) -> dict[Change, int]:
        out = {c: 0 for c in Change}
        for c in self.cells:
            out[c.change] += 1
        return out

    def exit_code(self, fail_on: str = "regression") -> int:
        """0 or 1 per the gate (module docstring); ValueError for an unknown ``fail_on``."""
        if fail_on not in FAIL_ON:
            raise ValueError(f"fail_on must be one of {FAIL_ON}, got {fail_on!r}")
        if self.regressions or self.findings_regressed:
            return 1
        if fail_on == "any" and (self.new_problems or not self.new.complete):
            return 1
        return 0

    def _header(self) -> str:
        b, n = self.baseline, self.new
        count = len(self.regressions) + len(self.findings_regressed)
        verdict = f"{count} regression(s)" if count else "no regressions"
        return f"{verdict}: {n.engine} ({n.started_at}) vs baseline {b.engine} ({b.started_at})"

    def to_text(self, show_unchanged: bool = False) -> str:
        """Plain-text rendering for terminals."""
        counts = self.counts()
        lines = [self._header(), "  " + ", ".join(f"{c.value}: {counts[c]}" for c in Change)]
        if not self.new.complete:
            lines.append("  note: the new run is incomplete; removed cells may just not have been reached")
        for change, title in _TITLES.items():
            items = self.of(change)
            if items:
                lines += ["", f"{title} ({len(items)}):"] + [f"  {c.describe()}" for c in items]
        lines += self._findings_lines("  ")
        if show_unchanged and counts[Change.UNCHANGED]:
            lines += ["", f"Unchanged ({counts[Change.UNCHANGED]}):"]
            lines += [f"  {c.describe()}" for c in self.of(Change.UNCHANGED)]
        return "\n".join(lines) + "\n"

    def to_markdown(self, limit: int = 50) -> str:
        """Markdown for a job summary: counts table and up to ``limit`` lines per category."""
        counts = self.counts()
        mark = "❌" if self.regressions else "✅"
        lines = [f"### {mark} Baseline diff: {self._header()}", ""]
        if not self.new.complete:
            lines += ["> ⚠️ The new run is incomplete; removed cells may just not have been reached.", ""]
        lines += ["| " + " | ".join(c.value for c in Change) + " |", "|" + "---:|" * len(Change)]
        lines += ["| " + " | ".join(str(counts[c]) for c in Change) + " |"]
        for change, title in _TITLES.items():
            items = self.of(change)
            if not items:
                continue
            lines += ["", f"**{title}** ({len(items)})", ""]
            lines += [f"- {md_escape(c.describe())}" for c in items[:limit]]
            if len(items) > limit:
                lines.append(f"- … and {len(items) - limit} more")
        lines += [md_escape(x) for x in self._findings_lines("- ")]
        return "\n".join(lines) + "\n"

    def _findings_lines(self, bullet: str) -> list[str]:
        lines: list[str] = []
        for title, items in (("Regressed findings", self.findings_regressed), ("New findings", self.findings_new),
                             ("Fixed findings", self.findings_fixed), ("Still-present findings", self.findings_still)):
            if items:
                lines += ["", f"{title} ({len(items)}):"]
                lines += [f"{bullet}{f.id}: {f.culprit_name}: {f.signature} ({len(f.cells)} cells)" for f in items]
        return lines


def diff_runs(baseline: RunResults, new: RunResults) -> RunDiff:
    """Classify every cell key of ``baseline`` and ``new`` (see the module docstring)."""
    old_by = {r.key: r for r in baseline.results}
    new_by = {r.key: r for r in new.results}
    order = {c: i for i, c in enumerate(Change)}
    cells = [
        CellChange(k, classify(getattr(old_by.get(k), "status", None), getattr(new_by.get(k), "status", None)),
                   old_by.get(k), new_by.get(k))
        for k in set(old_by) | set(new_by)
    ]
    cells.sort(key=lambda c: (order[c.change], c.key))
    d = RunDiff(baseline.info, new.info, cells, sum(r.status.is_problem for r in new.results))
    old_f = {f.id: f for f in baseline.findings()}
    new_f = {f.id: f for f in new.findings()}
    d.findings_new = [f for k, f in new_f.items() if k not in old_f]
    d.findings_fixed = [f for k, f in old_f.items() if k not in new_f]
    d.findings_still = [f for k, f in new_f.items() if k in old_f]
    passed_before = {r.key for r in baseline.results if r.status == Status.PASSED}
    regressed_cells = {c.key for c in d.regressions}  # those are counted already, as cells
    d.findings_regressed = [f for f in d.findings_new if f.counts and any(tuple(c) in passed_before for c in f.cells)
                            and not any(tuple(c) in regressed_cells for c in f.cells)]
    return d
