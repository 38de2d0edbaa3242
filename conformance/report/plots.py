"""Error-distribution plots (matplotlib Agg) embedded in index.html as base64 PNG.

The y axis is log10 of the worst relative error of each cell, passing cells
included, so a reader sees how close passes are to the tolerance and how far
failures are from it.  Exact results (error 0) are drawn at FLOOR.  Cells without
a numeric error (semantic rules) are not plotted.  If matplotlib is not installed
the page is still written, with a note instead of plots.
"""
from __future__ import annotations

import base64
import io
import math
from collections import defaultdict
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from typing import Callable

import numpy as np

from conformance.report.formatting import COLORS, STATUS_ORDER
from conformance.runner.results import Result

FLOOR = -17.0  # log10 of an exact match (below float64 eps)
#: zlib level of the PNGs: on these plots (flat colours) 3 gave smaller files than the default 6, in 2/3 of the time
PNG_LEVEL = 3


def log_err(x) -> float | None:
    """log10 of a relative error, FLOOR for 0, None when absent; +inf errors map to 3 (off the top)."""
    if x is None or isinstance(x, str):
        return 3.0 if x in ("Infinity", "NaN") else None
    if math.isnan(x) or math.isinf(x):
        return 3.0
    return FLOOR if x <= 0 else max(FLOOR, math.log10(x))


def _pyplot():
    try:
        import matplotlib

        matplotlib.use("Agg", force=True)
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    return plt


def _png(fig) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=72, pil_kwargs={"compress_level": PNG_LEVEL})
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _points(results: list[Result], props: list[str]):
    pos = {p: i for i, p in enumerate(props)}
    dtypes = sorted({r.dtype for r in results})
    shift = {d: (i - (len(dtypes) - 1) / 2) * 0.12 for i, d in enumerate(dtypes)}
    for r in results:
        y = log_err(r.max_rel_error)
        if y is not None and r.property in pos:
            yield pos[r.property] + shift[r.dtype], y, r


def _by_status(results: list[Result], props: list[str]) -> dict:
    """{status: (xs, ys)} of the cells with a numeric error, in STATUS_ORDER (the order they are drawn in)."""
    by_status = defaultdict(lambda: ([], []))
    for x, y, r in _points(results, props):
        by_status[r.status][0].append(x)
        by_status[r.status][1].append(y)
    return {s: by_status[s] for s in STATUS_ORDER if s in by_status}


def _scatter(ax, results: list[Result], props: list[str], size: float, every_status: bool = False) -> list:
    """The marks: one scatter collection per status drawn into ``ax`` (per status of STATUS_ORDER with
    ``every_status``, empty or not)."""
    by_status = _by_status(results, props)
    return [ax.scatter(*by_status.get(s, ([], [])), s=size, c=COLORS[s], label=s.value, edgecolors="none",
                       alpha=0.85) for s in STATUS_ORDER if every_status or s in by_status]


def _frame(ax, props: list[str]) -> None:
    """The axes around the marks: a property per x tick, log10 error up the y axis."""
    ax.set_xticks(range(len(props)))
    ax.set_xticklabels(props, rotation=30, ha="right", fontsize=7)
    ax.set_ylabel("log10 worst rel err", fontsize=7)
    ax.tick_params(axis="y", labelsize=7)
    ax.set_ylim(FLOOR - 0.5, 3.5)
    ax.set_xlim(-0.6, len(props) - 0.4)
    ax.grid(axis="y", alpha=0.3)


def overview_plot(results: list[Result]) -> str | None:
    """All cells: log10 worst rel error per property, coloured by status (base64 PNG or None)."""
    plt = _pyplot()
    props = sorted({r.property for r in results if log_err(r.max_rel_error) is not None})
    if plt is None or not props:
        return None
    fig = plt.figure(figsize=(max(5.0, 0.7 * len(props) + 2), 3.2))
    ax = fig.add_subplot()
    _scatter(ax, results, props, 14)
    _frame(ax, props)
    ax.legend(fontsize=7, loc="lower left", bbox_to_anchor=(0, 1.01), ncol=6, frameon=False,
              title="worst relative error of every cell, by property", title_fontsize=8)
    fig.tight_layout()
    out = _png(fig)
    plt.close(fig)
    return out


def per_op_plots(results: list[Result]) -> dict[str, str]:
    """{op: base64 PNG} of each op's cells (one mark per property x dtype); {} without matplotlib."""
    plt = _pyplot()
    if plt is None:
        return {}
    by_op: dict[str, list[Result]] = defaultdict(list)
    for r in results:
        if log_err(r.max_rel_error) is not None:
            by_op[r.op].append(r)
    props_of = {op: sorted({r.property for r in rs}) for op, rs in by_op.items()}
    canvas = _OpCanvas(plt)
    out: dict[str, Future[str]] = {}
    # PNG encoding (zlib, a quarter of the plots' cost) lets go of the GIL: a thread encodes each image
    # while the next one is drawn
    with ThreadPoolExecutor(max_workers=1) as encoder:
        for op in sorted(by_op, key=lambda o: (props_of[o], o)):  # the ops of one frame one after another
            out[op] = encoder.submit(_rgba_png, *canvas.draw(op, by_op[op], props_of[op]))
    canvas.close()
    return {op: out[op].result() for op in sorted(out)}


class _OpCanvas:
    """One figure that every op's plot is drawn in, in turn.

    The frame (axes, ticks, labels, grid) is the same for every op with the same properties, and drawing
    its text was nine tenths of a plot's cost (~45 ms; 160 ops: 7 s of a report): it is drawn once per set
    of properties, and each op's plot is that image with its marks and title drawn over it.  The marks
    likewise: one collection per status, made once and given each op's points (a scatter made anew per op
    and status was a fifth of the plots' cost)."""

    def __init__(self, plt) -> None:
        self.plt, self.fig = plt, plt.figure(figsize=(3.4, 2.2), dpi=72)
        self.fig.subplots_adjust(left=0.2, right=0.97, top=0.88, bottom=0.32)
        self.ax = self.fig.add_subplot()
        self.ax.set_yticks([-15, -10, -5, 0])
        self.title = self.ax.set_title(" ", fontsize=8)
        self.marks = dict(zip(STATUS_ORDER, _scatter(self.ax, [], [], 22, every_status=True)))
        self.framed: list[str] | None = None
        self.background = None

    def draw(self, op: str, results: list[Result], props: list[str]) -> tuple[tuple[int, int], bytes]:
        """Draw ``op``'s plot; its size and a copy of its RGBA pixels (the canvas is drawn over next)."""
        canvas = self.fig.canvas
        if props != self.framed:
            _frame(self.ax, props)
            self.title.set_text(" ")  # placed by this draw, drawn blank
            for m in self.marks.values():
                m.set_visible(False)
            canvas.draw()
            self.background, self.framed = canvas.copy_from_bbox(self.fig.bbox), props
        canvas.restore_region(self.background)
        for status, points in _by_status(results, props).items():
            m = self.marks[status]
            m.set_offsets(np.column_stack(points))
            m.set_visible(True)
            self.ax.draw_artist(m)
        self.title.set_text(op)
        self.ax.draw_artist(self.title)
        return canvas.get_width_height(), bytes(canvas.buffer_rgba())

    def close(self) -> None:
        self.plt.close(self.fig)


def per_op_plots_in(helper: Executor | None, results: list[Result]) -> Callable[[], dict[str, str]]:
    """:func:`per_op_plots` of ``results``, begun now in ``helper`` (another process) when there is one, so
    that they are drawn while this process writes the rest of the report: call the returned function for
    them.  Whatever goes wrong in the helper, they are drawn here instead."""
    if helper is None:
        return lambda: per_op_plots(results)
    try:
        future = helper.submit(per_op_plots, results)
    except Exception:  # noqa: BLE001 - a helper that cannot take the work costs the time saved, never the plots
        return lambda: per_op_plots(results)

    def plots() -> dict[str, str]:
        try:
            return future.result()
        except Exception:  # noqa: BLE001 - likewise: killed, or the results would not pickle
            return per_op_plots(results)
    return plots


def _rgba_png(size: tuple[int, int], rgba: bytes) -> str:
    """RGBA pixels (a canvas's, savefig would draw the whole figure again) as a base64 PNG."""
    from PIL import Image  # matplotlib's own dependency

    buf = io.BytesIO()
    Image.frombuffer("RGBA", size, rgba, "raw", "RGBA", 0, 1).save(buf, "png", compress_level=PNG_LEVEL)
    return base64.b64encode(buf.getvalue()).decode("ascii")
