"""Expected deviations as data (``--expect FILE``).

A TOML (or JSON) file lists an engine's known, accepted deviations, each with a
reason::

    [[deviation]]
    engine = "refengine"        # or "*"
    op = "pow"                  # or "*" (also the ANY_OP cells)
    property = "grad_vs_torch"  # or "*"
    dtype = "float32"           # or "*"
    signature = "wrong values"  # optional: words of the finding's signature or message (results.json), so
                                # an op = "*" entry excuses that behaviour only, not every bug of the rule
    program_op = "stack"        # optional: an op the failing example's program must contain, so an
                                # op-independent rule's entry excuses failures that go through that op
    reason = "pow uses exp(b*log(a)); 3 ulp off torch in float32"

Matching FAILED/ERROR cells become EXPECTED_FAILURE with the reason; entries that
match no failing cell of the run are returned as stale, so the file cannot rot
silently.  Nothing is skipped: an expected cell still runs.
"""
from __future__ import annotations

import dataclasses
import json
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from conformance.runner.findings import signature_of
from conformance.runner.results import Result, Status

FIELDS = ("engine", "op", "property", "dtype")


@dataclass(frozen=True)
class Deviation:
    engine: str
    op: str
    property: str
    dtype: str
    reason: str
    signature: str = ""  # words the cell's failure signature or message must contain ("": any failure)
    program_op: str = ""  # an op the failing example's program must contain ("": any program)

    def matches(self, r: Result) -> bool:
        # an op's entry describes that op wherever its behaviour shows: in its own cells, and in a rule's
        # cell whose failure diagnosis blamed it (an op-independent rule drew the op)
        if self.op not in ("*", r.op) and (r.culprit or {}).get("op") != self.op:
            return False
        if not all(getattr(self, f) in ("*", getattr(r, f)) for f in FIELDS if f != "op"):
            return False
        if self.program_op and self.program_op not in program_ops(r.program):
            return False
        # the signature names the kind of failure ("raises ValueError"); the engine's own words are in the message
        return not self.signature or any(self.signature in text for text in
                                         (r.signature or signature_of(r.message), r.message or ""))

    def describe(self) -> str:
        narrowed = [f"{k} {v!r}" for k, v in (("signature", self.signature), ("in a program with", self.program_op))
                    if v]
        return "/".join(getattr(self, f) for f in FIELDS) + (f" ({', '.join(narrowed)})" if narrowed else "")


def program_ops(program: Any) -> set[str]:
    """The ops of a failing example as results.json stores it (a program's JSON), else none."""
    if not isinstance(program, dict):
        return set()
    body = program.get("program", program)
    return {n["op"] for n in body.get("nodes", []) if isinstance(n, dict) and "op" in n}


def load(path: Path) -> list[Deviation]:
    """Parse the file; raise ValueError with a one-line reason on bad content."""

    data = load_json_or_toml(path)
    entries = data.get("deviation", data.get("deviations", [])) if isinstance(data, dict) else data
    if not isinstance(entries, list):
        raise ValueError(f"{path}: expected [[deviation]] tables (a list of entries), got {type(entries).__name__}")
    out = []
    text = "" if path.suffix == ".json" else path.read_text(encoding="utf-8")  # for entries' line numbers
    for k, e in enumerate(entries):
        where = f"{path}{entry_line(text, k)}"
        if not isinstance(e, dict) or not str(e.get("reason", "")).strip():
            raise ValueError(f"{where}: entry {k + 1} needs a non-empty reason")
        unknown = set(e) - set(FIELDS) - {"reason", "signature", "program_op"}
        if unknown:
            raise ValueError(f"{where}: entry {k + 1} has unknown keys {sorted(unknown)}")
        out.append(Deviation(*(str(e.get(f, "*")) for f in FIELDS), reason=str(e["reason"]),
                             signature=str(e.get("signature", "")), program_op=str(e.get("program_op", ""))))
    return out


def apply(results: list[Result], deviations: list[Deviation]) -> list[Deviation]:
    """Mark the failures that match an entry as expected (in place); return the stale entries.

    A cell can hold more than one failure (its own, and in ``also`` the other bugs its example
    showed).  Each is matched on its own; the cell reads expected only when every one of them
    is, so an expected behaviour cannot hide an unexpected bug found in the same example: that
    cell stays failed, its expected failure's reason recorded (``expectation_reason``), and only
    the unexpected bug's finding counts."""
    used: set[int] = set()

    def match(r: Result) -> str | None:
        for k, d in enumerate(deviations):
            if d.matches(r):
                used.add(k)
                return d.reason
        return None

    for r in results:
        if not r.status.is_problem:
            continue
        reason = match(r)
        extras = [match(_as_cell(r, extra)) for extra in r.also]
        for extra, why in zip(r.also, extras):
            if why is not None:
                extra["expected"] = why
        if reason is not None:
            r.expectation_reason = reason
            if all(why is not None for why in extras):
                r.status = Status.EXPECTED_FAILURE
    ran = {(r.engine, r.op, r.property, r.dtype) for r in results}
    return [d for k, d in enumerate(deviations) if k not in used and any(
        all(getattr(d, f) in ("*", v) for f, v in zip(FIELDS, cell)) for cell in ran)]


def _as_cell(r: Result, extra: dict[str, Any]) -> Result:
    """One of a cell's further failures as a cell of its own, for matching."""
    return dataclasses.replace(r, message=extra.get("message", ""), signature=extra.get("signature"),
                               culprit=extra.get("culprit"), program=extra.get("program", r.program), also=[])


def load_json_or_toml(path: Path) -> Any:
    """Parse a TOML (or ``.json``) file; ValueError names the file, line and what was expected."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ValueError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as e:
        raise ValueError(f"{path}: cannot read: {getattr(e, 'strerror', None) or e}") from None
    try:
        return json.loads(text) if path.suffix == ".json" else tomllib.loads(text)
    except json.JSONDecodeError as e:
        raise ValueError(f"{path}:{e.lineno}: invalid JSON: {e.msg} (column {e.colno})") from None
    except tomllib.TOMLDecodeError as e:
        raise ValueError(f"{path}: invalid TOML: {e}") from None


def entry_line(text: str, k: int) -> str:
    """':LINE' of the k-th (0-based) ``[[deviation]]`` table in a TOML text, or '' if not found."""
    lines = [i + 1 for i, line in enumerate(text.splitlines()) if line.strip().startswith("[[deviation")]
    return f":{lines[k]}" if k < len(lines) else ""
