"""Findings: failing cells grouped by root cause, so each distinct bug is reported once.

A cell that failed carries its diagnosis (``Result.culprit``, ``signature``, ``fault``; made by
``conformance.checks.diagnosis`` while the engine was at hand).  Cells with the same culprit,
signature and fault are one finding: an ``add`` that drops the broadcast reduction is one
finding on ``add`` explaining add's own cells and every cell that drew ``add`` as glue
(those read ``blocked-by: add``).  Findings are derived from the cells alone, so a merged or
reloaded ``results.json`` yields the same findings.
"""
from __future__ import annotations

import hashlib
import re
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any, Iterable

from conformance.runner.results import ANY_OP, Result, Status

#: statuses a finding explains (passed and not-applicable cells have nothing to explain)
EXPLAINED = (Status.FAILED, Status.ERROR, Status.BLOCKED_BY, Status.EXPECTED_FAILURE)
FAULTS = ("engine", "adapter", "harness")


@dataclass
class Finding:
    """One distinct root cause and every cell it explains."""

    id: str  # stable across runs: the culprit's name and a hash of culprit, signature and fault
    culprit: dict[str, str]  # {"op": NAME} or {"rule": PROPERTY}
    property: str  # the property with most of the finding's cells
    signature: str  # what is wrong, in words
    fault: str  # engine | adapter | harness
    dtypes: list[str] = field(default_factory=list)
    properties: list[str] = field(default_factory=list)
    cells: list[list[str]] = field(default_factory=list)  # [op, property, dtype] of each cell explained
    message: str = ""  # one cell's message: the numbers of one instance
    reproducer: str | None = None  # the reproducer of the cell closest to the culprit
    interaction: bool = False  # no single node was wrong alone
    expected: bool = False  # every failing cell of it is an expected deviation (--expect)

    @property
    def culprit_name(self) -> str:
        return self.culprit.get("op") or self.culprit.get("rule") or "?"

    @property
    def counts(self) -> bool:
        """Whether this finding makes the run nonconformant (harness faults and expected ones do not)."""
        return self.fault != "harness" and not self.expected

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Finding":
        names = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in d.items() if k in names})


def finding_id(culprit: dict[str, str], signature: str, fault: str) -> str:
    name = culprit.get("op") or culprit.get("rule") or "?"
    digest = hashlib.sha1(repr((sorted(culprit.items()), signature, fault)).encode()).hexdigest()[:6]
    return f"{name}-{digest}"


def default_culprit(r: Result) -> dict[str, str]:
    """Without a diagnosis, the cell's own op (or rule, for any-op cells) is blamed."""
    return {"rule": r.property} if r.op == ANY_OP else {"op": r.op}


def _own_status(r: Result) -> Status:
    """The status of a cell's own failure: expected where an expectation matched it, even in a cell
    that stays failed because of another, unexpected failure (deviations.apply)."""
    return Status.EXPECTED_FAILURE if r.status.is_problem and r.expectation_reason else r.status


def _entries(r: Result) -> Iterable[tuple[dict[str, Any], dict[str, Any] | None]]:
    """(failure, where to stamp its finding id: None for the cell itself) for each failure of a cell,
    with the failure's own ``status`` (expected or not)."""
    yield ({"culprit": r.culprit or default_culprit(r), "signature": r.signature or signature_of(r.message),
            "fault": r.fault or "engine", "message": r.message, "reproducer": r.reproducer,
            "interaction": r.interaction, "status": _own_status(r)}, None)
    for extra in r.also:
        yield ({"culprit": extra.get("culprit") or default_culprit(r),
                "signature": extra.get("signature") or signature_of(extra.get("message", "")),
                "fault": extra.get("fault") or "engine", "message": extra.get("message", ""),
                "reproducer": extra.get("reproducer"), "interaction": bool(extra.get("interaction")),
                "status": Status.EXPECTED_FAILURE if extra.get("expected") else r.status}, extra)


def collect(results: list[Result]) -> list[Finding]:
    """Group the explained cells into findings, most cells first; stamps each cell's ``finding``."""
    groups: dict[str, Finding] = {}
    statuses: dict[str, list[Status]] = {}
    for r in results:
        if r.status not in EXPLAINED or (r.status == Status.BLOCKED_BY and r.culprit is None):
            continue  # a blocked-by cell without a diagnosis (an older results.json) names no culprit
        for failure, stamp in _entries(r):
            fid = finding_id(failure["culprit"], failure["signature"], failure["fault"])
            f = groups.get(fid)
            if f is None:
                f = groups[fid] = Finding(id=fid, culprit=failure["culprit"], property=r.property,
                                          signature=failure["signature"], fault=failure["fault"],
                                          message=failure["message"], reproducer=failure["reproducer"],
                                          interaction=failure["interaction"])
                statuses[fid] = []
            f.cells.append([r.op, r.property, r.dtype])
            f.interaction = f.interaction and failure["interaction"]  # only if no cell shows it alone
            statuses[fid].append(failure["status"])
            if _closer(r, f, failure):
                f.message, f.reproducer = failure["message"], failure["reproducer"]
            if stamp is None:
                r.finding = fid
            else:
                stamp["finding"] = fid
    _move_to_raising_op(results, groups, statuses)
    _merge_engine_wide(results, groups, statuses)
    for fid, f in groups.items():
        f.dtypes = sorted({c[2] for c in f.cells})
        f.properties = sorted({c[1] for c in f.cells})
        f.property = Counter(c[1] for c in f.cells).most_common(1)[0][0]
        st = statuses[fid]
        f.expected = Status.EXPECTED_FAILURE in st and not any(s.is_problem for s in st)
    return sorted(groups.values(), key=lambda f: (-len(f.cells), f.culprit_name, f.signature))


def _move_to_raising_op(results: list[Result], groups: dict[str, Finding],
                        statuses: dict[str, list[Status]]) -> None:
    """A rule's cell that raised the very exception an op's own cells raise is that op's bug.

    The rule's program drew the op, but the op alone on those inputs did not raise (its error
    needs the rule's context, e.g. a frozen input), so diagnosis filed it under the rule.  The
    same exception, particulars aside, is one bug: the cell reads blocked-by the op, and the
    finding is the op's."""
    raised: dict[str, str] = {}
    for r in results:
        f = groups.get(r.finding or "")
        if r.status == Status.ERROR and f is not None and f.culprit.get("op") == r.op:
            raised.setdefault(signature_of(r.message), f.id)
    for r in results:
        f = groups.get(r.finding or "")
        if r.status != Status.ERROR or f is None or "rule" not in f.culprit:
            continue  # before the signature: a run's cells are nearly all passes, and collect runs ~15 times
        target = groups.get(raised.get(signature_of(r.message), ""))
        if target is None:
            continue
        f.cells.remove([r.op, r.property, r.dtype])
        statuses[f.id].remove(_own_status(r))
        if not f.cells:
            del groups[f.id]
        r.status, r.blocked_by, r.culprit = Status.BLOCKED_BY, target.culprit["op"], dict(target.culprit)
        r.signature, r.fault, r.finding = target.signature, target.fault, target.id
        target.cells.append([r.op, r.property, r.dtype])
        statuses[target.id].append(_own_status(r))


#: a structural interaction seen on this many ops is the engine's behaviour, not each op's bug
ENGINE_WIDE_OPS = 3
#: signatures about bookkeeping, not values: the same words on many ops are one behaviour
_STRUCTURAL = ("a value where None was expected", "None where a value was expected", "dtype", "returned float",
               "returned int", "returned bool")


def _rule_words(signature: str, op: str) -> str:
    """A signature without the op's own name ("promotion: mul of float32 with python float returned float64"
    and the same words about div are one promotion rule)."""
    return re.sub(rf"(?<![\w.]){re.escape(op)}(?![\w])", "<op>", signature)


def _merge_engine_wide(results: list[Result], groups: dict[str, Finding], statuses: dict[str, list[Status]]) -> None:
    """The same structural interaction on :data:`ENGINE_WIDE_OPS` or more ops becomes one finding of the rule.

    An interaction is a failure no node shows alone; when it is a gradient that should be None
    (tinygrad fills ``.grad`` of frozen leaves) or a dtype, on op after op, it is how the engine
    treats every graph, so it is filed under the property's rule, once.  Wrong values never
    merge: two ops with wrong gradients in context are two bugs until shown otherwise."""
    alike: dict[tuple[str, str], list[Finding]] = {}
    for f in groups.values():
        if f.interaction and "op" in f.culprit and any(w in f.signature for w in _STRUCTURAL):
            alike.setdefault((_rule_words(f.signature, f.culprit["op"]), f.fault), []).append(f)
    for (sig, fault), fs in alike.items():
        if len({f.culprit["op"] for f in fs}) < ENGINE_WIDE_OPS:
            continue
        rule = {"rule": fs[0].property}
        fid = finding_id(rule, sig, fault)
        first = min(fs, key=lambda f: reproducer_rank(f.reproducer))
        merged = groups.setdefault(fid, Finding(id=fid, culprit=rule, property=fs[0].property, signature=sig,
                                                fault=fault, message=first.message, reproducer=first.reproducer,
                                                interaction=True))
        merged_statuses = statuses.setdefault(fid, [])
        for f in fs:
            merged.cells += f.cells
            merged_statuses += statuses.pop(f.id)
            del groups[f.id]
        ids = {f.id for f in fs}
        for r in results:  # restamped with the rule's words too, so collecting the cells again gives this finding
            if r.finding in ids:
                r.finding, r.culprit, r.signature = fid, dict(rule), sig
            for extra in r.also:
                if extra.get("finding") in ids:
                    extra["finding"], extra["culprit"], extra["signature"] = fid, dict(rule), sig


#: first line of a reproducer that only prints the program's values (no trace script could show the
#: failure, e.g. a check that hands the engine a Python callable): it cannot exit 1 by itself
PROGRAM_ONLY = "# This script prints the program's values on the engine; it does not compare them (no trace shows"


def reproducer_rank(script: str | None) -> tuple[int, float]:
    """Order of preference among a finding's reproducers: one that checks (exits 1 while the bug is
    there) before one that only prints values, then the shortest."""
    if script is None:
        return (2, float("inf"))
    return (int(PROGRAM_ONLY in script), len(script))


def _closer(r: Result, f: Finding, failure: dict[str, Any]) -> bool:
    """Prefer, as the finding's example, a cell of the culprit op itself (its reproducer checking, and smallest)."""
    own = f.culprit.get("op") == r.op or f.culprit.get("rule") == r.property
    return own and failure["reproducer"] is not None and r.status != Status.BLOCKED_BY and (
        reproducer_rank(failure["reproducer"]) < reproducer_rank(f.reproducer))


#: a number not glued to a name ('float64', 'v3' and 'log1p' keep their digits)
_NUMBER = re.compile(r"(?<![\w.])[-+]?(?:\d+\.?\d*|\.\d+)(?:e[-+]?\d+)?(?![\w])|(?<!\w)(?:nan|inf)(?!\w)",
                     re.IGNORECASE)
#: a node, its .grad, the element named and the node's op: 'v3', 'v3.grad[0, 1]', 'v3 (log1p)'
_NODE = re.compile(r"\bv\d+(?:\.grad)?(?:\[[\d, ]*\])?(?: \([\w.]+\))?")
#: the numbers of one comparison: '(abs err 0.3 > tol 1e-06, oracle numerical; 2 of 6 elements ...)'
_DETAIL = re.compile(r"\s*\((?:abs err|oracle|observed)[^()]*(?:\([^()]*\)[^()]*)*\)")
_SHAPE = re.compile(r"\(#(?:, ?#)*,?\)|(?<=shape )\(\)")  # '(#, #)', '(#,)'; '()' only after 'shape'
_ARRAY = re.compile(r"\[[^\[\]]*\]")
#: where a corpus replay came from: "corpus replay FILE.json: " before, "[corpus replay of FILE fails too]" after
_CORPUS = re.compile(r"^corpus replay \S+: |\s*\[corpus replay[^\]]*\]?$")
#: compare()'s phrasings -> what kind of difference it is
_KINDS = [
    (re.compile(r"got None, expected an array of shape \S+"), "None where a value was expected"),
    (re.compile(r"got an array of shape \S+, expected None"), "a value where None was expected"),
    (re.compile(r"got shape \S+, expected shape \S+"), "wrong shape"),
    (re.compile(r"got #, expected #"), "wrong values"),
]


def signature_of(message: str) -> str:
    """A message with its particulars removed: the grouping key of a failure, in words.

    Node names, elements, numbers, arrays and shapes go; compare()'s "got X, expected Y (abs
    err ..., oracle ...)" becomes the kind of difference.  "leaf grads: v3[0, 1]: got 0.31,
    expected 0.62 (abs err 0.31 > tol 1e-06, oracle numerical)" and the same message about
    another node, element or dtype both become "leaf grads: v: wrong values".
    """
    text = _CORPUS.sub("", _DETAIL.sub("", message))
    text = text.split("; ")[0].strip()
    text = _NODE.sub("v", text)
    for _ in range(8):  # nested lists collapse from the inside out, each to one placeholder
        text = _ARRAY.sub("\x00", text)
    text = _NUMBER.sub("#", text.replace("\x00", "#"))  # a value is a value, whatever its rank
    text = _SHAPE.sub("(shape)", text)  # shapes vary by example
    for pattern, kind in _KINDS:
        text = pattern.sub(kind, text)
    return re.sub(r"\s+", " ", text)[:200]
