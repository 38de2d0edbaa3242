"""``make test`` runs refengine through the harness's gradient properties for every registry op,
and the registry and refengine must name exactly the same ops.

This is the gate of the add-an-op workflow (docs/new-op.md): an op added to refengine with a
wrong backward fails here, and the failure message carries the harness's reproducer script.
Quick profile, seed 0: ~35 s for all ops on one core.
"""
from __future__ import annotations

import inspect
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from conformance import run
from conformance.engines import resolve
from conformance.runner.results import Result
from conformance.spec import user_ops
from conformance.spec.ops import REGISTRY

# the gate also covers a user's ops: CONFORMANCE_OPS_FROM=mypkg.ops pytest tests/test_refengine_gate.py
user_ops.load_inherited()

ROOT = Path(__file__).resolve().parent.parent
GATE_PROPERTIES = ["forward", "grad_vs_numerical", "vjp", "grad_vs_torch"]
#: refengine.ops names that are not registry ops: in-place variants (checked by the inplace
#: rules), dtype/copy utilities, comparison, and clamp's alias ``clip``
NOT_REGISTRY_OPS = {"add_", "sub_", "mul_", "div_", "fill_", "zero_", "cast", "to", "clone", "compare", "t_all",
                    "clip",
                    # the other comparisons: the same bool-result rule the registry's eq, lt and gt check
                    "ne", "le", "ge"}
#: issue 16: refengine ops whose OpSpecs are not written yet.  The harness does not test them until
#: they move into the registry; the list is explicit so a new op cannot slip in unlisted.
AWAITING_OPSPEC = {"arccos", "arccosh", "arcsin", "arcsinh", "arctan", "arctan2", "arctanh", "argsort",
                   "polygamma"}


def gradient_gate(ops: list[str]) -> list[Result]:
    """Run the gate's cells for ``ops`` on refengine; return the failed/errored ones."""
    rr = run(resolve("refengine"), profile="quick", ops=ops, properties=GATE_PROPERTIES, seed=0, corpus=False)
    return [r for r in rr.results if r.status.is_problem]


def explain(bad: list[Result]) -> str:
    return "\n\n".join(f"{r.op} {r.property} {r.dtype}: {r.status.value}: {r.message}\n{r.reproducer or ''}"
                       for r in bad)


@pytest.mark.parametrize("op", list(REGISTRY))
def test_refengine_gradients_gate(op: str) -> None:
    """Every registry op (user ops loaded through $CONFORMANCE_OPS_FROM too) passes the gradient
    properties on refengine; a failure prints the reproducer of each failing cell."""
    bad = gradient_gate([op])
    assert not bad, "refengine fails the gradient gate:\n" + explain(bad)


def _refengine_op_names() -> set[str]:
    import refengine.nn.functional as F
    import refengine.ops as ops
    nn_ops = {n for n in dir(F) if not n.startswith("_") and inspect.isfunction(getattr(F, n))
              and getattr(F, n).__module__.startswith("refengine.nn")}
    return ({n for n in ops.__all__ if n.isidentifier()} | nn_ops) - NOT_REGISTRY_OPS - AWAITING_OPSPEC


def test_every_refengine_op_has_a_spec_and_every_spec_an_op() -> None:
    """Both directions, by name: a refengine op without an OpSpec is never checked, and a spec
    whose op refengine lacks is silently not-applicable -- both fail here."""
    from conformance.spec.user_ops import USER_OPS
    builtin = {n for n in REGISTRY if n not in USER_OPS}
    A = resolve("refengine")
    lacking = sorted(o for o in builtin if not A.has_op(o))
    assert not lacking, f"registry ops refengine lacks (has_op false): {lacking}"
    names = _refengine_op_names()
    no_spec = sorted(names - builtin)
    assert not no_spec, f"refengine ops without an OpSpec: {no_spec} (add one, or list them in NOT_REGISTRY_OPS)"
    assert not NOT_REGISTRY_OPS & builtin, "NOT_REGISTRY_OPS names a registry op"


def test_list_ops_engine_marks_supported_ops() -> None:
    """``conformance list-ops --engine E`` says per op whether E supports it (micrograd-like partial
    engines are where it matters; refengine supports all)."""
    import contextlib
    import io

    from conformance.cli.main import main
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        assert main(["list-ops", "--engine", "refengine"]) == 0
    out = buf.getvalue()
    assert f"refengine: {len(REGISTRY)}/{len(REGISTRY)} registry ops supported" in out
    assert "missing" not in out


WRONG_OP_MODULE = textwrap.dedent('''
    """An op added to refengine with a wrong backward (d/dx x**3 written as 2*x**2)."""
    import numpy as np
    import refengine
    from refengine.function import ArrayFunction
    from conformance.spec.ops import OpSpec, Sample
    from conformance.spec import shapes as S

    class Cube(ArrayFunction):
        node_name = "CubeBackward0"

        @staticmethod
        def forward(ctx, a):
            ctx.save_for_backward(a)
            return a ** 3

        @staticmethod
        def backward(ctx, g):
            (a,) = ctx.saved_tensors
            return g * 2 * a * a  # wrong: should be 3 * a * a

    refengine.cube_wrong = lambda x: Cube.apply(x)
    OPS = [OpSpec(name="cube_wrong", family="elementwise", arity=1, template="M.cube_wrong($x0)",
                  sample=lambda draw: Sample((S.shape(draw),)), reference=lambda x: x ** 3,
                  torch_equivalent="torch.pow")]
''')


def test_wrong_backward_fails_make_test_with_the_reproducer(tmp_path: Path) -> None:
    """The issue's done-when: an op added to refengine with a wrong backward makes the test suite
    (this gate, as ``make test`` runs it) fail, and the output carries the reproducer script."""
    (tmp_path / "cube_wrong_op.py").write_text(WRONG_OP_MODULE)
    env = dict(os.environ, CONFORMANCE_OPS_FROM="cube_wrong_op",
               PYTHONPATH=os.pathsep.join([str(tmp_path), str(ROOT)]))
    env.pop("CONFORMANCE_OPS_ENTRY_POINTS", None)
    r = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-x",
                        "tests/test_refengine_gate.py", "-k", "gate and cube_wrong"],
                       capture_output=True, text=True, cwd=ROOT, env=env, timeout=300)
    assert r.returncode == 1, r.stdout[-3000:] + r.stderr[-2000:]
    assert "refengine fails the gradient gate" in r.stdout
    assert "cube_wrong grad_vs_numerical float64: failed" in r.stdout
    assert "v2 = M.cube_wrong(" in r.stdout or "= M.cube_wrong(" in r.stdout  # the reproducer's op call
    assert "import refengine as M" in r.stdout
