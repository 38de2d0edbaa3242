"""runner/gradcheck_script.py: a numerical failure torch shares is reproduced on the engine alone."""
from __future__ import annotations

import json
import pathlib
import subprocess
import sys

import numpy as np

from conformance.checks.properties import PROPERTIES
from conformance.engines import resolve
from conformance.runner.gradcheck_script import gradcheck_script
from conformance.runner.reproducer import script
from conformance.spec.program_json import decode_example
from conformance.spec.programs import Node, Program

ROOT = pathlib.Path(__file__).resolve().parents[1]


def _run(text: str, tmp_path: pathlib.Path) -> subprocess.CompletedProcess:
    path = tmp_path / "repro.py"
    path.write_text(text)
    return subprocess.run([sys.executable, str(path)], capture_output=True, text=True, cwd=ROOT, timeout=300)


def test_torchs_own_batch_norm_bug_gets_a_reproducer_that_exits_1(tmp_path: pathlib.Path) -> None:
    # PyTorch P4 (docs/findings.md): torch's run fails grad_vs_numerical there, and a trace script compares
    # with torch itself -- no difference to show.  The gradcheck script shows it on torch alone.
    p = decode_example(json.loads((ROOT / "tests" / "fixtures" / "batch_norm_strided_program.json").read_text()))
    text = script(resolve("torch"), PROPERTIES["grad_vs_numerical"], "batch_norm", p, "leaf grads: v2[0]: wrong", 0)
    assert text is not None and "gradcheck of engine torch" in text
    r = _run(text, tmp_path)
    assert r.returncode == 1, r.stdout + r.stderr
    assert "v2.grad[0]: got -2.99" in r.stdout and "central differences -12.00" in r.stdout


def test_a_right_engine_passes_the_same_gradcheck(tmp_path: pathlib.Path) -> None:
    p = decode_example(json.loads((ROOT / "tests" / "fixtures" / "batch_norm_strided_program.json").read_text()))
    r = _run(gradcheck_script(p, "refengine", (2e-3, 2e-3)), tmp_path)
    assert r.returncode == 0 and r.stdout.strip() == "OK", r.stdout + r.stderr


def test_a_scalar_program_with_a_0d_leaf(tmp_path: pathlib.Path) -> None:
    p = Program([Node(value=np.array(0.7), requires_grad=True), Node(value=np.array([1.0, -2.0]), requires_grad=True),
                 Node("mul", (0, 1)), Node("sin", (2,)), Node("sum", (3,), {"dim": None, "keepdim": False})],
                4, "float64", None, "sin")
    r = _run(gradcheck_script(p, "torch", (1e-6, 1e-6)), tmp_path)
    assert r.returncode == 0 and r.stdout.strip() == "OK", r.stdout + r.stderr


def test_only_engines_a_script_can_drive_with_plain_calls() -> None:
    p = Program([Node(value=np.array([1.0]), requires_grad=True), Node("sin", (0,)),
                 Node("sum", (1,), {"dim": None, "keepdim": False})], 2, "float64", None, "sin")
    assert gradcheck_script(p, "tests.broken_engines.engines:SinBackwardOff", (1e-6, 1e-6)) is None
    assert gradcheck_script(p, "torchlike:mypkg", (1e-6, 1e-6)) is not None
