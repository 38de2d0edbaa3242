"""Per-op error plots (report/plots.py): drawn over one shared frame, they show what a full draw shows."""
from __future__ import annotations

import base64
import io
from concurrent.futures import Executor, Future
from concurrent.futures.process import BrokenProcessPool

import numpy as np
import pytest
from report_fixtures import cell, make_run

from conformance.report import plots
from conformance.runner.results import Status

pytest.importorskip("matplotlib")
Image = pytest.importorskip("PIL.Image")


def _pixels(png: str) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(png))).convert("RGBA")).astype(int)


def _full_draw(results, op: str) -> np.ndarray:
    """The op's plot drawn whole, in a figure of its own (what per_op_plots drew before it shared frames)."""
    plt = plots._pyplot()
    fig = plt.figure(figsize=(3.4, 2.2))
    fig.subplots_adjust(left=0.2, right=0.97, top=0.88, bottom=0.32)
    ax = fig.add_subplot()
    ax.set_yticks([-15, -10, -5, 0])
    mine = [r for r in results if r.op == op and plots.log_err(r.max_rel_error) is not None]
    props = sorted({r.property for r in mine})
    plots._scatter(ax, mine, props, 22)
    plots._frame(ax, props)
    ax.set_title(op, fontsize=8)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=72)
    plt.close(fig)
    return _pixels(base64.b64encode(buf.getvalue()).decode("ascii"))


def test_each_op_plot_matches_a_full_draw_of_it() -> None:
    """Ops with the same properties share a frame, and ops of another set of properties come between them in
    name order: each plot still has its own title and marks only (none left over from the op drawn before)."""
    run = make_run()
    engine = run.info.engine
    run.results += [cell("exp", "grad", "float64", Status.FAILED, engine, max_rel_error=1e-2, max_abs_error=1e-2),
                    cell("exp", "vjp-linearity", "float64", Status.PASSED, engine, max_rel_error=1e-9,
                         max_abs_error=1e-9)]
    got = plots.per_op_plots(run.results)
    assert list(got) == ["add", "div", "exp", "mul"]  # name order, whatever order they were drawn in
    images = {op: _pixels(png) for op, png in got.items()}
    for op, image in images.items():
        want = _full_draw(run.results, op)
        assert image.shape == want.shape, (op, image.shape, want.shape)
        differ = np.abs(image - want).max(axis=2) > 0
        # marks drawn over the ticks instead of under them: a few pixels where they touch an axis
        assert differ.mean() < 0.002, (op, int(differ.sum()))
    # add and exp share a frame and differ in marks and title; the overlap check above would not see a
    # plot identical to another op's, so make sure the shared frame did not hand one op's image to the next
    assert np.abs(images["add"] - images["exp"]).max(axis=2).astype(bool).sum() > 50


class _BrokenHelper(Executor):
    """A helper process that died: what it was given never comes back."""

    def submit(self, fn, /, *args, **kwargs) -> Future:
        future: Future = Future()
        future.set_exception(BrokenProcessPool("the helper died"))
        return future


def test_per_op_plots_drawn_in_a_helper_process_are_those_drawn_here(tmp_path) -> None:
    """The run hands the per-op plots to one more process (runner/processes.py): the report is the same."""
    from conformance.report import write_all
    from conformance.runner import workers
    from conformance.runner.processes import helper_process, start_context
    ctx = start_context(workers.__name__)
    if ctx.get_start_method() != "forkserver":
        pytest.skip("no forkserver on this platform: no helper process")
    run = make_run()
    write_all(run, tmp_path / "here")
    with helper_process(ctx) as helper:
        assert plots.per_op_plots_in(helper, run.results)() == plots.per_op_plots(run.results)
        write_all(run, tmp_path / "helped", helper=helper)
    assert (tmp_path / "helped" / "index.html").read_text() == (tmp_path / "here" / "index.html").read_text()


def test_a_broken_helper_costs_the_per_op_plots_nothing() -> None:
    run = make_run()
    assert plots.per_op_plots_in(_BrokenHelper(), run.results)() == plots.per_op_plots(run.results)
