"""A time budget (``--budget MINUTES``): examples per cell scaled so that the whole run fits.

The run's cost is counted in nominal examples (what each cell's property gets in the profile).
Until :data:`WARMUP_CELLS` cells have finished every cell runs its full count; from then on each
cell about to start gets ``scale`` = the share of its nominal examples that makes the remaining
cells fit the remaining time, capped at 1: the pace measured (wall seconds per nominal example of
the finished cells, at the scales they were given) says how long the remaining cells would take
at those scales, and the new scale is theirs times remaining over needed.
Two choices make it hold for an engine that compiles (tinygrad, jax at ci, 10 minutes):
- the pace is per *nominal* example, not per example run: a cell has a cost of its own (drawing,
  compiling its programs, exploring) that does not shrink with its examples, so the seconds per
  example run grow as cells are cut, and a scale from them cut further and further (393 s used of 600);
- the pace is that of the later half of the run so far: the first cells pay for compiles the
  later ones reuse.
The cells that ask for what the engine does not declare (plan.undeclared) are no work to come: the
parent learns them when the engine is built (in a worker: its EngineInfo).
No cell gets less than SHARE_FLOOR of the mean scale the cells paced before it got.  The pace lags
where the cells' cost changes along the plan (the cells of one shared draw run first, the rules
that draw their own examples last) and where examples are not what costs (an engine that compiles
pays per cell and shape, whatever the count: in jax's 20-minute ci run, grad_vs_numerical cells of
32 examples took a median 1.7 s, of 21 examples 1.4 s; vjp's 0.75 s at 15 and at 10): cutting on,
the controller saved seconds and starved the last cells of the run, which got 2 examples of 50
each (jax at ci, 20 minutes: promotion and integer_reduction lost the findings their rare draws
make -- a float64 zero-dim operand, a bool input).  The floor trades a small overrun, which
MARGIN absorbs, for a tail that is tested like the rest.
The scale moves toward the one that fits by steps that undershoot (a cell's own cost is not
scaled), never past it.  A cell never runs fewer than 2 examples (as without a budget), so a
budget far too small still runs every cell.  ``cut`` says whether any cell ran short.
"""
from __future__ import annotations

import bisect
import time
from dataclasses import dataclass, field
from typing import Callable, Hashable, Iterable, Mapping

from conformance.runner.plan import Cell
from conformance.runner.results import RunResults

#: cells finished (with at least one example) before the measured rate is trusted
WARMUP_CELLS = 3
#: the share of the budget planned for: shrinking failures and writing the reports come after the estimate
MARGIN = 0.9
#: nominal examples the later half of the run must have finished for its pace to be used (else the whole run's)
RECENT_MIN = 200
#: no cell gets less than this share of the mean scale given to the cells paced before it
SHARE_FLOOR = 0.5


@dataclass
class Budget:
    """Tracks one run against ``minutes``; ``nominal`` maps each of the plan's cells (``cell_key``) to its
    nominal example count."""

    minutes: float
    nominal: Mapping[Hashable, int]
    clock: Callable[[], float] = time.monotonic  # a test's own clock
    started: float | None = None  # the clock's reading at the start (None: now)
    examples_run: int = 0
    cells_measured: int = 0
    cut: bool = False
    _left: int = 0  # nominal examples of the cells not yet started
    _skipped: set[Hashable] = field(default_factory=set)  # cells that will not run (the engine cannot be asked)
    _given: dict[Hashable, float] = field(default_factory=dict)  # started cell -> the scale it was given
    _times: list[float] = field(default_factory=list)  # when each cell finished, and by then (cumulative):
    _done: list[float] = field(default_factory=list)  # nominal examples of the finished cells
    _done_scaled: list[float] = field(default_factory=list)  # the same, each times the scale it was given
    _paced: tuple[float, int] = (0.0, 0)  # the scales given after the warm-up: their sum, how many

    def __post_init__(self) -> None:
        self._left = sum(self.nominal.values())
        if self.started is None:
            self.started = self.clock()

    def skip(self, cells: Iterable[Hashable]) -> None:
        """``cells`` will not run (not-applicable to the engine): their examples are no work to come.  Left to
        count, they made the remaining work look larger than it was (tinygrad: 1,838 of 3,878 cells at ci)."""
        for cell in cells:
            if cell in self.nominal and cell not in self._skipped and cell not in self._given:
                self._skipped.add(cell)
                self._left -= self.nominal[cell]

    def scale(self, cell: Hashable) -> float:
        """The share of its nominal examples ``cell`` (about to start) gets; it counts as started."""
        if cell in self._skipped:
            return 1.0
        remaining_nominal = self._left
        self._left -= self.nominal.get(cell, 0)
        s = self._given[cell] = self._scale(self.clock(), remaining_nominal)
        return s

    def _scale(self, now: float, remaining_nominal: int) -> float:
        if self.cells_measured < WARMUP_CELLS or not self._done or not self._done[-1] or remaining_nominal <= 0:
            return 1.0
        assert self.started is not None
        pace, given = self.pace(now)
        left_s = self.minutes * 60.0 * MARGIN - (now - self.started)
        s = min(1.0, given * max(0.0, left_s) / (pace * remaining_nominal))
        total, count = self._paced
        if count:  # never far below what the cells paced so far got: see the module's docstring
            s = max(s, SHARE_FLOOR * total / count)
        self._paced = (total + s, count + 1)
        self.cut = self.cut or s < 1.0
        return s

    def pace(self, now: float) -> tuple[float, float]:
        """Wall seconds per nominal example of the cells finished in the later half of the run so far (in
        all of it while that half finished fewer than RECENT_MIN), and the mean scale those were given."""
        assert self.started is not None
        k = bisect.bisect_right(self._times, self.started + (now - self.started) / 2)
        since, done, scaled = (self._times[k - 1], self._done[k - 1], self._done_scaled[k - 1]) if k else \
            (self.started, 0.0, 0.0)
        if self._done[-1] - done < RECENT_MIN:
            since, done, scaled = self.started, 0.0, 0.0
        nominal = self._done[-1] - done
        return (now - since) / nominal, (self._done_scaled[-1] - scaled) / nominal

    def finished(self, cell: Hashable, examples: int) -> None:
        """``cell`` finished having run ``examples`` examples."""
        if cell in self._skipped:
            return
        s = self._given.pop(cell, 1.0)
        self.examples_run += examples
        if examples:
            self.cells_measured += 1
        nominal = self.nominal.get(cell, examples)
        self._times.append(self.clock())
        self._done.append((self._done[-1] if self._done else 0.0) + nominal)
        self._done_scaled.append((self._done_scaled[-1] if self._done_scaled else 0.0) + nominal * s)


def cell_key(cell: Cell) -> tuple[str, str, str]:
    """A cell as the budget knows it: (property name, op, dtype)."""
    prop, op, dtype = cell
    return (prop if isinstance(prop, str) else prop.name, op, dtype)


@dataclass(frozen=True)
class Limits:
    """--shapes and --budget: how cells are bounded (shapes None: the engine's default)."""

    shapes: int | None = None
    budget: Budget | None = None

    def scale(self, cell: Cell) -> float:
        """The share of its examples ``cell`` (about to start) gets."""
        return self.budget.scale(cell_key(cell)) if self.budget else 1.0


def budget_line(rr: RunResults, profile: str) -> str:
    """What a --budget did to the run, in one line."""
    ran = sum(r.examples or 0 for r in rr.results)
    if rr.info.budget_cut:
        return (f"conformance: the {rr.info.budget_minutes:g}-minute budget cut the {profile} profile short: "
                f"{ran} examples run (each cell's count in results.json)")
    return f"conformance: the {profile} profile fit the {rr.info.budget_minutes:g}-minute budget ({ran} examples)"
