"""index.html rendered by a real browser (headless Chromium): the matrix is on screen and the JS works.

html.parser proves the content is there; only a browser proves the CSS/JS put the
matrix in the first screenful and that the filters run without errors.  Skipped
(with the reason) where Chromium is absent; CI installs it (apt-get install chromium).
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess

import pytest
from report_fixtures import make_run

from conformance.report import write_all
from conformance.report.formatting import COLORS
from conformance.runner.results import Status

BROWSER = os.environ.get("CHROMIUM") or next(
    (b for b in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable") if shutil.which(b)), None
)
pytestmark = pytest.mark.skipif(
    BROWSER is None, reason="headless Chromium not installed (apt-get install chromium; or set CHROMIUM=path)"
)
W, H = 1300, 900

# Appended to a copy of the page: measures the matrix and exercises the text filter.
PROBE = """<script>
(function(){
  var m=document.querySelector('table.matrix'), r=m.getBoundingClientRect();
  var marks=[].slice.call(m.querySelectorAll('.mark'));
  var shown=marks.filter(function(x){var b=x.getBoundingClientRect();
    return x.offsetParent!==null&&b.width>0&&b.top>=0&&b.bottom<=innerHeight&&b.right<=innerWidth;});
  var ft=document.getElementById('ftext'); ft.value='mul'; ft.dispatchEvent(new Event('input'));
  var rows=[].slice.call(m.querySelectorAll('tbody tr')).filter(function(t){return !t.hidden;})
    .map(function(t){return t.querySelector('th').textContent;});
  document.body.setAttribute('data-probe', JSON.stringify({top:r.top,bottom:r.bottom,width:r.width,
    vh:innerHeight, marks:marks.length, shown:shown.length, rows:rows}));
})();
</script></body>"""


def _chromium(tmp_path, *args) -> subprocess.CompletedProcess:
    cmd = [BROWSER, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
           f"--user-data-dir={tmp_path / 'profile'}", f"--window-size={W},{H}", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    d = tmp_path_factory.mktemp("chromium")
    write_all(make_run(), d / "report")
    return d


def test_matrix_is_on_screen_and_filter_works(report):
    html = (report / "report" / "index.html").read_text()
    probe = report / "report" / "probe.html"
    probe.write_text(html.replace("</body>", PROBE, 1))
    p = _chromium(report, "--dump-dom", probe.as_uri())
    assert p.returncode == 0, p.stderr[-2000:]
    m = re.search(r'data-probe="([^"]*)"', p.stdout)
    assert m, "probe did not run: " + p.stdout[:500]
    info = json.loads(m.group(1).replace("&quot;", '"'))
    assert info["width"] > 100 and 0 <= info["top"] < info["vh"]
    assert info["marks"] == 9 and info["shown"] == 9  # every op cell's mark visible in the first screenful
    assert info["rows"] == ["mul"]  # the text filter hid the other ops


def test_screenshot_shows_status_colours(report):
    PIL = pytest.importorskip("PIL.Image", reason="Pillow reads the screenshot")
    shot = report / "shot.png"
    p = _chromium(report, f"--screenshot={shot}", (report / "report" / "index.html").as_uri())
    assert p.returncode == 0 and shot.is_file(), p.stderr[-2000:]
    img = PIL.open(shot).convert("RGB")
    assert img.size == (W, H)
    colours = {rgb: n for n, rgb in img.getcolors(maxcolors=W * H)}

    def count(status):
        return colours.get(tuple(int(COLORS[status][i:i + 2], 16) for i in (1, 3, 5)), 0)

    # chips' swatches are 10x10 = 100 px; more means matrix marks of that colour are painted
    for status in (Status.PASSED, Status.FAILED, Status.ERROR):
        assert count(status) > 250, status
