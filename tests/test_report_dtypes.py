"""The reports' dtype columns: per dtype, cells passed of cells run; "int" for the integer-tensor properties;
"n/a" where the engine does not declare the dtype, "–" where the profile has none -- in summary.md, the run's
index.html, the merged page and its summary, and docs/findings.md's engine table."""
from __future__ import annotations

from report_fixtures import cell, info

from conformance.report import dtypes, render_summary
from conformance.report import table as T
from conformance.report.html import render_index
from conformance.report.merge import merge, render_merged, render_merged_summary
from conformance.runner.results import RunResults, Status

S = Status


def _run(engine: str = "toy") -> RunResults:
    rs = [
        cell("add", "grad_vs_torch", "float64", S.PASSED, engine),
        cell("mul", "grad_vs_torch", "float64", S.FAILED, engine, message="wrong"),
        cell("mul", "grad_vs_torch", "float64", S.EXPECTED_FAILURE, engine, message="known"),
        cell("add", "grad_vs_torch", "float32", S.PASSED, engine),
        cell("add", "half_forward", "float16", S.NOT_APPLICABLE, engine, message="engine lacks dtype float16"),
        # labelled float64, drawing int64 / int32 / bool tensors: the int column, not float64's
        cell("sum", "integer_reduction", "float64", S.PASSED, engine),
        cell("*", "integer_requires_grad", "float64", S.ERROR, engine, message="boom"),
    ]
    return RunResults(info(engine), rs)


def test_each_cell_counts_in_its_dtype_column_and_the_integer_properties_in_int() -> None:
    cols = dtypes.by_dtype(_run().results)
    assert list(cols)[:5] == list(dtypes.COLUMNS)
    assert [cols[c].text() for c in dtypes.COLUMNS] == ["1/3", "1/1", "n/a", "–", "1/2"]
    assert cols["float64"].bad == 1 and cols["int"].bad == 1 and cols["float64"].worst == S.FAILED
    assert dtypes.texts(_run()) == ["1/3", "1/1", "n/a", "–", "1/2"]


def test_summary_and_the_run_page_show_the_dtype_columns() -> None:
    md = render_summary(_run())
    assert "| float64 | float32 | float16 | bfloat16 | int |" in md
    assert "| 1/3 ✘1 | 1/1 | n/a | – | 1/2 ✘1 |" in md, md
    html = render_index(_run(), plots=False)
    # after the op matrix (which must stay in the first screenful), and no "matrix" table: the filter script hides
    # a matrix row whose status marks are all hidden, and a dtype row has none
    assert html.index("<h2>Matrix</h2>") < html.index("<h2>By dtype</h2>")
    assert '<table class="dtypes" id="dtypes">' in html
    assert 'class="cell st-failed" title="toy · float64: passed: 1, expected-failure: 1, failed: 1">1/3 ✘1' in html


def test_labels_are_escaped_once_and_linked_on_the_merged_page() -> None:
    html = render_index(_run("x<y> & z"), plots=False)
    assert '<th class="op" scope="row">x&lt;y&gt; &amp; z</th>' in html and 'title="x&lt;y&gt; &amp; z · int: ' in html
    merged = merge([_run("a"), _run("b")], links=["a/index.html", None])
    html = render_merged(merged).split('id="engine-dtypes"')[1]
    assert '<th class="op" scope="row"><a href="a/index.html">a</a></th>' in html and 'title="a · float64: ' in html


def test_the_merged_page_and_its_summary_have_a_row_per_engine() -> None:
    merged = merge([_run("a"), _run("b")])
    html = render_merged(merged)
    assert "<h2>Engines × dtypes</h2>" in html and html.count('title="a · int: ') == 1
    assert '<table class="dtypes" id="engine-dtypes">' in html
    md = render_merged_summary(merged)
    assert "| engine | verdict | ops run | float64 | float32 | float16 | bfloat16 | int | complete |" in md
    assert "| 1/3 | 1/1 | n/a | – | 1/2 | yes |" in md, md


def test_the_findings_table_has_the_dtype_columns_before_complete() -> None:
    head, _rule, row, *rest = T.markdown([_run()]).splitlines()
    names = [c.strip() for c in head.strip("|").split("|")]
    assert names[-6:] == [*dtypes.COLUMNS, "complete"]
    assert [c.strip() for c in row.strip("|").split("|")][-6:] == ["1/3", "1/1", "n/a", "–", "1/2", "yes"]
    assert rest[-1].startswith("dtype columns:")
