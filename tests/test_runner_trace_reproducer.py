"""Trace reproducers: a failing cell's script replays the whole check, shows the bug, and passes on torch.

The engines are tests/broken_engines ones whose bug lies in a sequence of calls (accumulation, a
second backward, retain_grad, no_grad results reused, detach) plus one wrong value; each script is
run as its own process, as a user would.
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from broken_engines import engines as E

from conformance.checks.properties import PROPERTIES
from conformance.engines import resolve
from conformance.engines.torch import TorchAdapter
from conformance.runner.cells import run_cell
from conformance.runner.profiles import PROFILES
from conformance.runner.reproducer import script
from conformance.runner.results import ANY_OP, Status
from conformance.runner.trace import Recorder, Ref, differences, replay
from conformance.spec.ops import REGISTRY
from conformance.spec.programs import Node, Program

ROOT = Path(__file__).resolve().parents[1]


def _run(src: str, tmp_path: Path, *argv: str, path: tuple[Path, ...] = ()) -> subprocess.CompletedProcess:
    f = tmp_path / "repro.py"
    f.write_text(src)
    pythonpath = ":".join(str(p) for p in (ROOT, ROOT / "tests", *path))
    return subprocess.run([sys.executable, str(f), *argv], capture_output=True, text=True, cwd=ROOT, timeout=180, check=False,
                          env={"PYTHONPATH": pythonpath, "PATH": "/usr/bin:/bin"})


def _cell(adapter: object, prop: str, op: str = ANY_OP) -> str:
    """The reproducer of the (quick, float64) cell, which must fail."""
    ops = [o for o in REGISTRY if adapter.has_op(o)] if op == ANY_OP else [op]
    r = run_cell(adapter, PROPERTIES[prop], op, "float64", PROFILES["quick"], 0, ops)
    assert r.status == Status.FAILED, (r.status, r.message)
    assert r.reproducer
    return r.reproducer


def _program() -> Program:
    """sum(x * c): x requires grad, c a constant."""
    nodes = [Node(value=np.array([0.5, -1.25]), requires_grad=True), Node(value=np.array([2.0, 3.0])),
             Node("mul", (0, 1)), Node("sum", (2,), {"dim": None, "keepdim": False})]
    return Program(nodes, 3, "float64", None, "mul")


# -- the trace ----------------------------------------------------------------------------------
def test_recorder_passes_tensors_through_and_names_them() -> None:
    R = Recorder(TorchAdapter())
    x = R.leaf(np.array([1.0, 2.0]), "float64", True)
    y = R.apply("mul", [x, x], {})
    s = R.apply("sum", [y], {"dim": None, "keepdim": False})
    R.backward(s)
    assert type(x).__name__ == "Tensor" and R.grad_tensor(x) is x.grad  # untouched: identities hold
    assert R.trace.calls[1].args[1] == ("inputs", [Ref("v0"), Ref("v0")])
    np.testing.assert_array_equal(R.grad_of(x), [2.0, 4.0])
    with pytest.raises(RuntimeError):
        R.backward(s)  # through a freed graph
    assert R.trace.calls[-1].method == "backward" and R.trace.outcomes[-1].raised == "autograd error"
    assert R.trace.unrenderable is None
    R.to_numpy(y.detach())  # a tensor made behind the recorder's back cannot be written out
    assert R.trace.unrenderable is not None


def test_replay_gives_each_adapters_observations() -> None:
    R = Recorder(E.GradOverwrittenNotAccumulated())
    PROPERTIES["accumulation"].check(R, _program())
    assert R.trace.unrenderable is None
    same = replay(R.trace, E.GradOverwrittenNotAccumulated())
    assert not differences(same, R.trace.outcomes, (1e-12, 1e-12))
    diffs = differences(R.trace.outcomes, replay(R.trace, TorchAdapter()), (1e-10, 1e-10))
    assert len(diffs) == 1 and "got [2.0, 3.0], expected [4.0, 6.0]" in diffs[0], diffs


def test_grad_mode_blocks_are_recorded_with_their_exit() -> None:
    R = Recorder(TorchAdapter())
    with pytest.raises(KeyError), R.no_grad():
        assert not R.is_grad_enabled()
        raise KeyError("leaves the block")
    assert [c.method for c in R.trace.calls] == ["no_grad", "enter", "is_grad_enabled", "exit"]
    assert dict(R.trace.calls[-1].args) == {"cm": Ref("v0"), "exception": True}
    assert R.is_grad_enabled() and not replay(R.trace, TorchAdapter())[2].obs[0]


# -- fallbacks ------------------------------------------------------------------------------------
def test_a_hook_falls_back_to_the_program_script() -> None:
    src = script(E.HookReturnIgnored(), PROPERTIES["hooks"], ANY_OP, _program(), "hooked grad", 0, None)
    assert src and "with step(" not in src and "print('RESULT'" in src
    assert src.startswith("# property 'hooks'") and "# replay: conformance run --engine" in src


def test_a_rejected_example_falls_back_and_no_example_gives_none() -> None:
    one_leaf = _program()  # freezing needs two leaves: the check rejects it
    src = script(E.GradOverwrittenNotAccumulated(), PROPERTIES["freezing"], ANY_OP, one_leaf, "m", 0, None)
    assert src and "with step(" not in src and "RESULT" in src
    assert script(TorchAdapter(), PROPERTIES["accumulation"], ANY_OP, None, "m", 0, None) is None


def test_no_rerun_for_a_stand_in_nor_where_torch_agrees() -> None:
    """A worker's dead engine is only a name; torch's own bug does not show against torch."""
    stand_in = SimpleNamespace(spec="broken_engines.engines:DetachKeepsGraph", name="x")
    src = script(stand_in, PROPERTIES["detach"], ANY_OP, _program(), "m", 0, None)
    assert src and "with step(" not in src and "from broken_engines.engines import DetachKeepsGraph" in src
    torch = resolve("torch")
    src = script(torch, PROPERTIES["accumulation"], ANY_OP, _program(), "m", 0, None)
    assert src and "with step(" not in src and "import torch as M" in src


# -- scripts run as a user runs them ---------------------------------------------------------------
BROKEN = [(E.GradOverwrittenNotAccumulated, "accumulation", ANY_OP),
          (E.RetainedGradOverwritten, "retain_grad", ANY_OP),
          (E.NoGradResultsRequireGrad, "no_grad", ANY_OP),
          (E.BackwardAlwaysRetainsGraph, "second_backward", ANY_OP),
          (E.AddDropsBroadcastReduction, "grad_vs_numerical", "add")]


@pytest.mark.parametrize(("cls", "prop", "op"), BROKEN, ids=[c.__name__ for c, _, _ in BROKEN])
def test_reproducer_shows_the_bug_and_passes_on_torch(cls: type, prop: str, op: str, tmp_path: Path) -> None:
    src = _cell(cls(), prop, op)
    assert "with step(" in src and f"from broken_engines.engines import {cls.__name__}" in src
    bad = _run(src, tmp_path)
    assert bad.returncode == 1, bad.stdout + bad.stderr
    assert "step " in bad.stdout and "expected" in bad.stdout and "difference(s) from torch" in bad.stdout
    good = _run(src, tmp_path, "torch")
    assert good.returncode == 0 and good.stdout.strip().endswith("OK"), good.stdout + good.stderr


BROKEN_TORCHLIKE = '''"""torch, except that no_grad does nothing (the bug)."""
import torch


class no_grad:
    def __enter__(self):
        return None

    def __exit__(self, *exc):
        return False


def __getattr__(name):
    return getattr(torch, name)
'''


def test_torchlike_reproducer_is_native_code(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    mods = tmp_path / "mods"
    mods.mkdir()
    (mods / "nogradless.py").write_text(BROKEN_TORCHLIKE)
    monkeypatch.syspath_prepend(str(mods))
    monkeypatch.delitem(sys.modules, "nogradless", raising=False)
    src = _cell(resolve("torchlike:nogradless"), "no_grad")
    assert "import nogradless as M" in src and "M.no_grad()" in src and "M.tensor(np.array(" in src
    assert "A.leaf(" not in src and "M.is_grad_enabled()" in src
    bad = _run(src, tmp_path, path=(mods,))
    assert bad.returncode == 1 and "M.is_grad_enabled(): got True, expected False" in bad.stdout, bad.stdout + bad.stderr
    good = _run(src, tmp_path, "torch", path=(mods,))
    assert good.returncode == 0 and good.stdout.strip() == "OK", good.stdout + good.stderr
