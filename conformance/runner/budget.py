"""A time budget (``--budget MINUTES``): examples per cell scaled so that the whole run fits.

The run's cost is counted in nominal examples (what each cell's property gets in the profile).
Until :data:`WARMUP_CELLS` cells have finished every cell runs its full count; from then on each
cell about to start gets ``scale`` = the remaining time over the time the remaining nominal
examples would take at the rate measured so far (wall seconds per example run, start-up and
shrinking included), capped at 1.  A cell never runs fewer than 2 examples (as without a budget),
so a budget far too small still runs every cell.  ``cut`` says whether any cell ran short.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Sequence

from conformance.runner.plan import Cell, nominal_examples
from conformance.runner.results import RunResults

#: cells finished (with at least one example) before the measured rate is trusted
WARMUP_CELLS = 3
#: the share of the budget planned for: shrinking failures and writing the reports come after the estimate
MARGIN = 0.9


@dataclass
class Budget:
    """Tracks one run against ``minutes``; ``nominal`` are the plan's cells' nominal example counts."""

    minutes: float
    nominal: Sequence[int]
    started: float = field(default_factory=time.monotonic)
    examples_run: int = 0
    cells_measured: int = 0
    cut: bool = False
    _left: int = 0  # nominal examples of the cells not yet started

    def __post_init__(self) -> None:
        self._left = sum(self.nominal)

    def scale(self, nominal: int) -> float:
        """The share of its ``nominal`` examples the cell about to start gets (and counts it as started)."""
        elapsed = time.monotonic() - self.started
        remaining_nominal = self._left
        self._left -= nominal
        if self.cells_measured < WARMUP_CELLS or self.examples_run == 0 or remaining_nominal <= 0:
            return 1.0
        per_example = elapsed / self.examples_run
        left_s = self.minutes * 60.0 * MARGIN - elapsed
        s = max(0.0, left_s) / (per_example * remaining_nominal)
        if s < 1.0:
            self.cut = True
            return max(s, 0.0)
        return 1.0

    def finished(self, examples: int) -> None:
        """A cell finished having run ``examples`` examples."""
        self.examples_run += examples
        if examples:
            self.cells_measured += 1


@dataclass(frozen=True)
class Limits:
    """--shapes and --budget: how cells are bounded (shapes None: the engine's default)."""

    shapes: int | None = None
    budget: Budget | None = None
    profile: Any = None  # the run's Profile (what a cell's nominal examples are)

    def scale(self, cell: Cell) -> float:
        """The share of its examples ``cell`` (about to start) gets."""
        return self.budget.scale(nominal_examples(self.profile, cell[0])) if self.budget else 1.0


def budget_line(rr: RunResults, profile: str) -> str:
    """What a --budget did to the run, in one line."""
    ran = sum(r.examples or 0 for r in rr.results)
    if rr.info.budget_cut:
        return (f"conformance: the {rr.info.budget_minutes:g}-minute budget cut the {profile} profile short: "
                f"{ran} examples run (each cell's count in results.json)")
    return f"conformance: the {profile} profile fit the {rr.info.budget_minutes:g}-minute budget ({ran} examples)"
