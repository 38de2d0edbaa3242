"""The replay corpus: shrunk failing examples saved as small JSON files, replayed first and fast.

``conformance run --save-failures DIR`` writes one file per failing cell (the example the
property failed on, exactly: conformance.programjson); ``conformance replay DIR --engine E``
rebuilds each example and runs its property's check on it once -- no hypothesis search --
reporting it *still-failing* or *fixed*.  ``conformance run`` replays the project's own
``corpus/`` (entries for the engine under test, or for engine ``"*"``) before exploring and
reports an entry that still fails as the failed result of its cell.

File names are ``OP.PROPERTY.DTYPE.ENGINE.HASH.json`` where HASH covers the engine, cell and
example (not the seed or message), so saving the same failure again rewrites the same file.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence

from hypothesis.errors import UnsatisfiedAssumption

from conformance.checks.properties import PROPERTIES
from conformance.checks.properties.base import outside_hypothesis
from conformance.engines import resolve
from conformance.engines.adapter import Adapter
from conformance.errors import ConfigError
from conformance.runner.cells import diagnose, failed_result, restore_grad_mode
from conformance.runner.plan import not_applicable
from conformance.runner.profiles import HARNESS_VERSION
from conformance.runner.reproducer import script
from conformance.runner.results import ANY_OP, Result, RunResults, Status
from conformance.spec import program_json as programjson
from conformance.spec.ops import REGISTRY
from conformance.spec.user_ops import load_inherited

CORPUS_FORMAT = 1
ANY_ENGINE = "*"
#: the project's corpus, replayed by every ``conformance run`` (absent in a non-editable install)
PROJECT_CORPUS = Path(__file__).resolve().parents[2] / "corpus"  # the repository's corpus/
REPLAY_PREFIX = "corpus replay"
_REQUIRED = ("engine", "op", "property", "dtype", "example")


class CorpusError(ConfigError):
    """A corpus file or directory cannot be used (one line: which file, what was wrong)."""


@dataclass
class Entry:
    """One saved failure.  ``engine`` is where it was found, or "*" for any engine."""

    engine: str
    op: str
    property: str
    dtype: str
    example: dict[str, Any]
    seed: int | None = None
    harness_version: str = ""
    status: str = "failed"
    message: str = ""
    note: str = ""
    path: Path | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"corpus_format": CORPUS_FORMAT, "engine": self.engine, "op": self.op, "property": self.property,
                "dtype": self.dtype, "seed": self.seed, "harness_version": self.harness_version,
                "status": self.status, "message": self.message, "note": self.note, "example": self.example}

    def digest(self) -> str:
        key = json.dumps([self.engine, self.op, self.property, self.dtype, self.example], sort_keys=True)
        return hashlib.sha256(key.encode()).hexdigest()[:12]

    def filename(self) -> str:
        parts = ["any" if self.op == ANY_OP else self.op, self.property, self.dtype,
                 "any-engine" if self.engine == ANY_ENGINE else self.engine, self.digest()]
        return ".".join(re.sub(r"[^A-Za-z0-9_-]+", "-", p) for p in parts) + ".json"

    def applies_to(self, adapter: Adapter) -> bool:
        return self.engine in (ANY_ENGINE, adapter.name, adapter.spec)


def entry_from_result(r: Result) -> Entry | None:
    """The corpus entry of a failed/errored cell (None when it has no encodable example)."""
    if r.program is None or r.message.startswith(REPLAY_PREFIX):
        return None
    return Entry(r.engine, r.op, r.property, r.dtype, r.program, r.seed, HARNESS_VERSION,
                 "error" if r.status == Status.ERROR else "failed", r.message[:500])


def save(entry: Entry, directory: Path) -> Path:
    """Write ``entry`` under ``directory`` (created); the same failure always gets the same file."""
    try:
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / entry.filename()
        tmp = path.with_suffix(".tmp")
        tmp.write_text(_dumps(entry.to_dict()))
        tmp.replace(path)
    except OSError as e:
        raise CorpusError(f"cannot write to {directory}: {e.strerror or e}") from None
    return path


def _dumps(d: dict[str, Any]) -> str:
    """One key per line, the example compact on its own line: small files, readable diffs."""
    head = {k: v for k, v in d.items() if k != "example"}
    body = json.dumps(head, indent=1)[:-2]
    return body + ',\n "example": ' + json.dumps(d["example"], separators=(",", ":")) + "\n}\n"


def save_failures(rr: RunResults, directory: Path) -> list[Path]:
    """Save one entry per finding (failed, error and expected ones; never harness errors).

    The entry is the example of one of the finding's cells -- the culprit's own cell where there is
    one -- filed under the culprit: an op bug as an entry of that op (replayed when a run selects
    the op), a rule failure as an any-op entry of the rule.  One bug, one entry: a glue op's bug
    seen in forty cells is not forty entries replayed by every later run."""
    by_key = {r.key: r for r in rr.results}
    paths = []
    for f in rr.findings():
        if f.fault == "harness":
            continue
        cells = [by_key[tuple(c)] for c in f.cells if tuple(c) in by_key]
        own = [r for r in cells if r.status != Status.BLOCKED_BY and r.program is not None]
        pick = (own or [r for r in cells if r.program is not None] or [None])[0]
        e = entry_from_result(pick) if pick is not None else None
        if e is None:
            continue
        if "op" in f.culprit:
            e.op = f.culprit["op"]
        paths.append(save(e, directory))
    return paths


def load_entry(path: Path) -> Entry:
    try:
        d = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError) as e:
        raise CorpusError(f"{path}: cannot read it: {e}") from None
    except json.JSONDecodeError as e:
        raise CorpusError(f"{path}: not JSON ({e.msg} at line {e.lineno})") from None
    if not isinstance(d, dict) or d.get("corpus_format") != CORPUS_FORMAT:
        raise CorpusError(f"{path}: not a corpus entry (expected corpus_format {CORPUS_FORMAT})")
    missing = [k for k in _REQUIRED if k not in d]
    if missing:
        raise CorpusError(f"{path}: corpus entry lacks {', '.join(missing)}")
    return Entry(d["engine"], d["op"], d["property"], d["dtype"], d["example"], d.get("seed"),
                 d.get("harness_version", ""), d.get("status", "failed"), d.get("message", ""), d.get("note", ""),
                 path)


def load_dirs(dirs: Iterable[Path]) -> list[Entry]:
    """Every ``*.json`` entry under the directories (or files), sorted by path."""
    entries = []
    for d in dirs:
        if d.is_file():
            entries.append(load_entry(d))
        elif d.is_dir():
            entries += [load_entry(p) for p in sorted(d.rglob("*.json"))]
        else:
            raise CorpusError(f"{d}: no such corpus directory or file")
    return entries


@dataclass
class Outcome:
    """What replaying one entry gave: still-failing, fixed, not-applicable or inconclusive."""

    entry: Entry
    verdict: str
    message: str = ""
    same_failure: bool = False
    seconds: float = 0.0
    result: Result | None = None
    oracles: list[str] = field(default_factory=list)


def replay_entry(adapter: Adapter, entry: Entry) -> Outcome:
    """Rebuild the example and run its property's check once on ``adapter``."""
    t0 = time.perf_counter()
    prop = PROPERTIES.get(entry.property)
    if prop is None:
        raise CorpusError(f"{entry.path}: unknown property {entry.property!r}")
    if entry.op != ANY_OP and entry.op not in REGISTRY:
        return Outcome(entry, "not-applicable", f"op {entry.op} is not in the registry (a user op? load it "
                                                "with --ops-from)")
    try:
        example = programjson.decode_example(entry.example)
    except programjson.ProgramJSONError as e:
        raise CorpusError(f"{entry.path}: {e}") from None
    used = sorted(example.ops_used()) if hasattr(example, "ops_used") else []
    unknown = [o for o in used if o not in REGISTRY]
    why = not_applicable(adapter, prop, entry.op, entry.dtype)
    if unknown:
        why = f"the example uses op(s) {', '.join(unknown)}, not in the registry (load them with --ops-from)"
    elif not why and any(not adapter.has_op(o) for o in used):
        why = f"engine lacks op(s) {', '.join(o for o in used if not adapter.has_op(o))} used by the example"
    if why:
        return Outcome(entry, "not-applicable", why, seconds=time.perf_counter() - t0)
    status, ev, exc, tb = Status.FAILED, None, None, None
    try:
        with outside_hypothesis():
            ev = prop.check(adapter, example)
        ok, msg = ev.ok, ev.message
    except UnsatisfiedAssumption:
        return Outcome(entry, "inconclusive", "the check discarded the example (e.g. it now sits on a kink)",
                       seconds=time.perf_counter() - t0)
    except Exception as e:  # noqa: BLE001 - an engine exception is still a failure
        ok, msg, status, exc, tb = False, f"{type(e).__name__}: {e}"[:500], Status.ERROR, e, traceback.format_exc()
    finally:
        restore_grad_mode(adapter)
    oracles = list(ev.oracles) if ev is not None else []
    if ok:
        return Outcome(entry, "fixed", "", seconds=time.perf_counter() - t0, oracles=oracles)
    # Diagnosed like a failure the cell found itself, so that a replayed bug and the same bug drawn
    # afresh are one finding (same culprit and signature), not two.
    failure = diagnose(adapter, prop, entry.op, status, msg, example, ev, exc, tb)
    where = entry.path.name if entry.path else "entry"
    repro = script(adapter, prop, entry.op, example, msg, entry.seed or 0)  # None when not scriptable
    if repro is not None:
        engine = adapter.spec or adapter.name
        repro = f"# {REPLAY_PREFIX}: conformance replay {entry.path or where} --engine {engine}\n" + repro
    failure.message, failure.reproducer = f"{REPLAY_PREFIX} {where}: {msg}"[:500], repro
    result = failed_result([failure], entry.op, prop, dict(
        engine=adapter.name, op=entry.op, property=entry.property, dtype=entry.dtype, examples=1,
        seed=entry.seed, duration_s=time.perf_counter() - t0))
    result.program = entry.example
    return Outcome(entry, "still-failing", msg, same_failure=msg == entry.message, seconds=result.duration_s,
                   result=result, oracles=oracles)


def replay(adapter: Adapter, entries: Sequence[Entry]) -> list[Outcome]:
    return [replay_entry(adapter, e) for e in entries]


def replay_for_run(adapter: Adapter, cells: Iterable[tuple[Any, str, str]], dirs: Sequence[Path]) -> list[Outcome]:
    """Replay the entries of ``dirs`` that belong to this engine and to one of the run's cells."""
    wanted = {(p.name, op, dt) for p, op, dt in cells}
    entries = [e for e in load_dirs([d for d in dirs if d.exists()])
               if e.applies_to(adapter) and (e.property, e.op, e.dtype) in wanted]
    return replay(adapter, entries)


def merge(rr: RunResults, outcomes: Sequence[Outcome]) -> None:
    """Report still-failing replays as their cells' results (a cell that failed anyway keeps its own).

    Only cells this run has are touched: a sharded run reports a replay under the shard owning its
    cell.  An outcome of no particular cell (the isolated replay process died) is appended."""
    index = {(r.op, r.property, r.dtype): k for k, r in enumerate(rr.results)}
    for o in outcomes:
        if o.result is None:
            continue
        k = index.get((o.entry.op, o.entry.property, o.entry.dtype))
        if k is None:
            if o.entry.path is None:
                rr.results.append(o.result)
        elif not rr.results[k].status.is_problem:
            rr.results[k] = o.result
        else:
            rr.results[k].message += f" [{REPLAY_PREFIX} of {o.entry.path.name if o.entry.path else 'an entry'}" \
                                     " fails too]"


def summary(outcomes: Sequence[Outcome], seconds: float) -> str:
    counts: dict[str, int] = {}
    for o in outcomes:
        counts[o.verdict] = counts.get(o.verdict, 0) + 1
    parts = ", ".join(f"{v} {k}" for k, v in sorted(counts.items())) or "nothing to replay"
    return f"corpus: {len(outcomes)} entries replayed in {seconds:.2f}s: {parts}"


def describe(o: Outcome) -> str:
    e = o.entry
    same = " (same failure)" if o.verdict == "still-failing" and o.same_failure else ""
    where = str(e.path) if e.path else "-"
    return f"{o.verdict.upper():15s} {e.op:12s} {e.property:20s} {e.dtype:8s} {where}{same}" + (
        f"\n    {o.message[:200]}" if o.message and o.verdict != "fixed" else "")


def replay_for_run_isolated(engine: str, cells: Iterable[tuple[Any, str, str]], dirs: Sequence[Path],
                            timeout: float = 300.0) -> list[Outcome]:
    """``replay_for_run`` in a child process, for engines the run never loads in process (isolation).

    A crash or hang of the child is one ERROR outcome (the engine died replaying the corpus)."""
    wanted = [[p.name, op, dt] for p, op, dt in cells]
    job = json.dumps({"engine": engine, "cells": wanted, "dirs": [str(d) for d in dirs]})
    code = "from conformance.runner.corpus import child_main; child_main()"
    try:
        cp = subprocess.run([sys.executable, "-c", code], input=job, capture_output=True, text=True,
                            timeout=timeout, env=dict(os.environ))
        bad = [ln for ln in cp.stdout.splitlines() if ln.startswith("CONFIGERROR ")]
        if bad:  # the engine cannot be built: the run's one-line error, not a corpus outcome
            raise ConfigError(bad[-1][len("CONFIGERROR "):])
        out = [ln for ln in cp.stdout.splitlines() if ln.startswith("CORPUS ")]
        if cp.returncode != 0 or not out:
            tail = (cp.stderr.strip().splitlines() or [f"exit status {cp.returncode}"])[-1]
            raise RuntimeError(f"the replay process died: {tail}")
    except (subprocess.TimeoutExpired, RuntimeError) as e:
        why = f"corpus replay did not finish: {e}"[:300]
        r = Result(engine=engine, op=ANY_OP, property="corpus_replay", dtype="-", status=Status.ERROR, message=why)
        return [Outcome(Entry(engine, ANY_OP, "corpus_replay", "-", {}), "still-failing", why, result=r)]
    outcomes = []
    for d in json.loads(out[-1][len("CORPUS "):]):
        e = load_entry(Path(d["path"]))
        res = Result.from_dict(d["result"]) if d["result"] else None
        outcomes.append(Outcome(e, d["verdict"], d["message"], d["same_failure"], d["seconds"], res, d["oracles"]))
    return outcomes


def child_main() -> None:

    job = json.loads(sys.stdin.read())
    load_inherited()  # the parent run's --ops-from modules and entry points
    try:
        adapter = resolve(job["engine"])
    except ConfigError as e:
        print("CONFIGERROR " + str(e))
        return
    wanted = {tuple(c) for c in job["cells"]}
    entries = [e for e in load_dirs([Path(d) for d in job["dirs"] if Path(d).exists()])
               if e.applies_to(adapter) and (e.property, e.op, e.dtype) in wanted]
    out = [{"path": str(o.entry.path), "verdict": o.verdict, "message": o.message, "same_failure": o.same_failure,
            "seconds": o.seconds, "oracles": o.oracles, "result": o.result.to_dict() if o.result else None}
           for o in replay(adapter, entries)]
    print("CORPUS " + json.dumps(out))
