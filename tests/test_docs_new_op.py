"""docs/new-op.md runs: its command blocks are executed, in order, in a temporary copy of the
repository (tracked files plus the built refengine extensions), the TODOs filled in from
tests/fixtures/new_op_fill.py where the page says so.

The page marks what this test does with HTML comments (invisible on the rendered page):

* ``<!-- doc-test: run -->`` before a ``sh`` block: run it with bash (exit 0 expected);
  ``<!-- doc-test: run, exits 1 -->``: its exit status must be 1.  A failing ``conformance run``
  must print a reproducer path that exists; no run may report a cell not-applicable.
* ``<!-- doc-test: fill OP -->``: fill OP's TODOs from the fixture's ``# == OP: FILE`` sections.
* ``<!-- doc-test: shows -->`` before a ``python`` block: its lines, comment lines aside, are in
  the fixture (the page shows the code the test runs).

Scaffold, fill in, gate, run on refengine and on torch, break a backward, see the failure and its
reproducer (exit 1), save it to the corpus, fix, replay (exit 0): so the page cannot rot.
"""
from __future__ import annotations

import ast
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGE = ROOT / "docs" / "new-op.md"
FIXTURE = ROOT / "tests" / "fixtures" / "new_op_fill.py"
STEP = re.compile(r"<!-- doc-test: (?P<what>[^>]*?) -->\s*\n(?:```(?P<lang>\w+)\n(?P<body>.*?)```)?", re.S)
REPRODUCER = re.compile(r"reproducer: (?:python )?(\S+\.py)")


def steps(page: str) -> list[tuple[str, str]]:
    """(marker, block body) in page order; the body is '' for a fill marker."""
    return [(m["what"].strip(), m["body"] or "") for m in STEP.finditer(page)]


# -- filling the TODOs from the fixture -------------------------------------------------------
def sections(fixture: str) -> dict[tuple[str, str], str]:
    """``# == OP: FILE`` sections of the fixture: (op, file) -> source."""
    parts = re.split(r"^# == (\w+): (\S+)\n", fixture, flags=re.M)
    return {(parts[i], parts[i + 1]): parts[i + 2] for i in range(1, len(parts), 3)}


def _lines(src: str, node: ast.AST) -> tuple[int, int]:
    """0-based [start, end) line range of a node, decorators included."""
    start = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])]) - 1
    return start, node.end_lineno


def _replace(text: str, start: int, end: int, new: str) -> str:
    lines = text.splitlines(keepends=True)
    return "".join(lines[:start]) + new + "".join(lines[end:])


def _indent(src: str, width: int) -> str:
    pad = " " * width
    return "".join(pad + line if line.strip() else line for line in src.splitlines(keepends=True))


def fill(target: Path, op: str, section: str) -> None:
    """Apply one fixture section to ``target`` (see the module docstring)."""
    text = target.read_text()
    marker = f"# -- {op} (scaffolded by"
    assert marker in text, f"{target}: no scaffolded block of {op}"
    sec_lines = section.splitlines(keepends=True)
    before = []
    for node in ast.parse(section).body:
        src = "".join(sec_lines[_lines(section, node)[0]:node.end_lineno])
        tree = ast.parse(text)
        named = {n.name: n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.ClassDef))}
        if isinstance(node, ast.ClassDef) and node.name in named:
            cls = named[node.name]
            methods = {m.name: m for m in cls.body if isinstance(m, ast.FunctionDef)}
            for m in reversed([m for m in node.body if isinstance(m, ast.FunctionDef)]):
                msrc = "".join(sec_lines[_lines(section, m)[0]:m.end_lineno])
                start, end = _lines(text, methods[m.name])
                text = _replace(text, start, end, msrc)
        elif isinstance(node, ast.FunctionDef) and node.name in named:
            start, end = _lines(text, named[node.name])
            text = _replace(text, start, end, src)
        elif isinstance(node, ast.Expr) and isinstance(node.value, ast.Call) and \
                getattr(node.value.func, "id", "") == "OpSpec":
            block_at = text.index(f'    name="{op}",\n')
            for kw in node.value.keywords:
                value = ast.get_source_segment(section, kw.value)
                line = re.compile(rf"^    {kw.arg}=.*\n", re.M)
                m = line.search(text, block_at)
                assert m, f"{target}: no {kw.arg}= line in {op}'s OpSpec"
                text = text[:m.start()] + f"    {kw.arg}={value},\n" + text[m.end():]
        else:
            before.append(src)
    if before:  # after the scaffolded block's imports, before its first definition
        at = re.compile(r"^(def|class|@)", re.M).search(text, text.index(marker)).start()
        text = text[:at] + "".join(s.rstrip() + "\n\n" for s in before) + "\n" + text[at:]
    target.write_text(text)


def fill_op(project: Path, op: str, fixture: str) -> list[str]:
    done = []
    for (name, rel), src in sections(fixture).items():
        if name == op:
            fill(project / rel, op, src)
            done.append(rel)
    return done


# -- the page, run --------------------------------------------------------------------------------
def copy_project(dest: Path) -> None:
    """The working tree's files (tracked, and new ones git does not ignore) and refengine's built extensions."""
    files = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                           capture_output=True, text=True, check=True).stdout.split("\0")
    built = [str(p.relative_to(ROOT)) for p in (ROOT / "refengine").rglob("*.so")]
    for rel in [f for f in files if f] + built:
        src = ROOT / rel
        if src.is_file():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / rel)


def _env(project: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONFORMANCE_")}
    env["PYTHONPATH"] = str(project)
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    return env


def test_page_markers_and_fixture_agree() -> None:
    """Fast: every op the page fills has fixture sections, and every ``shows`` block of the page
    is in the fixture line for line (what the reader sees is what the slow test runs)."""
    page, fixture = PAGE.read_text(), FIXTURE.read_text()
    found = steps(page)
    assert sum(w.startswith("run") for w, _ in found) >= 6, "the page lost its doc-test markers"
    fixture_lines = {line.strip() for line in fixture.splitlines()}
    for node in ast.walk(ast.parse(fixture)):  # OpSpec(kink=...) in the fixture is the line kink=..., in the spec
        if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "OpSpec":
            fixture_lines |= {f"{kw.arg}={ast.get_source_segment(fixture, kw.value)}," for kw in node.keywords}
    for what, body in found:
        if what.startswith("fill "):
            assert any(op == what.split()[1] for op, _ in sections(fixture)), what
        if what == "shows":
            shown = [line.strip() for line in body.splitlines() if line.strip() and not line.lstrip().startswith("#")]
            missing = [line for line in shown if line not in fixture_lines]
            assert shown and not missing, f"lines of a python block of docs/new-op.md not in {FIXTURE.name}: {missing}"


@pytest.mark.slow
def test_new_op_page_runs(tmp_path: Path) -> None:
    """Every marked block of docs/new-op.md, in order, in a copy of the repository."""
    project = tmp_path / "project"
    copy_project(project)
    env, fixture = _env(project), FIXTURE.read_text()
    ran = []
    for what, body in steps(PAGE.read_text()):
        if what.startswith("fill "):
            assert fill_op(project, what.split()[1], fixture), what
            continue
        if not what.startswith("run"):
            continue
        want = int(what.split("exits")[1]) if "exits" in what else 0
        r = subprocess.run(["bash", "-c", "set -e\n" + body], cwd=project, env=env, capture_output=True,
                           text=True, timeout=600)
        out = r.stdout + r.stderr
        assert r.returncode == want, f"{body}\nexit {r.returncode}, expected {want}:\n{out[-4000:]}"
        if "conformance run" in body:
            assert "not-applicable" not in out or "not-applicable: 0" in out, out[-3000:]
            if want:
                paths = REPRODUCER.findall(out)
                assert paths and all((project / p).is_file() for p in paths), \
                    f"a failing run printed no reproducer path, or one that does not exist:\n{out[-3000:]}"
        ran.append(body.strip().splitlines()[0])
    assert len(ran) >= 6, ran
