"""index.html: one self-contained page per run (inline CSS/JS, plots as base64 PNG).

Sections: verdict (+ incomplete banner), run metadata, status filter chips and a
text filter, the op x property matrix (one coloured mark per dtype, linking to the
cell's details), engine-wide rules (op ``*``), details of every failed / error /
expected-failure / blocked-by cell (reason, expected vs observed, reproducer with a
copy button, traceback), error-distribution plots, and a table of all cells.
Every piece of run data goes through html.escape.
"""
from __future__ import annotations

import json
from html import escape
from typing import Callable

from conformance.report import dtypes as _dtypes
from conformance.report import plots as _plots
from conformance.report.assets import CSS, JS
from conformance.report.diff import Change, RunDiff
from conformance.report.formatting import (DETAILED, RANK, cell_id, counts, finding_title, fmt_err, matrix, one_line,
                                           short_dtype, worst)
from conformance.report.summary import headline
from conformance.runner.results import ANY_OP, Result, RunResults, Status


def e(x) -> str:
    """Escape anything for HTML text or a double-quoted attribute."""
    return escape("" if x is None else str(x), quote=True)


def page(title: str, body: str) -> str:
    """A complete HTML document with the inline stylesheet and script."""
    return (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>{e(title)}</title><style>{CSS}</style></head>\n<body>\n{body}\n"
        f"<script>{JS}</script>\n</body></html>\n"
    )


def filter_bar(status_counts: dict[Status, int]) -> str:
    """Status checkboxes (with counts and colours) and the op/property text filter."""
    chips = "".join(
        f'<label class="chip st-{s.value}"><input type="checkbox" class="fstatus" value="{s.value}" checked>'
        f"<b></b>{s.value} ({status_counts.get(s, 0)})</label>"
        for s in Status
    )
    return (
        f'<div class="filters" id="filters">{chips} '
        f'<input type="search" id="ftext" placeholder="filter op / property…" aria-label="text filter"></div>'
    )


def mark(r: Result, href: str | None, prefix: str = "") -> str:
    """One dtype mark: a small coloured box labelled with the dtype, details in its tooltip."""
    tip = (
        f"{r.op}[{r.dtype}] {r.property}: {r.status.value}\nexamples {r.examples}, "
        f"max abs err {fmt_err(r.max_abs_error)}, max rel err {fmt_err(r.max_rel_error)}\n{one_line(r, 300)}"
    )
    attrs = (
        f'class="mark st-{r.status.value}" data-status="{r.status.value}" data-op="{e(r.op)}" '
        f'data-prop="{e(r.property)}" data-dtype="{e(r.dtype)}" title="{e(tip)}"'
    )
    label = e(short_dtype(r.dtype))
    return f'<a {attrs} href="#{prefix}{href}">{label}</a>' if href else f"<span {attrs}>{label}</span>"


def matrix_html(results: list[Result], prefix: str = "", detail_ids: set[str] | None = None) -> str:
    """The op x property table (op ``*`` cells excluded: see rules_html)."""
    rs = [r for r in results if r.op != ANY_OP]
    if not rs:
        return '<p class="small">No op cells.</p>'
    ops, props, cells = matrix(rs)
    detail_ids = detail_ids or set()
    head = "".join(f'<th scope="col">{e(p)}</th>' for p in props)
    rows = []
    for op in ops:
        tds = []
        for p in props:
            group = cells.get((op, p))
            if not group:
                tds.append('<td class="cell empty"></td>')
                continue
            w = worst(r.status for r in group).value
            marks = "".join(mark(r, cell_id(r) if cell_id(r) in detail_ids else None, prefix) for r in group)
            tds.append(f'<td class="cell st-{w}" data-op="{e(op)}" data-prop="{e(p)}">{marks}</td>')
        rows.append(f'<tr><th class="op" scope="row">{e(op)}</th>{"".join(tds)}</tr>')
    return (
        f'<div class="scroll"><table class="matrix"><thead><tr><th></th>{head}</tr></thead>'
        f'<tbody>{"".join(rows)}</tbody></table></div>'
    )


def rules_html(results: list[Result], prefix: str = "", detail_ids: set[str] | None = None) -> str:
    """Op-independent properties (op ``*``) as a one-column table, one row per property."""
    rs = [r for r in results if r.op == ANY_OP]
    if not rs:
        return ""
    _, props, cells = matrix(rs)
    detail_ids = detail_ids or set()
    rows = []
    for p in props:
        group = cells[(ANY_OP, p)]
        w = worst(r.status for r in group).value
        marks = "".join(mark(r, cell_id(r) if cell_id(r) in detail_ids else None, prefix) for r in group)
        reason = e(one_line(max(group, key=lambda r: RANK[r.status])))
        rows.append(
            f'<tr><th class="op" scope="row">{e(p)}</th><td class="cell st-{w}" data-op="*" data-prop="{e(p)}">'
            f'{marks}</td><td class="small">{reason}</td></tr>'
        )
    return f'<table class="matrix rules"><tbody>{"".join(rows)}</tbody></table>'


def _json_pre(v) -> str:
    s = v if isinstance(v, str) else json.dumps(v, indent=None, default=repr)
    return e(s if len(s) <= 20000 else s[:20000] + " …(truncated)")


def detail_html(r: Result, prefix: str = "") -> str:
    """The details box of one cell: reason, numbers, expected vs observed, reproducer, traceback."""
    cid = prefix + cell_id(r)
    facts = [
        f"examples {r.examples}",
        f"max abs err {fmt_err(r.max_abs_error)}",
        f"max rel err {fmt_err(r.max_rel_error)}",
        f"seed {e(r.seed)}",
        f"{r.duration_s:.2f}s",
    ]
    if r.oracles:
        facts.append("oracles: " + e(", ".join(r.oracles)))
    parts = [
        f'<section class="detail st-{r.status.value}" id="{cid}" data-status="{r.status.value}" '
        f'data-op="{e(r.op)}" data-prop="{e(r.property)}">',
        f"<h3>{e(r.status.value)}: <code>{e(r.op)}[{e(r.dtype)}]</code> · {e(r.property)}</h3>",
        f'<div class="why">{e(r.message or one_line(r))}</div>',
        f'<div class="small">{" · ".join(facts)}</div>',
    ]
    if r.expectation_reason:
        parts.append(f"<p>Expected failure: {e(r.expectation_reason)}</p>")
    if r.blocked_by:
        parts.append(f"<p>Blocked by: <code>{e(r.blocked_by)}</code> (a node of that op is wrong alone)</p>")
    if r.finding:
        parts.append(f'<p>Finding: <a href="#finding-{e(r.finding)}"><code>{e(r.finding)}</code></a>'
                     f"{' (fault: ' + e(r.fault) + ')' if r.fault and r.fault != 'engine' else ''}</p>")
    if r.expected is not None or r.observed is not None:
        parts.append(
            f'<div class="pair"><div>expected<pre>{_json_pre(r.expected)}</pre></div>'
            f"<div>observed<pre>{_json_pre(r.observed)}</pre></div></div>"
        )
    if r.reproducer:
        parts.append(
            f'<div>reproducer <button class="copy" data-target="{cid}-repro">Copy</button>'
            f'<pre class="repro" id="{cid}-repro">{e(r.reproducer)}</pre></div>'
        )
    if r.traceback:
        parts.append(f"<details><summary>traceback</summary><pre>{e(r.traceback)}</pre></details>")
    parts.append("</section>")
    return "\n".join(parts)


def findings_html(run: RunResults, detail_ids: set[str]) -> str:
    """The findings, most cells first: the culprit, what is wrong, the cells it explains, a reproducer."""
    found = run.findings()
    if not found:
        return ""
    rows = []
    for f in found:
        cells = ", ".join(f'<a href="#{cell_id(c)}">{e(c.op)}[{e(short_dtype(c.dtype))}] {e(c.property)}</a>'
                          if cell_id(c) in detail_ids else e(f"{c.op}[{c.dtype}] {c.property}")
                          for c in (_Cell(*k) for k in f.cells[:40]))
        more = f" … (+{len(f.cells) - 40})" if len(f.cells) > 40 else ""
        tag = ("expected" if f.expected else "interaction" if f.interaction else "")
        repro = (f'<details><summary>reproducer</summary><pre class="repro">{e(f.reproducer)}</pre></details>'
                 if f.reproducer else "")
        # one line each (the matrix must stay on the first screen); the evidence unfolds on click
        rows.append(f'<details class="finding fault-{e(f.fault)}" id="finding-{e(f.id)}"><summary>'
                    f'<span class="ftitle">{e(finding_title(f))}</span> · {len(f.cells)} cell(s)'
                    f"{' · fault: ' + e(f.fault) if f.fault != 'engine' else ''}{' · ' + tag if tag else ''}"
                    f'</summary><div class="small">id <code>{e(f.id)}</code></div>'
                    f'<div class="why">{e(f.message)}</div><div class="small">{cells}{more}</div>{repro}</details>')
    if len(rows) > 8:
        rows[8:] = [f"<details><summary>{len(rows) - 8} more findings</summary>" + "\n".join(rows[8:]) + "</details>"]
    harness = sum(f.fault == "harness" for f in found)
    note = (f'<div class="banner">⚠ {harness} harness error(s): the harness itself failed; not the engine\'s '
            "fault; please report.</div>" if harness else "")
    return f"<h2>Findings ({len(found)})</h2>{note}" + "\n".join(rows)


class _Cell:
    """Just enough of a Result (op, property, dtype) to name and link a finding's cell."""

    def __init__(self, op: str, prop: str, dtype: str) -> None:
        self.op, self.property, self.dtype = op, prop, dtype
        self.key = (op, prop, dtype)


def meta_html(run: RunResults) -> str:
    """Run metadata as a two-column table."""
    rows = []
    for k, v in run.info.to_dict().items():
        if isinstance(v, list):
            v = " ".join(v) if k == "argv" else ", ".join(map(str, v))
        rows.append(f"<tr><td>{e(k)}</td><td>{e(v)}</td></tr>")
    cov = run.coverage()
    rows.append(f"<tr><td>coverage</td><td>{cov['ops_run']} / {cov['ops_in_registry']} ops, {cov['cells']} cells</td></tr>")
    return f'<table class="meta">{"".join(rows)}</table>'


def dtype_table_html(rows: list[tuple[str, list[Result], str | None]], table_id: str = "dtypes") -> str:
    """Rows (a plain-text label, its cells -- one run, or one engine of the merged page -- and a link or None) x
    the dtype columns: passed / run, ✘ failed + error, coloured by the column's worst status; "n/a" and "–" as
    in ``report.dtypes``."""
    head = "".join(f'<th scope="col">{e(c)}</th>' for c in _dtypes.COLUMNS)
    body = []
    for label, results, href in rows:
        name = f'<a href="{e(href)}">{e(label)}</a>' if href else e(label)
        cols = _dtypes.by_dtype(results)
        cells = []
        for c in _dtypes.COLUMNS:
            d = cols[c]
            if not d.run:
                cells.append(f'<td class="cell empty" title="{e(label)} · {e(c)}: {e(d.text())}">{e(d.text())}</td>')
                continue
            tip = ", ".join(f"{s.value}: {d.statuses.count(s)}" for s in Status if d.statuses.count(s))
            text = d.text() + (f" ✘{d.bad}" if d.bad else "")
            cells.append(f'<td class="cell st-{d.worst.value}" title="{e(label)} · {e(c)}: {e(tip)}">{e(text)}</td>')
        body.append(f'<tr><th class="op" scope="row">{name}</th>{"".join(cells)}</tr>')
    # not class "matrix": the status / text filter hides a matrix row whose marks are all hidden, and these have none
    return (f'<p class="small">{e(_dtypes.LEGEND)}.</p><div class="scroll"><table class="dtypes" id="{e(table_id)}">'
            f'<thead><tr><th></th>{head}</tr></thead><tbody>{"".join(body)}</tbody></table></div>')


def _all_cells_table(run: RunResults) -> str:
    rows = "".join(
        f'<tr class="cellrow" data-status="{r.status.value}" data-op="{e(r.op)}" data-prop="{e(r.property)}">'
        f"<td>{e(r.op)}</td><td>{e(r.property)}</td><td>{e(r.dtype)}</td><td>{r.status.value}</td>"
        f"<td>{r.examples}</td><td>{fmt_err(r.max_abs_error)}</td><td>{fmt_err(r.max_rel_error)}</td>"
        f"<td>{r.duration_s:.2f}</td><td>{e(one_line(r))}</td></tr>"
        for r in sorted(run.results, key=lambda r: r.key)
    )
    head = "".join(f"<th>{h}</th>" for h in ("op", "property", "dtype", "status", "examples", "abs err", "rel err", "s", "reason"))
    return (
        f"<details><summary>All {len(run.results)} cells</summary>"
        f'<table class="cells"><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table></details>'
    )


def _diff_html(diff: RunDiff) -> str:
    items = [c for c in diff.cells if c.change in (Change.REGRESSION, Change.FIX, Change.REMOVED)]
    lis = "".join(f"<li><b>{c.change.value}</b> {e(c.describe())}</li>" for c in items[:200])
    counts_ = ", ".join(f"{k.value}: {v}" for k, v in diff.counts().items())
    return f"<h2>Against baseline</h2><p>{e(counts_)}</p><ul>{lis}</ul>"


def plots_html(results: list[Result], per_op: Callable[[], dict[str, str]] | None = None) -> str:
    """The overview plot and one small plot per op (or a note when matplotlib is missing); ``per_op``
    gives the per-op plots when they are drawn elsewhere (plots.per_op_plots_in)."""
    over = _plots.overview_plot(results)
    if over is None:
        if any(_plots.log_err(r.max_rel_error) is not None for r in results):
            return '<p class="small">Plots need matplotlib (pip install matplotlib).</p>'
        return '<p class="small">No numeric errors recorded.</p>'
    figs = "".join(
        f'<figure class="opplot" data-op="{e(op)}"><img alt="errors of {e(op)}" src="data:image/png;base64,{png}"></figure>'
        for op, png in (per_op or (lambda: _plots.per_op_plots(results)))().items()
    )
    return (
        f'<div class="plots"><img alt="error overview" src="data:image/png;base64,{over}">'
        f"<details open><summary>per op</summary>{figs}</details></div>"
    )


def render_index(run: RunResults, diff: RunDiff | None = None, plots: bool = True,
                 per_op: Callable[[], dict[str, str]] | None = None) -> str:
    """The index.html text of one run (``per_op``: see :func:`plots_html`)."""
    info = run.info
    detailed = sorted((r for r in run.results if r.status in DETAILED), key=lambda r: (-RANK[r.status], r.key))
    ids = {cell_id(r) for r in detailed}
    ok = run.conformant
    body = [
        f"<h1>Autograd conformance: {e(info.engine)} {e(info.engine_version or '')}</h1>",
        f'<div class="verdict {"ok" if ok else "bad"}" id="verdict">{"✔" if ok else "✘"} {e(headline(run))}</div>',
    ]
    if not info.complete:
        body.append(
            f'<div class="banner" id="incomplete">⚠ Incomplete run: it did not finish; '
            f"this report shows the {len(run.results)} cells that finished.</div>"
        )
    cov = run.coverage()
    body.append(
        f'<p class="small">profile {e(info.profile)} · seed {e(info.seed)} · started {e(info.started_at)} · '
        f"harness {e(info.harness_version)} · coverage {cov['ops_run']} / {cov['ops_in_registry']} ops, "
        f"{cov['cells']} cells · <a href=\"#run\">run metadata</a></p>"
    )
    if diff is not None:
        body.append(_diff_html(diff))
    body.append(findings_html(run, ids))
    body += [
        "<h2>Matrix</h2>",
        filter_bar(counts(run)),
        '<p class="small">One mark per dtype, coloured by status; click a mark for its details, hover for errors.</p>',
        matrix_html(run.results, detail_ids=ids),
    ]
    rules = rules_html(run.results, detail_ids=ids)
    if rules:
        body += ["<h2>Engine-wide rules</h2>", rules]
    # after the matrix, which stays in the first screenful
    body += ["<h2>By dtype</h2>", dtype_table_html([(info.engine, run.results, None)])]
    body.append(f"<h2>Details ({len(detailed)})</h2>")
    body += [detail_html(r) for r in detailed] or ['<p class="small">Nothing failed.</p>']
    if plots:
        body += ["<h2>Error distribution</h2>", plots_html(run.results, per_op)]
    body += ["<h2>All cells</h2>", _all_cells_table(run), '<h2 id="run">Run metadata</h2>', meta_html(run)]
    return page(f"conformance: {info.engine}", "\n".join(body))
