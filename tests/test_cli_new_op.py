"""``conformance new-op NAME`` scaffolds a spec and a refengine ArrayFunction into a project tree
(a temporary copy here): valid Python the registry and refengine pick up, TODOs where the op's
maths goes, and never an overwrite."""
from __future__ import annotations

import inspect
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


def test_new_op_drafts_params_from_torchs_signature(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """torch's signature (docstring overloads for builtins) drafts the params: a reduction (nansum:
    optional dim, keepdim: family reduce), a required dim (logcumsumexp), a float with a default
    (softshrink's lambd), an untyped param as a TODO (logit's eps); the reference takes them as
    keywords, and the drafted sampler and template call torch correctly for every drawn sample."""
    for argv in (["nansum"], ["logcumsumexp"], ["softshrink"], ["logit"], ["logaddexp2", "--arity", "2"]):
        assert main(["new-op", *argv, "--root", str(project)]) == 0, argv
    reduce_text = (project / "conformance/spec/ops/reduce.py").read_text()
    assert 'template="M.nansum($x0, dim=$dim, keepdim=$keepdim)"' in reduce_text
    assert '"dim": S.reduce_dims(draw, len(shp)),' in reduce_text and '"keepdim": draw(st.booleans()),' in reduce_text
    assert "def _nansum_reference(x0: np.ndarray, *, dim: Any, keepdim: bool)" in reduce_text
    ref = (project / "refengine/ops/reduce.py").read_text()
    assert "normalize_dims(dim, a.ndim)" in ref and "expand_back(g, ctx.shape, ctx.dims, ctx.keepdim)" in ref
    assert "def nansum(input, dim=None, keepdim=False):" in ref
    text = (project / "conformance/spec/ops/elementwise.py").read_text()
    assert '"dim": S.dim_of(draw, len(shp)),' in text and 'template="M.logcumsumexp($x0, dim=$dim)"' in text
    assert '"lambd": draw(st.sampled_from([0.5, 0.25, 1.0])),' in text
    assert 'template="M.nn.functional.softshrink($x0, lambd=$lambd)"' in text
    assert "# TODO: eps (default None): not drafted" in text and 'template="M.logit($x0)"' in text
    assert "a, b = S.broadcast_pair(draw)" in text
    arith = (project / "refengine/ops/arith.py").read_text()
    assert "result_dtype(a, b, floating=True)" in arith and "fit_grad(grad_a, a), fit_grad(grad_b, b)" in arith
    r = _python(project, "\n".join([
        "import numpy as np, torch",
        "from hypothesis import given, settings, strategies as st",
        "from conformance.spec.ops import REGISTRY",
        "seen = {}",
        "for op in ['nansum', 'logcumsumexp', 'softshrink', 'logaddexp2']:",
        "    spec = REGISTRY[op]",
        "    @settings(max_examples=40, database=None, deadline=None)",
        "    @given(st.data())",
        "    def check(data):",
        "        s = data.draw(st.composite(lambda draw: spec.sample(draw))())",
        "        xs = [torch.ones(sh, dtype=torch.float64) for sh in s.shapes]",
        "        spec.call(torch, xs, s.params)  # raises on an invalid dim or non-broadcasting shapes",
        "        seen.setdefault(op, set()).add((tuple(s.shapes), repr(sorted(s.params.items()))))",
        "    check()",
        "print({k: len(v) for k, v in seen.items()})",
        "assert any(a != b for (a, b), _ in seen['logaddexp2']), 'only equal shapes drawn'",
        "assert any('-' in p for _, p in seen['nansum']), 'no negative dim drawn'",
        "import refengine",  # the refengine drafts import, and reach their TODOs with the drafted keywords
        "x = refengine.tensor(np.ones((2, 3)), requires_grad=True)",
        "calls = [(refengine.nansum, (x,), {'dim': -1, 'keepdim': True}), (refengine.logcumsumexp, (x,), {'dim': 0}),",
        "         (refengine.nn.functional.softshrink, (x,), {'lambd': 0.5}), (refengine.logit, (x,), {}),",
        "         (refengine.logaddexp2, (x, x), {})]",
        "for f, args, kw in calls:",
        "    try: f(*args, **kw)",
        "    except NotImplementedError as e: print('TODO hit:', e)",
    ]))
    assert r.stdout.count("TODO hit: TODO: forward of") == 5, r.stdout
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-3000:]


def test_signature_from_docstring_overloads() -> None:
    """A builtin without inspect.signature: the docstring's signature lines, overloads merged (a
    param one overload lacks is optional), types from the Args section, plumbing left out."""
    from conformance.cli.scaffold_params import classify, signature_params

    doc = ("\nred(input, *, dtype=None) -> Tensor\n\nSums.\n\n.. function:: red(input, dim, keepdim=False, *, "
           "dtype=None) -> Tensor\n   :noindex:\n\nArgs:\n    dim (int or tuple of ints, optional): dims.\n"
           "    keepdim (bool): keep.\n")

    class Builtin:  # inspect.signature raises on it, like torch's builtins
        __doc__ = doc
        __call__ = None
    found = signature_params(Builtin(), "red")
    assert found == [("input", inspect.Parameter.empty, ""), ("dtype", None, ""),
                     ("dim", None, "int or tuple of ints, optional"), ("keepdim", False, "bool")], found
    kinds = [classify(n, d, t) for n, d, t in found[1:]]
    assert kinds[0] is None  # dtype: plumbing
    assert (kinds[1].kind, kinds[1].allow_tuple, kinds[2].kind) == ("dims", True, "keepdim")
    assert classify("weight", inspect.Parameter.empty, "Tensor").kind == "unknown"
    assert classify("mode", "mean", "").kind == "unknown"
    assert classify("n", 1, "int, optional").kind == "int" and classify("dim", -1, "int").kind == "dim"
