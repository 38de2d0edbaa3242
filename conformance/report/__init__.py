"""Report writers: pure functions of RunResults (never import or run an engine).

``write_all(run, out_dir)`` writes results.json, junit.xml, summary.md and index.html,
each atomically; ``write_results_json`` writes results.json alone (the runner calls it
after every finished cell, so an interrupted run leaves a valid ``complete: false``
report).  ``load_run`` reads results.json back with precise errors, ``diff_runs``
compares two runs, ``merge`` + ``write_merged`` build the multi-engine page.
"""
from __future__ import annotations

import pathlib
from concurrent.futures import Executor

from conformance.report.diff import CellChange, Change, RunDiff, classify, diff_runs
from conformance.report.files import ReportInputError, atomic_write_text, dumps_results, load_run
from conformance.report.html import render_index
from conformance.report.junit import render_junit
from conformance.report.merge import MergedRuns, merge, relative_link, render_merged, render_merged_summary
from conformance.report.plots import per_op_plots_in
from conformance.report.summary import render_summary
from conformance.runner.results import RunResults

__all__ = [
    "write_all", "write_results_json", "write_merged", "load_run", "ReportInputError",
    "diff_runs", "RunDiff", "CellChange", "Change", "classify", "merge", "MergedRuns",
    "render_index", "render_junit", "render_summary", "render_merged", "dumps_results",
    "atomic_write_text", "FILES",
]

FILES = ("results.json", "junit.xml", "summary.md", "index.html")


def write_results_json(run: RunResults, out_dir: pathlib.Path) -> pathlib.Path:
    """Write ``out_dir/results.json`` atomically and return its path."""
    path = pathlib.Path(out_dir) / "results.json"
    atomic_write_text(path, dumps_results(run))
    return path


def _remove_stale_temps(out: pathlib.Path) -> None:
    """Delete temp files a killed writer (SIGKILL between write and rename) left behind."""
    for name in (*FILES, "diff.md"):
        for tmp in out.glob(f".{name}.*.tmp"):
            tmp.unlink(missing_ok=True)


def write_all(
    run: RunResults,
    out_dir: pathlib.Path,
    *,
    baseline: RunResults | None = None,
    plots: bool = True,
    helper: Executor | None = None,
) -> None:
    """Write the four report files into ``out_dir`` (created if needed), each atomically.

    results.json is written first, so it survives a bug in a renderer.  With
    ``baseline``, summary.md and index.html include the baseline diff and diff.md is
    written too.  ``helper``: another process (an executor of one), which draws the
    per-op plots meanwhile (~half of the writing, 160 PNGs for a full run).
    """
    out = pathlib.Path(out_dir)
    per_op = per_op_plots_in(helper, run.results) if plots else None
    write_results_json(run, out)
    _remove_stale_temps(out)
    diff = diff_runs(baseline, run) if baseline is not None else None
    atomic_write_text(out / "junit.xml", render_junit(run))
    atomic_write_text(out / "summary.md", render_summary(run, diff))
    if diff is not None:
        atomic_write_text(out / "diff.md", diff.to_markdown())
    atomic_write_text(out / "index.html", render_index(run, diff, plots=plots, per_op=per_op))
    write_reproducers(run, out / "reproducers")


def write_reproducers(run: RunResults, directory: pathlib.Path) -> dict[str, pathlib.Path]:
    """One script per finding, ``reproducers/<finding id>.py``: run it to see the bug (exit 1) or
    that it is fixed (exit 0).  Returns finding id -> path.  Scripts of findings gone since an
    earlier run in the same directory are removed, so the folder lists today's bugs only."""
    paths: dict[str, pathlib.Path] = {}
    for f in run.findings():
        if f.reproducer:
            directory.mkdir(parents=True, exist_ok=True)
            paths[f.id] = directory / f"{f.id}.py"
            atomic_write_text(paths[f.id], f.reproducer)
    if directory.is_dir():
        for old in directory.glob("*.py"):
            if old not in paths.values():
                old.unlink()
    return paths


def write_merged(run_dirs: list[pathlib.Path], out_dir: pathlib.Path) -> MergedRuns:
    """Load each report dir (or results.json), write the merged index.html + summary.md into out_dir.

    Engine names link to each input's own index.html when it exists.  Raises
    ReportInputError for an unreadable input.
    """
    out = pathlib.Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    runs, links = [], []
    for d in map(pathlib.Path, run_dirs):
        runs.append(load_run(d))
        links.append(relative_link((d if d.is_dir() else d.parent) / "index.html", out))
    merged = merge(runs, links)
    atomic_write_text(out / "index.html", render_merged(merged))
    atomic_write_text(out / "summary.md", render_merged_summary(merged))
    return merged
