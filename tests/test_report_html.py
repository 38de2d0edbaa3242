"""index.html: parsed with html.parser, it shows every cell and every reproducer verbatim.

The page is the main human view, so the tests check content (not bytes): every
op x property x dtype appears as a mark with its status, every failure has its
reproducer in a <pre> exactly as recorded (proving escaping round-trips), nothing from
run data becomes markup, and the file needs no network.
"""
from __future__ import annotations

from html.parser import HTMLParser

import pytest
from report_fixtures import NASTY_REPRO, make_run

from conformance.report import render_index
from conformance.report.diff import diff_runs
from conformance.runner.results import Status


class Page(HTMLParser):
    """Collects marks, <pre> texts by id, tags, ids and external references."""

    def __init__(self, text: str):
        super().__init__(convert_charrefs=True)
        self.marks, self.pres, self.tags, self.ids, self.urls = [], {}, [], set(), []
        self._pre = None
        self.scripts = 0
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.tags.append(tag)
        if "id" in a:
            self.ids.add(a["id"])
        if "mark" in (a.get("class") or "").split():
            self.marks.append(a)
        if tag == "pre":
            self._pre = a.get("id") or f"anon{len(self.pres)}"
            self.pres[self._pre] = ""
        if tag == "script":
            self.scripts += 1
        for k in ("src", "href"):
            if a.get(k) and not a[k].startswith(("#", "data:")):
                self.urls.append(a[k])

    def handle_endtag(self, tag):
        if tag == "pre":
            self._pre = None

    def handle_data(self, data):
        if self._pre is not None:
            self.pres[self._pre] += data


@pytest.fixture(scope="module")
def run():
    return make_run()


@pytest.fixture(scope="module")
def page(run):
    return Page(render_index(run, plots=True))


def test_every_cell_is_a_mark_with_its_status(run, page):
    got = {(m["data-op"], m["data-prop"], m["data-dtype"]): m["data-status"] for m in page.marks}
    assert got == {r.key: r.status.value for r in run.results}


def test_every_reproducer_is_shown_verbatim(run, page):
    repros = [r.reproducer for r in run.results if r.reproducer]
    shown = list(page.pres.values())
    assert len(repros) == 3 and NASTY_REPRO in repros
    for rep in repros:
        assert rep in shown


def test_problem_marks_link_to_existing_details(run, page):
    for m in page.marks:
        if m["data-status"] in ("failed", "error", "expected-failure", "blocked-by"):
            assert m["href"].startswith("#") and m["href"][1:] in page.ids
    assert sum(1 for m in page.marks if "href" in m) == 5


def test_run_data_never_becomes_markup(page):
    """The reproducer contains </pre><script>: only our one inline script may exist."""
    assert page.scripts == 1
    assert page.tags.count("b") == len(Status)  # the filter chips' swatches; the reproducer's <b> stayed text


def test_self_contained(page):
    assert page.urls == []


def test_copy_buttons_target_reproducers(run):
    html = render_index(run, plots=False)
    p = Page(html)
    repro_ids = [k for k in p.pres if k.endswith("-repro")]
    assert len(repro_ids) == 3
    for rid in repro_ids:
        assert f'data-target="{rid}"' in html


def test_plots_are_embedded_pngs(run):
    pytest.importorskip("matplotlib")
    html = render_index(run, plots=True)
    # overview + one per op with numeric errors (add, mul, div)
    assert html.count('src="data:image/png;base64,') == 4


def test_incomplete_banner_only_when_incomplete():
    assert "incomplete" in Page(render_index(make_run(complete=False), plots=False)).ids
    assert "incomplete" not in Page(render_index(make_run(complete=True), plots=False)).ids


def test_verdict_and_baseline_section(run):
    base = make_run()
    base.results[2].status = Status.PASSED  # mul[float64] grad passed in the baseline
    html = render_index(run, diff=diff_runs(base, run), plots=False)
    assert "3 nonconformances" in html
    assert "Against baseline" in html and "regression" in html and "mul[float64] grad: passed -&gt; failed" in html


def test_run_interrupted_before_any_cell_still_renders(tmp_path):
    """The runner may be killed before the first cell finishes: the page must still render."""
    from conformance.report import write_all

    run = make_run(complete=False)
    run.results.clear()
    write_all(run, tmp_path)
    p = Page((tmp_path / "index.html").read_text())
    assert "incomplete" in p.ids and p.marks == []
    assert "conformant so far" in (tmp_path / "summary.md").read_text().splitlines()[0]


def test_output_is_deterministic_across_processes(tmp_path):
    """reports/ is committed: regenerating unchanged results must not produce a git diff."""
    import hashlib
    import os
    import pathlib
    import subprocess
    import sys

    code = (
        "import sys, hashlib; sys.path.insert(0, sys.argv[1]);"
        "from report_fixtures import make_run; from conformance.report import render_index, render_junit;"
        "r = make_run(); print(hashlib.sha256((render_index(r) + render_junit(r)).encode()).hexdigest())"
    )
    tests_dir = str(pathlib.Path(__file__).parent)
    digests = set()
    for seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": seed, "MPLCONFIGDIR": str(tmp_path / seed)}
        p = subprocess.run([sys.executable, "-c", code, tests_dir], capture_output=True, text=True,
                           timeout=120, env=env, cwd=pathlib.Path(tests_dir).parent)
        assert p.returncode == 0, p.stderr
        digests.add(p.stdout.strip())
    assert len(digests) == 1 and len(next(iter(digests))) == len(hashlib.sha256().hexdigest())
