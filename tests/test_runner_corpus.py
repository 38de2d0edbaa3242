"""The replay corpus: saved failures replay to the same failure, replay clean once fixed, keep
stable file names, are merged into ``conformance run``, and the project's corpus/ replays in CI."""
from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

import tests.user_ops.engine as user_engine
from conformance import run
from conformance.cli.main import main
from conformance.engines import resolve
from conformance.runner import corpus
from conformance.runner.plan import plan
from conformance.runner.profiles import PROFILES
from conformance.runner.results import Status
from conformance.spec import user_ops as userops

ROOT = Path(__file__).resolve().parent.parent
ENGINE = "torchlike:tests.user_ops.engine"
PEERS = {"torch": "torch", "micrograd": "micrograd", "mygrad": "mygrad", "autograd": "autograd",
         "tinygrad": "tinygrad", "refengine": "refengine"}


@pytest.fixture
def bad_op(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """The user op with the wrong backward, registered for this test only (and the bug switched on)."""
    monkeypatch.setattr(user_engine, "BUG", True)
    monkeypatch.delenv(userops.ENV_VAR, raising=False)
    names = userops.load_module("tests.user_ops.wrong_ops")
    yield names[0]
    userops.unload(names)


def _failures(tmp_path: Path, op: str) -> list[Path]:
    rr = run(resolve(ENGINE), profile="quick", ops=[op], properties=["grad_vs_numerical"], seed=0, corpus=False)
    assert any(r.status == Status.FAILED for r in rr.results)
    return corpus.save_failures(rr, tmp_path)


def test_saved_failure_replays_to_the_same_failure_then_clean_after_the_fix(bad_op: str, tmp_path: Path) -> None:
    """The issue's round trip: save, replay (still failing, same message), fix, replay (fixed)."""
    paths = _failures(tmp_path, bad_op)
    assert len(paths) == 1  # one bug (seen in float64 and float32): one finding, one entry
    A = resolve(ENGINE)
    entries = corpus.load_dirs([tmp_path])
    before = corpus.replay(A, entries)
    assert [o.verdict for o in before] == ["still-failing"]
    assert all(o.same_failure for o in before), [(o.message, o.entry.message) for o in before]
    assert all("M.squareplus_bad(" in (o.result.reproducer or "") for o in before)
    user_engine.BUG = False  # the fix
    after = corpus.replay(A, entries)
    assert [o.verdict for o in after] == ["fixed"]


def test_a_replayed_failure_is_the_same_finding_as_the_bug_drawn_afresh(bad_op: str, tmp_path: Path) -> None:
    """A replay is diagnosed like a drawn failure: a run where one dtype's cell fails only by its
    corpus replay still reports the bug once, on the op, with the same finding id."""
    rr = run(resolve(ENGINE), profile="quick", ops=[bad_op], properties=["grad_vs_numerical"], seed=0, corpus=False)
    fresh = [(f.id, f.culprit, sorted(map(tuple, f.cells))) for f in rr.findings()]
    assert len(fresh) == 1 and fresh[0][1] == {"op": bad_op}
    corpus.save_failures(rr, tmp_path)
    (outcome,) = corpus.replay(resolve(ENGINE), corpus.load_dirs([tmp_path]))
    k = next(k for k, r in enumerate(rr.results) if r.key == outcome.result.key)
    rr.results[k] = outcome.result  # as if exploration had missed it and only the replay failed
    assert rr.results[k].message.startswith(corpus.REPLAY_PREFIX)
    assert [(f.id, f.culprit, sorted(map(tuple, f.cells))) for f in rr.findings()] == fresh


def test_file_names_are_stable_and_resaving_does_not_duplicate(bad_op: str, tmp_path: Path) -> None:
    """Running the same failing cell twice leaves one file per failure, byte-identical."""
    first = _failures(tmp_path, bad_op)
    texts = {p.name: p.read_text() for p in first}
    second = _failures(tmp_path, bad_op)
    assert sorted(p.name for p in second) == sorted(texts)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(texts)
    assert all(p.read_text() == texts[p.name] for p in second)
    entry = json.loads(first[0].read_text())
    assert {"engine", "op", "property", "dtype", "seed", "harness_version", "example"} <= set(entry)


def test_cli_replay_exit_codes(bad_op: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``conformance replay DIR --engine E``: 1 while an entry still fails, 0 once fixed, 2 on bad input."""
    _failures(tmp_path, bad_op)
    assert main(["replay", str(tmp_path), "--engine", ENGINE, "--ops-from", "tests.user_ops.wrong_ops"]) == 1
    assert "STILL-FAILING" in capsys.readouterr().out
    user_engine.BUG = False
    assert main(["replay", str(tmp_path), "--engine", ENGINE]) == 0
    assert "1 fixed" in capsys.readouterr().out  # one finding, one entry
    (tmp_path / "broken.json").write_text("{not json")
    assert main(["replay", str(tmp_path), "--engine", ENGINE]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("conformance: error:") and "broken.json: not JSON" in err and "\n" not in err
    assert main(["replay", str(tmp_path / "nowhere"), "--engine", ENGINE]) == 2


def test_run_reports_a_still_failing_replay_as_the_cell_result(tmp_path: Path) -> None:
    """A corpus entry that still fails becomes its cell's FAILED result even when exploration,
    with another seed, would not find the bug (here: the torch stack aliasing bug, seed 0)."""
    A = resolve("torch")
    cells = plan(PROFILES["quick"], ["stack"], ["retain_graph_twice"])
    outcomes = corpus.replay_for_run(A, cells, [ROOT / "corpus"])
    assert {o.entry.dtype for o in outcomes} == {"float32", "float64"}
    assert all(o.verdict == "still-failing" for o in outcomes)
    rr = run(A, profile="quick", ops=["stack"], properties=["retain_graph_twice"], seed=0, corpus=False)
    corpus.merge(rr, outcomes)
    failed = [r for r in rr.results if r.status == Status.FAILED]
    assert len(failed) == 2 and len(rr.results) == 2
    assert all(r.message.startswith(corpus.REPLAY_PREFIX) and "M.stack(" in (r.reproducer or "") for r in failed)


def test_run_cli_replays_before_exploring(capsys: pytest.CaptureFixture[str]) -> None:
    """``conformance run`` prints the corpus summary and exits 1 because of the replayed entry."""
    code = main(["run", "--engine", "torch", "--ops", "stack", "--properties", "retain_graph_twice",
                 "--profile", "quick", "-q"])
    out = capsys.readouterr()
    assert code == 1
    assert "corpus: 2 entries replayed" in out.err
    assert "FAILED" in out.out and "corpus replay" in out.out


def _installed(engine: str) -> bool:
    mod = {"autograd": "autograd", "refengine": "refengine"}.get(engine, engine)
    return importlib.util.find_spec(mod) is not None


@pytest.mark.parametrize("engine", sorted(PEERS))
def test_project_corpus_replays(engine: str) -> None:
    """CI replay of corpus/: refengine entries (regression guards) must pass; torch and third-party
    entries document bugs of the pinned versions and must still fail -- a change means the pin moved
    or the harness changed, and the entry must be revisited."""
    if not _installed(engine):
        pytest.skip(f"{engine} not installed")
    A = resolve(PEERS[engine])
    entries = [e for e in corpus.load_dirs([ROOT / "corpus"]) if e.engine == A.name]
    assert entries, f"corpus/ has no entry for {engine}"
    want = "fixed" if engine == "refengine" else "still-failing"
    got = {e.path.name: o.verdict for e, o in zip(entries, corpus.replay(A, entries))}
    assert all(v == want for v in got.values()), got


def test_isolated_runs_replay_in_a_child_process() -> None:
    """Engines a run keeps out of its own process (isolation) replay the corpus in a child process,
    with the same outcomes as in process."""
    if not _installed("micrograd"):
        pytest.skip("micrograd not installed")
    cells = plan(PROFILES["quick"], ["mul"], ["retain_graph_twice"])
    outcomes = corpus.replay_for_run_isolated("micrograd", cells, [ROOT / "corpus"])
    assert [(o.entry.path.name, o.verdict, o.same_failure) for o in outcomes] == [
        ("mul.retain_graph_twice.float64.micrograd.5ff5d1625a44.json", "still-failing", True)]
    assert outcomes[0].result is not None and outcomes[0].result.status == Status.FAILED
