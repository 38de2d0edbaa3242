"""Atomic file writes and strict-JSON (de)serialisation of RunResults.

Reports are read by CI tooling (jq, browsers, GitHub) that rejects the ``NaN`` /
``Infinity`` literals Python's json module emits by default, and a wrong gradient is
exactly where NaNs appear.  So non-finite floats are written as the strings
``"NaN"``, ``"Infinity"`` and ``"-Infinity"`` and turned back into floats on load
for the numeric error fields.  Every write goes to a temp file in the target
directory and is ``os.replace``d into place, so a reader (or an interrupted run)
never sees a half-written report.
"""
from __future__ import annotations

import json
import math
import os
import pathlib
import tempfile
from typing import Any

from conformance.runner.results import READABLE_SCHEMAS, RunResults, Status

__all__ = [
    "ReportInputError",
    "atomic_write_text",
    "dumps_results",
    "load_run",
    "NONFINITE",
]

NONFINITE = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}
_ERROR_FIELDS = ("max_abs_error", "max_rel_error")


class ReportInputError(ValueError):
    """A results file could not be read: the message names the file and the problem."""


def atomic_write_text(path: pathlib.Path, text: str) -> None:
    """Write ``text`` to ``path`` via a temp file in the same directory + ``os.replace``.

    If anything fails before the rename, the temp file is removed and the previous
    ``path`` (if any) is left untouched.
    """
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def json_safe(obj: Any) -> Any:
    """Recursively replace non-finite floats by their string names and numpy values by lists."""
    if isinstance(obj, float):
        if math.isnan(obj):
            return "NaN"
        if math.isinf(obj):
            return "Infinity" if obj > 0 else "-Infinity"
        return obj
    if isinstance(obj, dict):
        return {str(k): json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_safe(v) for v in obj]
    if obj is None or isinstance(obj, (str, bool, int)):
        return obj
    if hasattr(obj, "tolist"):  # numpy arrays and scalars
        return json_safe(obj.tolist())
    return repr(obj)  # never let one odd value lose a whole report


def dumps_results(run: RunResults) -> str:
    """``results.json`` text: ``run.to_dict()`` as strict JSON (no NaN literals)."""
    return json.dumps(json_safe(run.to_dict()), indent=1, allow_nan=False, ensure_ascii=False) + "\n"


def _check_shape(d: Any, where: str) -> None:
    """Raise ReportInputError with a precise message if ``d`` is not a results document."""
    if not isinstance(d, dict):
        raise ReportInputError(f"{where}: expected a JSON object at top level, got {type(d).__name__}")
    if d.get("schema_version") not in READABLE_SCHEMAS:
        raise ReportInputError(
            f"{where}: schema_version is {d.get('schema_version')!r}, expected one of "
            f"{', '.join(map(repr, READABLE_SCHEMAS))} (is this a conformance results.json?)"
        )
    for key, typ in (("run", dict), ("results", list)):
        if not isinstance(d.get(key), typ):
            raise ReportInputError(f"{where}: key {key!r} missing or not a JSON {typ.__name__.replace('dict', 'object')}")
    run = d["run"]
    for key in ("engine", "harness_version", "profile", "started_at"):
        if not isinstance(run.get(key), str):
            raise ReportInputError(f"{where}: run.{key} missing or not a string")
    valid = {s.value for s in Status}
    for i, r in enumerate(d["results"]):
        if not isinstance(r, dict):
            raise ReportInputError(f"{where}: results[{i}] is not an object")
        for key in ("engine", "op", "property", "dtype", "status"):
            if not isinstance(r.get(key), str):
                raise ReportInputError(f"{where}: results[{i}].{key} missing or not a string")
        if r["status"] not in valid:
            raise ReportInputError(
                f"{where}: results[{i}].status is {r['status']!r}, expected one of {sorted(valid)}"
            )
        for key in _ERROR_FIELDS:
            v = r.get(key)
            if v is not None and not isinstance(v, (int, float)) and v not in NONFINITE:
                raise ReportInputError(f"{where}: results[{i}].{key} is {v!r}, expected a number or null")


def load_run(path: str | os.PathLike) -> RunResults:
    """Read a ``results.json`` (or a report directory containing one) into RunResults.

    Raises ReportInputError naming the file and what was wrong with it.
    """
    p = pathlib.Path(path)
    if p.is_dir():
        p = p / "results.json"
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ReportInputError(f"{p}: no such file (expected a results.json or a report directory)") from None
    except (OSError, UnicodeDecodeError) as e:
        raise ReportInputError(f"{p}: cannot read: {e}") from None
    try:
        d = json.loads(text)
    except json.JSONDecodeError as e:
        raise ReportInputError(f"{p}: not valid JSON: {e.msg} at line {e.lineno} column {e.colno}") from None
    _check_shape(d, str(p))
    for r in d["results"]:
        for key in _ERROR_FIELDS:
            if r.get(key) in NONFINITE:
                r[key] = NONFINITE[r[key]]
    try:
        return RunResults.from_dict(d)
    except (KeyError, TypeError, ValueError) as e:
        raise ReportInputError(f"{p}: not a valid results document: {e}") from None
