"""Multi-engine page: engines x properties, drill-down per engine, links to each engine's report.

`make report` publishes this page for the built-in engines, so it must show every
engine and property, keep engines with the same name apart, and link to the
per-engine pages with working relative paths.
"""
from __future__ import annotations

import pathlib
from html.parser import HTMLParser

import pytest
from report_fixtures import make_run

from conformance.cli.main import main
from conformance.report import ReportInputError, merge, render_merged, write_all, write_merged
from conformance.runner.results import Status


class Cells(HTMLParser):
    """Collects (engine row, status) of the engines table and all <a href>s."""

    def __init__(self, text):
        super().__init__()
        self.engine_cells, self.hrefs, self.details = [], [], []
        self.feed(text)

    def handle_starttag(self, tag, a):
        a = dict(a)
        if tag == "span" and a.get("data-engine") is not None:
            self.engine_cells.append((a["data-engine"], a["data-prop"], a["data-status"]))
        if tag == "a" and a.get("href"):
            self.hrefs.append(a["href"])
        if tag == "details" and a.get("data-engine"):
            self.details.append(a["data-engine"])


def _runs():
    good = make_run("alpha")
    good.results = [r for r in good.results if not r.status.is_problem]
    return [make_run("beta <b>"), good, make_run("alpha")]


def test_engines_by_properties():
    runs = _runs()
    m = merge(runs)
    assert m.labels == ["beta <b>", "alpha", "alpha (2)"]
    p = Cells(render_merged(m))
    props = sorted({r.property for run in runs for r in run.results})
    cells = {(eng, prop): st for eng, prop, st in p.engine_cells}
    assert {(e, pr) for e, pr, _ in p.engine_cells} == {(lab, pr) for lab in m.labels for pr in props}
    assert cells[("beta <b>", "grad")] == Status.ERROR.value  # worst status of the property
    assert cells[("alpha", "grad")] == Status.EXPECTED_FAILURE.value
    assert p.details == m.labels


def test_merge_needs_runs():
    with pytest.raises(ValueError):
        merge([])


def test_write_merged_links_to_engine_reports(tmp_path):
    dirs = []
    for i, run in enumerate(_runs()):
        d = tmp_path / f"eng{i}"
        write_all(run, d, plots=False)
        dirs.append(d)
    out = tmp_path / "all"
    write_merged(dirs, out)
    p = Cells((out / "index.html").read_text())
    targets = [h for h in p.hrefs if h.endswith("index.html")]
    assert targets and all((out / h).resolve().is_file() for h in targets)
    assert {pathlib.Path(h).parent.name for h in targets} == {"eng0", "eng1", "eng2"}
    assert "alpha (2)" in (out / "summary.md").read_text()


def test_cli_merge_and_render(tmp_path, capsys):
    write_all(make_run(), tmp_path / "a", plots=False)
    (tmp_path / "a" / "index.html").unlink()
    assert main(["report", "render", str(tmp_path / "a" / "results.json"), "--no-plots"]) == 0
    assert (tmp_path / "a" / "index.html").is_file()  # regenerated from results.json alone
    assert main(["report", "merge", str(tmp_path / "a"), "--out", str(tmp_path / "m")]) == 0
    assert (tmp_path / "m" / "index.html").is_file()
    assert main(["report", "merge", str(tmp_path / "nope"), "--out", str(tmp_path / "m")]) == 2
    assert "nope" in capsys.readouterr().err
    with pytest.raises(ReportInputError):
        write_merged([tmp_path / "nope"], tmp_path / "m")
