"""The dtype columns of the reports (issue 20 item 5): a run's cells passed out of cells run, per dtype.

A reader asks "does this engine hold up in float32? in half? with integer tensors?" -- the op x
property matrix answers cell by cell, these columns at a glance.  Columns:

* ``float64``, ``float32``, ``float16``, ``bfloat16``: the cells of that dtype;
* ``int``: the cells of the properties that ask integer and bool tensors (those that need the
  adapter's ``integer_leaf``: integer_requires_grad, integer_reduction).  Their cells are labelled
  float64, the example drawing its integer dtype, so they are counted here and not under float64.

A column reads ``passed/run`` (a cell is run unless not-applicable; expected failures are run, not
passed), ``n/a`` where every cell of the dtype was not-applicable (the engine does not declare the
dtype, or lacks ``integer_leaf``), and ``–`` where the run had no cell of it (quick has no half cells).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable

from conformance.checks.properties import PROPERTIES
from conformance.report.formatting import worst
from conformance.runner.results import Result, RunResults, Status

COLUMNS = ("float64", "float32", "float16", "bfloat16", "int")
#: one line under any table with these columns
LEGEND = ("dtype columns: cells passed / cells run in that dtype (int: the integer and bool tensor properties); "
          "n/a: none run (the engine does not declare the dtype; int: its adapter has no integer_leaf); "
          "–: none in the run's profile")


def column(r: Result) -> str:
    """The dtype column a cell counts in: ``int`` for the integer-tensor properties, else its dtype."""
    prop = PROPERTIES.get(r.property)
    if prop is not None and "integer_leaf" in prop.methods:
        return "int"
    return r.dtype


@dataclass
class DtypeCells:
    """One dtype column of one run: its cells' statuses."""

    statuses: list[Status] = field(default_factory=list)

    @property
    def run(self) -> int:
        return sum(s != Status.NOT_APPLICABLE for s in self.statuses)

    @property
    def passed(self) -> int:
        return self.statuses.count(Status.PASSED)

    @property
    def bad(self) -> int:
        """Failed and error cells: the nonconformances in this dtype."""
        return self.statuses.count(Status.FAILED) + self.statuses.count(Status.ERROR)

    @property
    def worst(self) -> Status:
        return worst(self.statuses)

    def text(self) -> str:
        if not self.statuses:
            return "–"
        return f"{self.passed}/{self.run}" if self.run else "n/a"


def by_dtype(results: Iterable[Result]) -> dict[str, DtypeCells]:
    """Every column of COLUMNS (in order), then any other dtype the cells name, each with its cells."""
    out = {c: DtypeCells() for c in COLUMNS}
    for r in results:
        out.setdefault(column(r), DtypeCells()).statuses.append(r.status)
    return out


def texts(run: RunResults) -> list[str]:
    """The COLUMNS' texts for ``run``, in order (a table row's dtype cells)."""
    cols = by_dtype(run.results)
    return [cols[c].text() for c in COLUMNS]


def markdown(run: RunResults) -> list[str]:
    """A one-row markdown table of the run's dtype columns (summary.md), with its legend."""
    cols = by_dtype(run.results)
    names = [c for c in cols if c in COLUMNS or cols[c].statuses]
    return ["| " + " | ".join(names) + " |", "|" + "---:|" * len(names),
            "| " + " | ".join(cols[c].text() + (f" ✘{cols[c].bad}" if cols[c].bad else "") for c in names) + " |",
            "", LEGEND + ".", ""]
