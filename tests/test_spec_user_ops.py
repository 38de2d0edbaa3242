"""User op specs (``--ops-from``, the ``conformance.ops`` entry point): a custom op torch lacks is
checked by every property that does not need torch, a wrong backward is caught with a
reproducer, results say which oracles applied, and bad user modules are one-line exit-2 errors."""
from __future__ import annotations

import json
from importlib import metadata
from pathlib import Path

import pytest

from conformance import run
from conformance.checks.properties import PROPERTIES
from conformance.cli.main import main
from conformance.engines import resolve
from conformance.runner.results import Status
from conformance.spec import user_ops as userops

ENGINE = "torchlike:tests.user_ops.engine"
MODULES = "tests.user_ops.ops,tests.user_ops.wrong_ops"


@pytest.fixture(autouse=True)
def clean_registry(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """Whatever a test loads leaves the registry (and the environment workers read) as it was."""
    monkeypatch.delenv(userops.ENV_VAR, raising=False)
    monkeypatch.delenv(userops.ENV_ENTRY_POINTS, raising=False)
    before = set(userops.USER_OPS)
    yield
    userops.unload(set(userops.USER_OPS) - before)


def test_user_op_with_wrong_backward_is_caught_with_a_reproducer(tmp_path: Path) -> None:
    """The whole CLI path, isolated workers included: the wrong op fails the gradient checks with
    a reproducer calling it; the right one passes; torch-needing properties are not-applicable
    (never passed) and the oracles each cell used are recorded."""
    code = main(["run", "--engine", ENGINE, "--ops-from", MODULES, "--ops", "squareplus,squareplus_bad",
                 "--properties", "forward,grad_vs_numerical,grad_vs_torch,vjp,higher_order", "--profile", "quick",
                 "--no-corpus", "-q", "--report", str(tmp_path), "--save-failures", str(tmp_path / "saved")])
    assert code == 1
    saved = sorted(p.name for p in (tmp_path / "saved").iterdir())
    assert saved and all(n.startswith("squareplus_bad.") for n in saved), saved
    res = json.loads((tmp_path / "results.json").read_text())["results"]
    cell = {(r["op"], r["property"], r["dtype"]): r for r in res}
    bad = cell[("squareplus_bad", "grad_vs_numerical", "float64")]
    assert bad["status"] == "failed" and "M.squareplus_bad(" in bad["reproducer"]
    assert bad["program"]["kind"] == "program"  # what --save-failures stores
    for op in ("squareplus", "squareplus_bad"):
        for dt in ("float64", "float32"):
            r = cell[(op, "grad_vs_torch", dt)]
            assert r["status"] == "not-applicable" and "no torch equivalent" in r["message"]
        assert cell[(op, "higher_order", "float64")]["status"] == "not-applicable"
    good = [r for r in res if r["op"] == "squareplus" and r["status"] == "passed"]
    assert {r["property"] for r in good} == {"forward", "grad_vs_numerical", "vjp"}
    assert {o for r in good for o in r["oracles"]} == {"numpy", "numerical"}
    assert not any("torch" in o for r in res for o in r["oracles"])


def test_any_op_rules_needing_torch_do_not_draw_torchless_ops() -> None:
    """An op-independent rule that consults torch draws only ops torch has; the others draw all."""
    userops.load_module("tests.user_ops.ops")
    assert PROPERTIES["retain_grad"].drawable(["sin", "squareplus"]) == ["sin"]
    assert PROPERTIES["accumulation"].drawable(["sin", "squareplus"]) == ["sin", "squareplus"]
    rr = run(resolve(ENGINE), profile="quick", ops=["squareplus"], properties=["detach", "accumulation"], seed=0, corpus=False)
    status = {(r.property, r.dtype): r.status for r in rr.results}
    assert status[("detach", "float64")] == Status.NOT_APPLICABLE
    assert status[("accumulation", "float64")] == Status.PASSED


class _TorchUsed(Exception):
    pass


def test_torch_oracle_declarations_are_exact(monkeypatch: pytest.MonkeyPatch) -> None:
    """The properties declaring a torch oracle must be exactly those whose checks call it, or a
    torch-less op would error (missing) or lose coverage (extra): run every property with the
    oracle blocked and see which ones reach it."""
    from conformance.checks import oracles

    def blocked() -> None:
        raise _TorchUsed("torch oracle")

    monkeypatch.setattr(oracles, "torch_adapter", blocked)
    A = resolve("refengine")
    used = {"mpmath_extreme"}  # thorough-only, elementwise-only: checked by reading (it calls torch_grads)
    for name, prop in PROPERTIES.items():
        if name == "mpmath_extreme":
            continue
        # a per-op property runs on the first of these ops it applies to (promotion: binary ops; integer
        # reductions: reductions; comparison: the bool-result ops)
        any_op = ["tanh", "mul", "add", "sum", "sin"]
        selections = [[op] for op in ("tanh", "mul", "sum", "lt")] if prop.per_op else [any_op]
        for ops in selections:
            # the half-precision properties run in ci (and thorough) only, on float16 (their first dtype)
            cells = run(A, profile="quick" if "quick" in prop.profiles else "ci", ops=ops, properties=[name],
                        dtypes=[prop.dtypes[0]], seed=0, corpus=False).results
            if cells:
                break
        (r,) = cells
        if "_TorchUsed" in r.message:
            used.add(name)
        else:
            assert r.status == Status.PASSED, (name, r.message)
    assert used == {name for name, prop in PROPERTIES.items() if prop.uses_torch}


@pytest.mark.parametrize("module, why", [
    ("tests.user_ops.no_such_module", "cannot import it: ModuleNotFoundError"),
    ("tests.user_ops.not_specs", "OPS[0] is a str, expected a conformance.spec.opspec.OpSpec"),
    ("tests.user_ops.duplicate", "op 'sin' is already defined (by the built-in registry)"),
    ("tests.user_ops", "defines no OPS list"),
    ("not a module", "expected a dotted module name"),
])
def test_bad_user_modules_are_one_line_errors(module: str, why: str, capsys: pytest.CaptureFixture[str]) -> None:
    """Import errors, non-OpSpecs, duplicate names: exit 2 with one line on stderr, nothing registered."""
    before = set(userops.USER_OPS)
    assert main(["run", "--engine", "refengine", "--ops-from", module, "--ops", "sin", "-q"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("conformance: error:") and why in err[0], err
    assert set(userops.USER_OPS) == before


def test_entry_point_packages_contribute_ops(monkeypatch: pytest.MonkeyPatch) -> None:
    """An installed package's ``conformance.ops`` entry point (a module with OPS) joins the registry,
    and ``list-ops`` shows it with its origin."""
    ep = metadata.EntryPoint(name="userpkg", value="tests.user_ops.ops", group=userops.ENTRY_POINT_GROUP)
    monkeypatch.setattr(userops.metadata, "entry_points",
                        lambda group=None: [ep] if group == userops.ENTRY_POINT_GROUP else [])
    assert userops.load_entry_points() == ["squareplus"]
    assert userops.USER_OPS["squareplus"].startswith("entry point userpkg")
    assert userops.load_entry_points() == []  # loading twice adds nothing


def test_unwritable_save_failures_dir_fails_before_the_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--save-failures into a path that cannot be a directory is exit 2 up front, one line."""
    (tmp_path / "file").write_text("x")
    assert main(["run", "--engine", "refengine", "--ops", "sin", "--save-failures", str(tmp_path / "file" / "d"),
                 "-q"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--save-failures" in err[0] and "cannot create the directory" in err[0]


def test_a_spec_torch_cannot_call_is_an_error_not_a_false_green(capsys: pytest.CaptureFixture[str]) -> None:
    """Checking a spec on torch itself: a template naming a function torch lacks makes the op's cells
    errors that say what to fix, never not-applicable, so the run is not conformant (exit 1)."""
    code = main(["run", "--engine", "torch", "--ops-from", "tests.user_ops.misplaced", "--ops", "softplus_misplaced",
                 "--properties", "forward,grad_vs_torch", "--profile", "quick", "-q", "--workers", "1",
                 "--no-corpus"])
    out = capsys.readouterr().out
    assert code == 1 and "NONCONFORMANT" in out
    assert out.count("ERROR") == 4 and "not-applicable" not in out
    assert ("op softplus_misplaced: its OpSpec names torch equivalent 'torch.softplus', but torch has no "
            "M.softplus") in out
