"""A time budget (``--budget MINUTES``): examples per cell scaled so that the whole run fits.

The run's cost is counted in nominal examples (what each cell's property gets in the profile).
Until :data:`WARMUP_CELLS` cells have finished every cell runs its full count; from then on each
cell about to start gets ``scale`` = the remaining time over the time the remaining nominal
examples would take at the rate measured (wall seconds per example run, start-up and shrinking
included), capped at 1.  The rate is that of the later half of the run so far: an engine that
compiles pays for its compiles in the first cells and reuses them in the later ones, so the whole
run's average would leave much of the budget unused (tinygrad at ci with 10 minutes: 393 s).
A cell never runs fewer than 2 examples (as without a budget), so a budget far too small still
runs every cell.  ``cut`` says whether any cell ran short.
"""
from __future__ import annotations

import bisect
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

from conformance.runner.plan import Cell, nominal_examples
from conformance.runner.results import RunResults

#: cells finished (with at least one example) before the measured rate is trusted
WARMUP_CELLS = 3
#: the share of the budget planned for: shrinking failures and writing the reports come after the estimate
MARGIN = 0.9
#: examples the later half of the run must have run for its rate to be used (else the whole run's)
RECENT_MIN = 20


@dataclass
class Budget:
    """Tracks one run against ``minutes``; ``nominal`` are the plan's cells' nominal example counts."""

    minutes: float
    nominal: Sequence[int]
    clock: Callable[[], float] = time.monotonic  # a test's own clock
    started: float | None = None  # the clock's reading at the start (None: now)
    examples_run: int = 0
    cells_measured: int = 0
    cut: bool = False
    _left: int = 0  # nominal examples of the cells not yet started
    _times: list[float] = field(default_factory=list)  # when each cell finished ...
    _counts: list[int] = field(default_factory=list)  # ... and the examples run by then

    def __post_init__(self) -> None:
        self._left = sum(self.nominal)
        if self.started is None:
            self.started = self.clock()

    def scale(self, nominal: int) -> float:
        """The share of its ``nominal`` examples the cell about to start gets (and counts it as started)."""
        now = self.clock()
        remaining_nominal = self._left
        self._left -= nominal
        if self.cells_measured < WARMUP_CELLS or self.examples_run == 0 or remaining_nominal <= 0:
            return 1.0
        left_s = self.minutes * 60.0 * MARGIN - (now - self.started)
        s = max(0.0, left_s) / (self.seconds_per_example(now) * remaining_nominal)
        if s < 1.0:
            self.cut = True
            return max(s, 0.0)
        return 1.0

    def seconds_per_example(self, now: float) -> float:
        """Wall seconds per example over the later half of the run so far (over all of it while that half
        has run fewer than RECENT_MIN examples)."""
        assert self.started is not None
        k = bisect.bisect_right(self._times, self.started + (now - self.started) / 2)
        since, before = (self._times[k - 1], self._counts[k - 1]) if k else (self.started, 0)
        if self.examples_run - before < RECENT_MIN:
            since, before = self.started, 0
        return (now - since) / (self.examples_run - before)

    def finished(self, examples: int) -> None:
        """A cell finished having run ``examples`` examples."""
        self.examples_run += examples
        if examples:
            self.cells_measured += 1
            self._times.append(self.clock())
            self._counts.append(self.examples_run)


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
