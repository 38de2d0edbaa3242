"""``conformance new-op NAME`` scaffolds a spec and a refengine ArrayFunction into a project tree
(a temporary copy here): valid Python the registry and refengine pick up, TODOs where the op's
maths goes, and never an overwrite."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conformance.cli.main import main

ROOT = Path(__file__).resolve().parent.parent
IGNORE = shutil.ignore_patterns("__pycache__", "*.c", "*.html")


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A copy of the parts of the project new-op writes to and imports (conformance, refengine)."""
    for pkg in ("conformance", "refengine"):
        shutil.copytree(ROOT / pkg, tmp_path / pkg, ignore=IGNORE)
    return tmp_path


def _python(project: Path, code: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONFORMANCE_")}
    env["PYTHONPATH"] = str(project)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=project, env=env,
                          timeout=120)


def test_new_op_scaffolds_spec_and_function_that_load(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """An existing family (elementwise, binary: arith.py) and a new family module: the registry
    discovers them, refengine exports the functions, and running them hits the TODOs."""
    assert main(["new-op", "softsign", "--root", str(project)]) == 0
    assert main(["new-op", "copysign", "--arity", "2", "--root", str(project)]) == 0
    assert main(["new-op", "gelu_tanh", "--family", "activations", "--torch-equivalent", "", "--root",
                 str(project)]) == 0
    out = capsys.readouterr().out
    assert "conformance run --engine refengine --ops softsign" in out
    spec_text = (project / "conformance/spec/ops/elementwise.py").read_text()
    # torch has softsign in nn.functional only: the template calls it there, on torch and on refengine
    assert ('name="softsign",\n    family="elementwise",\n    arity=1,\n    template="M.nn.functional.softsign($x0)",'
            in spec_text)
    assert 'torch_equivalent="torch.nn.functional.softsign"' in spec_text
    assert 'template="M.copysign($x0, $x1)"' in spec_text and 'torch_equivalent="torch.copysign"' in spec_text
    assert 'torch_equivalent="",' in (project / "conformance/spec/ops/activations.py").read_text()
    assert "TODO" in spec_text and (project / "conformance/spec/ops/activations.py").exists()
    r = _python(project, "\n".join([
        "import numpy as np, refengine",
        "from conformance.spec.ops import REGISTRY",
        "assert {'softsign', 'copysign', 'gelu_tanh'} <= set(REGISTRY), sorted(REGISTRY)[-5:]",
        "assert REGISTRY['gelu_tanh'].family == 'activations'",
        "x = refengine.tensor(np.ones(2), requires_grad=True)",
        "F = refengine.nn.functional",
        "for f, args in [(F.softsign, (x,)), (refengine.copysign, (x, x)), (refengine.gelu_tanh, (x,))]:",
        "    try: f(*args)",
        "    except NotImplementedError as e: print('TODO hit:', e)",
    ]))
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.count("TODO hit: TODO: forward of") == 3, r.stdout


def test_new_op_refuses_to_overwrite(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A second new-op of the same name, or of an op refengine/the registry already has, is exit 2
    with one line, and no file changes."""
    assert main(["new-op", "softsign", "--root", str(project)]) == 0
    files = {p: p.read_text() for p in project.rglob("*.py")}
    capsys.readouterr()
    for argv in (["new-op", "softsign"], ["new-op", "sin"], ["new-op", "conv2d", "--family", "nn"],
                 ["new-op", "Bad-Name"], ["new-op", "x", "--family", "spec"]):
        assert main(argv + ["--root", str(project)]) == 2, argv
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("conformance: error:"), err
    assert {p: p.read_text() for p in project.rglob("*.py")} == files


def test_new_op_needs_a_project_root(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Pointing --root elsewhere is a clear error, not a stray file."""
    assert main(["new-op", "softsign", "--root", str(tmp_path)]) == 2
    assert "not the project root" in capsys.readouterr().err
    assert not any(tmp_path.iterdir())


def test_new_op_refuses_a_name_torch_lacks_and_follows_torchs_namespace(project: Path,
                                                                        capsys: pytest.CaptureFixture[str]) -> None:
    """A name torch does not have is refused (exit 2, one line naming where it looked) unless
    --torch-equivalent says so; torch.special's erfcx goes to a new refengine.special module."""
    files = {p: p.read_text() for p in project.rglob("*.py")}
    assert main(["new-op", "softsine", "--root", str(project)]) == 2
    err = capsys.readouterr().err
    assert "torch has no 'softsine'" in err and "--torch-equivalent" in err
    assert {p: p.read_text() for p in project.rglob("*.py")} == files
    assert main(["new-op", "erfcx", "--root", str(project)]) == 0
    assert 'template="M.special.erfcx($x0)"' in (project / "conformance/spec/ops/elementwise.py").read_text()
    r = _python(project, "import refengine; print(callable(refengine.special.erfcx))")
    assert r.returncode == 0 and "True" in r.stdout, r.stderr[-2000:]
