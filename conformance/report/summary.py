"""summary.md: a short Markdown digest for GitHub's job summary ($GITHUB_STEP_SUMMARY).

Headline verdict, an incomplete-run banner, the findings (one line per distinct bug, most
cells first, harness errors apart), counts by status, coverage, and the failing cells one
line each (capped, so a badly broken engine still fits the summary size limit).  Details
live in index.html / junit.xml.
"""
from __future__ import annotations

from conformance.report import dtypes
from conformance.report.diff import RunDiff
from conformance.report.formatting import (counts, finding_title, finding_where, md_code, md_escape, one_line,
                                           problems)
from conformance.runner.results import RunResults, Status

MAX_LINES = 60


def headline(run: RunResults) -> str:
    """The verdict: "conformant" or "N nonconformances (F failed, E errors)", "so far" if incomplete."""
    c = counts(run)
    n = c[Status.FAILED] + c[Status.ERROR]
    so_far = "" if run.info.complete else " so far (incomplete run)"
    found = [f for f in run.findings() if f.counts]
    if n == 0 and not found:
        return "conformant" + so_far
    errors, blocked = c[Status.ERROR], c[Status.BLOCKED_BY]
    plural = "s" if len(found) != 1 else ""
    if n == 0:  # every failing cell lies in an op outside the run: blocked-by only
        return f"{len(found)} finding{plural}{so_far} ({blocked} blocked-by cells)"
    more = f", {blocked} blocked-by" if blocked else ""
    return (
        f"{n} nonconformance{'s' if n != 1 else ''}{so_far} "
        f"({c[Status.FAILED]} failed, {errors} error{'s' if errors != 1 else ''}{more}) "
        f"from {len(found)} finding{plural}"
    )


def render_summary(run: RunResults, diff: RunDiff | None = None, max_lines: int = MAX_LINES) -> str:
    """The summary.md text; ``diff`` (against a baseline) adds a regressions section."""
    info = run.info
    c = counts(run)
    mark = "❌" if not run.conformant else ("✅" if info.complete else "⚠️")
    version = f" {info.engine_version}" if info.engine_version else ""
    lines = [f"## {mark} {md_code(info.engine)}{md_escape(version)}: {headline(run)}", ""]
    if not info.complete:
        lines += [
            f"> ⚠️ **Incomplete run**: the run did not finish (started {info.started_at}); "
            f"this report covers only the {len(run.results)} cells that finished.",
            "",
        ]
    if getattr(info, "budget_cut", False):
        ran = sum(r.examples or 0 for r in run.results)
        lines += [f"> ⏱ **Budget**: the {info.budget_minutes:g}-minute budget cut the {info.profile} profile short "
                  f"({ran} examples run; each cell's examples in results.json).", ""]
    lines += findings_markdown(run, max_lines)
    cov = run.coverage()
    lines += [
        f"Profile {md_code(info.profile)} · seed {info.seed} · harness {md_escape(info.harness_version)} · "
        f"coverage: **{cov['ops_run']} / {cov['ops_in_registry']} ops** run, {cov['cells']} cells",
        "",
        "| " + " | ".join(s.value for s in Status) + " |",
        "|" + "---:|" * len(Status),
        "| " + " | ".join(str(c[s]) for s in Status) + " |",
        "",
        *dtypes.markdown(run),
    ]
    if diff is not None:
        lines += [diff.to_markdown(limit=20), ""]
    bad = problems(run)
    if bad:
        lines += [f"### Failing cells ({len(bad)})", ""]
        for r in bad[:max_lines]:
            lines.append(
                f"- **{r.status.value}** {md_code(f'{r.op}[{r.dtype}]')} · "
                f"{md_escape(r.property)} — {md_escape(one_line(r))}"
            )
        if len(bad) > max_lines:
            lines.append(f"- … and {len(bad) - max_lines} more (see index.html or junit.xml)")
        lines.append("")
    xf = c[Status.EXPECTED_FAILURE]
    if xf:
        lines += [f"{xf} expected failure(s) listed in the expectations file are not counted as nonconformances.", ""]
    return "\n".join(lines)


def findings_markdown(run: RunResults, max_lines: int = MAX_LINES) -> list[str]:
    """The findings section: one line per distinct bug, most cells first; harness errors apart."""
    found = run.findings()
    engine = [f for f in found if f.fault != "harness"]
    harness = [f for f in found if f.fault == "harness"]
    lines: list[str] = []
    if engine:
        lines += [f"### Findings ({len(engine)})", ""]
        for f in engine[:max_lines]:
            tag = " (expected)" if f.expected else (" (interaction)" if f.interaction else "")
            who = "" if f.fault == "engine" else f" · fault: **{f.fault}**"
            lines.append(f"- **{md_escape(finding_title(f)[:160])}**{tag}{who} — {len(f.cells)} cell"
                         f"{'s' if len(f.cells) != 1 else ''}: {md_escape(finding_where(f))} "
                         f"({md_code(f.id)})")
        if len(engine) > max_lines:
            lines.append(f"- … and {len(engine) - max_lines} more (see results.json)")
        lines.append("")
    if harness:
        lines += [f"### ⚠️ Harness errors ({len(harness)}): not the engine's fault, please report", ""]
        lines += [f"- {md_escape(f.signature)} — {md_escape(finding_where(f))}" for f in harness[:max_lines]]
        lines.append("")
    return lines
