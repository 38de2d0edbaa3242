"""``conformance list-ops --params``: each op's call, inputs and params, read off its OpSpec.

The signature is a summary of samples the OpSpec draws, so an op gets one without any listing
code of its own (a spec made here shows that), and a run of the listing leaves nothing in the
caller's working directory (drawing samples uses hypothesis, which caches files).
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import strategies as st

from conformance.cli.main import main
from conformance.spec import signature
from conformance.spec.ops import REGISTRY, OpSpec, Sample

ROOT = Path(__file__).resolve().parents[1]


def _list(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, list[str], str]:
    code = main(["list-ops", *args])
    out, err = capsys.readouterr()
    return code, out.splitlines(), err


def _block(lines: list[str], op: str) -> dict[str, str]:
    """The indented lines under ``op``'s line, keyed by their first word."""
    start = next(i for i, line in enumerate(lines) if line.split()[:1] == [op])
    block: dict[str, str] = {}
    for line in lines[start + 1:]:
        if not line.startswith("    "):
            break
        key, _, rest = line.strip().partition(" ")
        block[key] = (block[key] + " / " + rest.strip()) if key in block else rest.strip()
    return block


def test_a_reduction_shows_its_dim_conventions(capsys: pytest.CaptureFixture[str]) -> None:
    code, lines, err = _list(capsys, "--params", "--ops", "sum,transpose")
    assert code == 0 and err == ""
    assert sum("Conventions" in line for line in lines) == 1  # the shared conventions, once, on top
    s = _block(lines, "sum")
    assert s["call"] == "M.sum(x0, dim=dim, keepdim=keepdim)"
    assert "0-d drawn" in s["input"]
    for part in ("None", "int -", "tuple of int", "negative dims drawn", "None = every dim"):
        assert part in s["dim"], (part, s["dim"])
    assert s["keepdim"] == "bool"  # not a dim: no dim remarks
    t = _block(lines, "transpose")
    assert t["call"] == "M.transpose(x0, dim0, dim1)" and "dim0" in t and "dim1" in t
    assert not any(line.split()[:1] == ["mean"] for line in lines)  # --ops selects


def test_losses_and_indexing_show_arrays_and_choices(capsys: pytest.CaptureFixture[str]) -> None:
    _, lines, _ = _list(capsys, "--params", "--ops", "cross_entropy,index,max")
    ce = _block(lines, "cross_entropy")
    assert ce["target"].startswith("int64 array of rank 1") and "'mean'" in ce["reduction"]
    assert "tuple of" in _block(lines, "index")["index"]
    m = _block(lines, "max")
    assert "M.max(x0)  |  " in m["call"] and m["note"].startswith("dim form returns")  # both call forms, the note


def _odd_sample(draw) -> Sample:
    shape = draw(st.sampled_from([(), (2, 3)]))
    return Sample((shape,), {"alpha": draw(st.integers(-2, 5)), "dim": draw(st.sampled_from([-1, 0])),
                             "mode": draw(st.sampled_from(["a", "b"])), "mask": np.ones(shape, dtype=bool)})


def test_the_signature_is_read_off_any_opspec() -> None:
    """A spec no listing code knows: its params, kinds and ranges come from what its sampler draws."""
    spec = OpSpec(name="odd", family="user", arity=1, template="M.odd($x0, $alpha, dim=$dim)", sample=_odd_sample,
                  reference=lambda x, **p: x, notes="made up")
    sig = signature.describe(spec)
    params = dict(sig.params)
    assert params["alpha"].startswith("int -2..") and params["mode"] == "one of 'a', 'b'"
    assert params["dim"] == "int -1..0; negative dims drawn" and params["mask"].startswith("bool array of rank 0..2")
    assert sig.inputs == ("x0: rank 0..2, values in [-3, 3]; 0-d drawn",)
    assert sig.call == "M.odd(x0, alpha, dim=dim)" and sig.notes == "made up"


def test_every_registry_op_has_a_signature() -> None:
    for spec in REGISTRY.values():
        sig = signature.describe(spec, n=3)
        assert len(sig.inputs) == spec.arity and sig.call, spec.name


def test_listing_params_writes_nothing_into_the_working_directory(tmp_path: Path) -> None:
    """In a fresh process (hypothesis writes its cache there once per process; in this one it may have already)."""
    work = tmp_path / "work"
    work.mkdir()
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONPATH": str(ROOT), "XDG_CACHE_HOME": str(tmp_path / "c")}
    r = subprocess.run([sys.executable, "-m", "conformance", "list-ops", "--params", "--ops", "sum"], cwd=work, env=env,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and "keepdim" in r.stdout, r.stderr
    assert list(work.iterdir()) == []
    # nor anywhere else: hypothesis's one file was its cache of the constants written in the loaded modules,
    # which draws leave out (spec/sampler.py); were it written, it would go under XDG_CACHE_HOME, not the cwd
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []


def test_an_unknown_op_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    code, lines, err = _list(capsys, "--params", "--ops", "summ")
    line = "conformance: error: unknown op 'summ' (did you mean 'sum'?); see conformance list-ops\n"
    assert (code, lines, err) == (2, [], line)
