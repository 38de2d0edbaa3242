"""Multi-engine page: engines x properties, with a drill-down to each engine's ops.

``merge(runs)`` pairs each run with a unique label (engine name, suffixed when two
runs share one) and ``render_merged`` draws one row per engine and one column per
property; a cell is coloured by the worst status of that engine's cells for the
property and shows "passed/total" plus problem counts.  Each engine then has a
``<details>`` with its own op x property matrix and, when given, a link to its own
index.html.
"""
from __future__ import annotations

import os
import pathlib
from dataclasses import dataclass, field

from conformance.report import dtypes
from conformance.report.formatting import md_code, md_escape, worst
from conformance.report.html import dtype_table_html, e, filter_bar, matrix_html, page, rules_html
from conformance.report.summary import headline
from conformance.runner.results import RunResults, Status


@dataclass
class MergedRuns:
    """Several runs (usually one per engine) with display labels and optional report links."""

    labels: list[str]
    runs: list[RunResults]
    links: dict[str, str] = field(default_factory=dict)  # label -> href of that run's index.html

    @property
    def properties(self) -> list[str]:
        return sorted({r.property for run in self.runs for r in run.results})


def merge(runs: list[RunResults], links: list[str | None] | None = None) -> MergedRuns:
    """Label each run by engine (``name (2)`` for repeats); ``links[i]`` is run i's index.html href."""
    if not runs:
        raise ValueError("merge needs at least one run")
    labels: list[str] = []
    for run in runs:
        label, n = run.info.engine, 1
        while label in labels:
            n += 1
            label = f"{run.info.engine} ({n})"
        labels.append(label)
    hrefs = {lab: h for lab, h in zip(labels, links or []) if h}
    return MergedRuns(labels, list(runs), hrefs)


def _cell(run: RunResults, prop: str, label: str) -> str:
    rs = [r for r in run.results if r.property == prop]
    if not rs:
        return '<td class="cell empty"></td>'
    st = [r.status for r in rs]
    w = worst(st)
    passed = st.count(Status.PASSED)
    bad = st.count(Status.FAILED) + st.count(Status.ERROR)
    tip = ", ".join(f"{s.value}: {st.count(s)}" for s in Status if st.count(s))
    text = f"{passed}/{len(st)}" + (f" ✘{bad}" if bad else "")
    return (
        f'<td class="cell st-{w.value}" title="{e(label)} · {e(prop)}: {e(tip)}">'
        f'<span class="mark st-{w.value}" data-status="{w.value}" data-op="" data-prop="{e(prop)}" '
        f'data-engine="{e(label)}">{e(text)}</span></td>'
    )


def render_merged(merged: MergedRuns) -> str:
    """The multi-engine index.html text."""
    props = merged.properties
    head = "".join(f'<th scope="col">{e(p)}</th>' for p in props)
    rows, names = [], []
    for label, run in zip(merged.labels, merged.runs):
        name = e(label)
        if label in merged.links:
            name = f'<a href="{e(merged.links[label])}">{name}</a>'
        names.append((label, run.results, merged.links.get(label)))
        cells = "".join(_cell(run, p, label) for p in props)
        rows.append(f'<tr><th class="op" scope="row">{name}</th>{cells}</tr>')
    verdicts = "".join(
        f'<tr><td>{e(lab)}</td><td>{e(run.info.engine_version or "")}</td><td>{e(headline(run))}</td>'
        f'<td>{"complete" if run.info.complete else "INCOMPLETE"}</td><td>{e(run.info.started_at)}</td></tr>'
        for lab, run in zip(merged.labels, merged.runs)
    )
    status_counts = {s: 0 for s in Status}
    for run in merged.runs:
        for r in run.results:
            status_counts[r.status] += 1
    drill = []
    for i, (label, run) in enumerate(zip(merged.labels, merged.runs)):
        link = f' · <a href="{e(merged.links[label])}">full report</a>' if label in merged.links else ""
        drill.append(
            f'<details class="engine" data-engine="{e(label)}"><summary><b>{e(label)}</b>: {e(headline(run))}{link}'
            f"</summary>{matrix_html(run.results, prefix=f'e{i}-')}{rules_html(run.results, prefix=f'e{i}-')}</details>"
        )
    body = [
        f"<h1>Autograd conformance: {len(merged.runs)} engines</h1>",
        '<table class="meta"><tr><td>engine</td><td>version</td><td>verdict</td><td>run</td><td>started</td></tr>'
        f"{verdicts}</table>",
        "<h2>Engines × properties</h2>",
        filter_bar(status_counts),
        '<p class="small">Each cell: passed / cells of that property (all ops and dtypes), ✘ = failed + error; '
        "coloured by the worst status.</p>",
        f'<div class="scroll"><table class="matrix" id="engines"><thead><tr><th></th>{head}</tr></thead>'
        f'<tbody>{"".join(rows)}</tbody></table></div>',
        "<h2>Engines × dtypes</h2>",
        dtype_table_html(names, table_id="engine-dtypes"),
        "<h2>Per engine: ops × properties</h2>",
        *drill,
    ]
    return page("conformance: engines", "\n".join(body))


def render_merged_summary(merged: MergedRuns) -> str:
    """summary.md of the merged page: one line per engine."""
    lines = ["## Autograd conformance by engine", "",
             "| engine | verdict | ops run | " + " | ".join(dtypes.COLUMNS) + " | complete |",
             "|---|---|---:|" + "---:|" * len(dtypes.COLUMNS) + "---|"]
    for label, run in zip(merged.labels, merged.runs):
        cov = run.coverage()
        mark = "✅" if run.conformant else "❌"
        lines.append(
            f"| {md_code(label)} | {mark} {md_escape(headline(run))} | {cov['ops_run']}/{cov['ops_in_registry']} | "
            + " | ".join(dtypes.texts(run)) + f" | {'yes' if run.info.complete else '**no**'} |"
        )
    return "\n".join(lines + ["", dtypes.LEGEND + "."]) + "\n"


def relative_link(target: pathlib.Path, out_dir: pathlib.Path) -> str | None:
    """href from ``out_dir/index.html`` to ``target`` if it exists, else None."""
    if not target.is_file():
        return None
    return pathlib.PurePath(os.path.relpath(target.resolve(), out_dir.resolve())).as_posix()
