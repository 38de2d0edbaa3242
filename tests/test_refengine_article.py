"""The article's worked example (issue 2 item 11), by hand and against torch."""
import subprocess
import sys
from pathlib import Path

import pytest

import refengine as re

ROOT = Path(__file__).resolve().parents[1]
W = dict(w1=2.0, w2=3.0, w3=4.0, w4=5.0, a=1.5)


def run(lib):
    leaves = {k: lib.tensor([v], requires_grad=True) for k, v in W.items()}
    b = leaves["w1"] * leaves["a"]
    c = leaves["w2"] * leaves["a"]
    d = leaves["w3"] * b + leaves["w4"] * c
    L = 10 - d
    L.backward()
    return {k: float(v.grad.detach().numpy()[0]) if hasattr(v.grad, "detach") else v.grad.item()
            for k, v in leaves.items()}, L


def test_hand_derived_gradients():
    grads, _ = run(re)
    w1, w2, w3, w4, a = (W[k] for k in ("w1", "w2", "w3", "w4", "a"))
    assert grads == {"w1": -w3 * a, "w2": -w4 * a, "w3": -w1 * a, "w4": -w2 * a, "a": -(w3 * w1 + w4 * w2)}


def test_against_torch():
    torch = pytest.importorskip("torch")
    ours, L = run(re)
    theirs, Lt = run(torch)
    assert ours == pytest.approx(theirs, rel=1e-15)


def test_example_script_prints_gradients_and_graph():
    out = subprocess.run([sys.executable, str(ROOT / "examples" / "article.py")],
                         capture_output=True, text=True, check=True).stdout
    assert "dL/dw1 = -6" in out and "dL/da = -23" in out
    assert "SubBackward0" in out and "AccumulateGrad" in out


def test_refengine_imports_nothing_of_conformance():
    code = "import sys, refengine; print(any(m.startswith('conformance') for m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
