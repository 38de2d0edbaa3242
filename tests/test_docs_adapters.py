"""docs/adapters.md keeps up with the code: every capability and optional method has its row, and each
row names every property the capability or method gates (read off the properties' declarations)."""
from __future__ import annotations

import re
from pathlib import Path

from conformance.checks.properties import PROPERTIES
from conformance.engines.adapter import ALL_CAPABILITIES, OPTIONAL_METHODS

DOC = (Path(__file__).resolve().parents[1] / "docs" / "adapters.md").read_text()


def _rows(heading: str) -> list[tuple[set[str], set[str]]]:
    """(names in the first cell, backticked names in the others) for each row of the table under ``heading``."""
    section = DOC.split(heading, 1)[1].split("\n#", 1)[0]
    rows = []
    for line in section.splitlines():
        if line.startswith("| `"):
            cells = line.strip("|").split("|")
            rows.append((set(re.findall(r"`(\w+)[`(]", cells[0])), set(re.findall(r"`(\w+)`", "|".join(cells[1:])))))
    return rows


def test_every_capability_row_names_the_properties_it_gates() -> None:
    rows = _rows("### Capabilities: what each one turns on")
    assert set().union(*(names for names, _ in rows)) == set(ALL_CAPABILITIES)
    for names, text in rows:
        gated = {p.name for p in PROPERTIES.values() if p.capabilities & names}
        assert gated <= text, (sorted(names), sorted(gated - text))


def test_every_optional_method_row_names_the_properties_that_call_it() -> None:
    rows = _rows("### Optional methods: what is not asked without them")
    assert set().union(*(names for names, _ in rows)) == set(OPTIONAL_METHODS)
    for names, text in rows:
        calling = {p.name for p in PROPERTIES.values() if p.methods & names}
        assert calling <= text, (sorted(names), sorted(calling - text))
        assert calling or "nothing today" in DOC, names
