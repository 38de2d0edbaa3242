"""Helpers shared by the renderers: status order and colours, cell ids, one-line reasons."""
from __future__ import annotations

import hashlib
import math
import re
from collections import defaultdict

from conformance.runner.results import ANY_OP, Result, RunResults, Status

#: Best to worst, as declared in Status; a cell with several dtypes shows its worst.
STATUS_ORDER: list[Status] = list(Status)
RANK = {s: i for i, s in enumerate(STATUS_ORDER)}

COLORS = {
    Status.PASSED: "#2da44e",
    Status.NOT_APPLICABLE: "#b8c0c8",
    Status.EXPECTED_FAILURE: "#d4a72c",
    Status.BLOCKED_BY: "#8c6bc8",
    Status.FAILED: "#cf222e",
    Status.ERROR: "#e36209",
}

#: Statuses shown with details (reason, reproducer...) below the matrix.
DETAILED = (Status.FAILED, Status.ERROR, Status.EXPECTED_FAILURE, Status.BLOCKED_BY)


def worst(statuses) -> Status:
    """The worst of some statuses (PASSED for none)."""
    return max(statuses, key=RANK.__getitem__, default=Status.PASSED)


def short_dtype(dtype: str) -> str:
    """Compact label for a dtype mark: float32 -> f32, complex128 -> c128, bool -> boo."""
    m = re.fullmatch(r"(float|complex|int|uint|bfloat)(\d+)", dtype)
    if m:
        return {"float": "f", "complex": "c", "int": "i", "uint": "u", "bfloat": "bf"}[m[1]] + m[2]
    return dtype[:4] or "-"


def cell_label(r: Result) -> str:
    """``op[dtype] property``, the way a cell is named in text reports."""
    return f"{r.op}[{r.dtype}] {r.property}"


def cell_id(r: Result) -> str:
    """A stable HTML id for a cell (op names may contain any character)."""
    h = hashlib.sha1("\0".join(r.key).encode()).hexdigest()[:10]
    slug = re.sub(r"[^A-Za-z0-9_-]+", "-", f"{r.op}-{r.property}-{r.dtype}").strip("-")[:60]
    return f"cell-{slug}-{h}"


def one_line(r: Result, limit: int = 140) -> str:
    """The one-line reason for a cell: first non-empty message line, else a status-specific default."""
    text = next((ln.strip() for ln in (r.message or "").splitlines() if ln.strip()), "")
    if r.status == Status.BLOCKED_BY and r.blocked_by:
        text = text or f"blocked by {r.blocked_by}"
    if r.status == Status.EXPECTED_FAILURE and r.expectation_reason and not text:
        text = f"expected: {r.expectation_reason}"
    if not text and r.traceback:
        tb = [ln.strip() for ln in r.traceback.splitlines() if ln.strip()]
        text = tb[-1] if tb else ""
    if not text and r.max_rel_error is not None:
        text = f"max rel error {fmt_err(r.max_rel_error)}"
    text = text or r.status.value
    return text if len(text) <= limit else text[: limit - 1] + "…"


def fmt_err(x: float | None) -> str:
    """Format an error magnitude compactly ("—" when not recorded)."""
    if x is None:
        return "—"
    if isinstance(x, str):
        return x
    if math.isnan(x) or math.isinf(x):
        return str(x)
    return f"{x:.3g}"


def matrix(results: list[Result]) -> tuple[list[str], list[str], dict[tuple[str, str], list[Result]]]:
    """Group results into (ops, properties, {(op, property): [results by dtype]}), sorted.

    Op-independent cells (op ``*``) form their own first row.
    """
    cells: dict[tuple[str, str], list[Result]] = defaultdict(list)
    for r in results:
        cells[(r.op, r.property)].append(r)
    for v in cells.values():
        v.sort(key=lambda r: r.dtype)
    ops = sorted({r.op for r in results}, key=lambda o: (o != ANY_OP, o))
    props = sorted({r.property for r in results})
    return ops, props, dict(cells)


def counts(run: RunResults) -> dict[Status, int]:
    """Cells per status (every status present)."""
    c = {s: 0 for s in Status}
    for r in run.results:
        c[r.status] += 1
    return c


def problems(run: RunResults) -> list[Result]:
    """Failed and error cells, worst first then by op/property/dtype."""
    return sorted((r for r in run.results if r.status.is_problem), key=lambda r: (-RANK[r.status], r.key))


def md_escape(text: str) -> str:
    """Escape characters that would turn a plain line into Markdown/HTML markup."""
    out = text.replace("\\", "\\\\").replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    for ch in "`*_[]|#":
        out = out.replace(ch, "\\" + ch)
    return out


def md_code(text: str) -> str:
    """A Markdown code span for ``text`` (backslashes are literal there, so no escaping)."""
    text = text.replace("\n", " ")
    fence = "`" * (max((len(m) for m in re.findall(r"`+", text)), default=0) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def finding_title(f) -> str:
    """``add: gradient not reduced over broadcast dims`` -- the culprit, then what is wrong."""
    kind = "op" if "op" in f.culprit else "rule"
    return f"{kind} {f.culprit_name}: {f.signature}"


def finding_where(f, limit: int = 6) -> str:
    """The cells a finding explains, compactly: ``sin[f32] grad_vs_torch, exp[f64] vjp, … (+12)``."""
    shown = ", ".join(f"{op}[{short_dtype(dt)}] {prop}" for op, prop, dt in f.cells[:limit])
    return shown + (f", … (+{len(f.cells) - limit})" if len(f.cells) > limit else "")
