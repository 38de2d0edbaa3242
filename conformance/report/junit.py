"""junit.xml: one <testcase> per op x property x dtype, for CI test-report UIs.

classname is the property and name is ``op[dtype]``, so CI UIs group by property.
failed -> <failure> (a nonconformance, reproducer in the body); error -> <error>
(the engine or adapter crashed); expected-failure / not-applicable / blocked-by ->
<skipped>.  The first <testsuite> counts equal the counts in results.json.  A second
<testsuite> has one <testcase> per finding (classname ``findings``, name the culprit and
what is wrong), failed unless the finding is expected; harness faults are <error>s.
"""
from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET

from conformance.report.formatting import finding_title, fmt_err, one_line
from conformance.runner.results import Result, RunResults, Status

# XML 1.0 cannot carry most control characters, even escaped; tracebacks may contain them.
_BAD_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _clean(text: str) -> str:
    return _BAD_XML.sub(lambda m: f"\\x{ord(m[0]):02x}", text)


def _short_json(v, limit: int = 2000) -> str:
    s = json.dumps(v, default=repr) if not isinstance(v, str) else v
    return s if len(s) <= limit else s[:limit] + " …"


def failure_body(r: Result) -> str:
    """Plain-text details of a failing/erroring cell: message, values, seed, reproducer, traceback."""
    parts = [r.message or r.status.value, ""]
    parts.append(f"cell: {r.op}[{r.dtype}] {r.property}   examples: {r.examples}   seed: {r.seed}")
    parts.append(f"max abs error: {fmt_err(r.max_abs_error)}   max rel error: {fmt_err(r.max_rel_error)}")
    if r.oracles:
        parts.append("oracles: " + ", ".join(r.oracles))
    if r.expected is not None or r.observed is not None:
        parts += [f"expected: {_short_json(r.expected)}", f"observed: {_short_json(r.observed)}"]
    if r.reproducer:
        parts += ["", "# --- reproducer ---", r.reproducer]
    if r.traceback:
        parts += ["", "# --- traceback ---", r.traceback]
    return _clean("\n".join(parts))


def render_junit(run: RunResults) -> str:
    """The junit.xml text for a run."""
    info = run.info
    c = {s: 0 for s in Status}
    for r in run.results:
        c[r.status] += 1
    skipped = c[Status.EXPECTED_FAILURE] + c[Status.NOT_APPLICABLE] + c[Status.BLOCKED_BY]
    total_time = sum(r.duration_s for r in run.results)
    attrs = {
        "name": f"conformance:{info.engine}",
        "tests": str(len(run.results)),
        "failures": str(c[Status.FAILED]),
        "errors": str(c[Status.ERROR]),
        "skipped": str(skipped),
        "time": f"{total_time:.3f}",
        "timestamp": info.started_at,
    }
    root = ET.Element("testsuites", {k: attrs[k] for k in ("name", "tests", "failures", "errors", "skipped", "time")})
    suite = ET.SubElement(root, "testsuite", attrs)
    props = ET.SubElement(suite, "properties")
    for k, v in info.to_dict().items():
        if k == "argv":
            v = " ".join(v)
        elif isinstance(v, list):
            v = ",".join(map(str, v))
        ET.SubElement(props, "property", {"name": k, "value": _clean("" if v is None else str(v))})
    for r in sorted(run.results, key=lambda r: (r.property, r.op, r.dtype)):
        case = ET.SubElement(
            suite, "testcase", {"classname": r.property, "name": f"{r.op}[{r.dtype}]", "time": f"{r.duration_s:.3f}"}
        )
        reason = _clean(one_line(r, 300))
        if r.status == Status.FAILED:
            el = ET.SubElement(case, "failure", {"message": reason, "type": "nonconformance"})
            el.text = failure_body(r)
        elif r.status == Status.ERROR:
            el = ET.SubElement(case, "error", {"message": reason, "type": "engine-error"})
            el.text = failure_body(r)
        elif r.status != Status.PASSED:
            ET.SubElement(case, "skipped", {"message": _clean(f"{r.status.value}: {reason}")})
        else:
            out = ET.SubElement(case, "system-out")
            out.text = (
                f"examples: {r.examples}  max abs error: {fmt_err(r.max_abs_error)}  "
                f"max rel error: {fmt_err(r.max_rel_error)}"
            )
    _findings_suite(root, run)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def _findings_suite(root: ET.Element, run: RunResults) -> None:
    """One testcase per finding, so a CI UI lists each distinct bug once."""
    found = run.findings()
    failures = sum(f.counts for f in found)
    errors = sum(f.fault == "harness" for f in found)
    suite = ET.SubElement(root, "testsuite", {
        "name": f"conformance:{run.info.engine}:findings", "tests": str(len(found)), "failures": str(failures),
        "errors": str(errors), "skipped": str(len(found) - failures - errors), "time": "0"})
    for f in found:
        case = ET.SubElement(suite, "testcase", {"classname": "findings", "name": _clean(finding_title(f))})
        body = _clean("\n".join([f.message, "", f"finding {f.id} · fault: {f.fault} · cells ({len(f.cells)}): "
                                  + ", ".join(f"{o}[{d}] {p}" for o, p, d in f.cells)]
                                 + (["", "# --- reproducer ---", f.reproducer] if f.reproducer else [])))
        if f.fault == "harness":
            ET.SubElement(case, "error", {"message": _clean(f.signature), "type": "harness-error"}).text = body
        elif f.counts:
            ET.SubElement(case, "failure", {"message": _clean(f.signature), "type": f"finding-{f.fault}"}).text = body
        else:
            ET.SubElement(case, "skipped", {"message": _clean(f"expected: {f.signature}")})
