"""An op's signature as an adapter sees it, read off its OpSpec: ``conformance list-ops --params``.

``Adapter.apply(op, inputs, params)`` gets the tensors an OpSpec's ``sample`` drew shapes for and
the ``params`` dict it drew.  Nothing here is written per op: :func:`describe` draws samples of
the OpSpec under a fixed seed and summarizes what was drawn -- each input's ranks and value
domain, each param's kinds and ranges (negative dims, None, tuples, integer arrays...) -- next to
the call template (the torch spelling) and the spec's notes.  A summary of drawn samples shows
what the harness asks, not every value the op accepts: a draw that never produced a case does
not list it.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import seed as hseed
from hypothesis import strategies as st

from conformance.spec import sampler
from conformance.spec.opspec import OpSpec, Sample

#: samples drawn per op (enough for each spec's branches: None / int / tuple dims, both keepdims...)
SAMPLES = 30

#: printed once above the ops: the conventions every op follows (see numpy_ops for their numpy spelling)
CONVENTIONS = """\
Parameters arrive in Adapter.apply(op, inputs, params) as drawn (below: what SAMPLES samples per op drew, seed 0).
Conventions, as in torch:
  dims (dim, dims, dim0, dim1, start_dim, end_dim, source, destination): ints, or tuples of ints where listed;
    negative counts from the end (numpy's axis does the same); dim=None reduces over every dim (numpy: axis=None);
    a 0-d input has one "dim": 0 or -1 names it (numpy has no axis there: use axis=None).
  keepdim: True keeps each reduced dim with size 1 (numpy: keepdims).
  correction: the variance's divisor is N - correction (numpy: ddof).
  integer and boolean arrays (index, target, mask, cond...) are numpy arrays, not engine tensors; shapes are
    tuples of ints (-1 in expand's shape keeps that size); float params are Python floats.
  reduction: 'mean', 'sum' or 'none' (losses)."""

_DIM_NAMES = ("source", "destination")


def is_dim_param(name: str) -> bool:
    """A param that names dims (and so may be negative, or None for every dim)."""
    return name.startswith("dim") or name.endswith("_dim") or name in _DIM_NAMES  # not keepdim


@dataclass
class _Seen:
    """What one param was drawn as, across samples."""

    kinds: dict[str, list[Any]] = field(default_factory=dict)  # kind -> values seen

    def add(self, v: Any) -> None:
        kind = _kind(v)
        self.kinds.setdefault(kind, []).append(v)


def _kind(v: Any) -> str:
    if v is None:
        return "None"
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, (int, np.integer)):
        return "int"
    if isinstance(v, (float, np.floating)):
        return "float"
    if isinstance(v, str):
        return "str"
    if isinstance(v, np.ndarray):
        return f"{v.dtype} array"
    if isinstance(v, (tuple, list)):
        return type(v).__name__  # one kind whatever the elements: _describe_kind lists them
    return type(v).__name__  # slice, ellipsis


def _ints(values: Sequence[Any]) -> list[int]:
    out: list[int] = []
    for v in values:
        if isinstance(v, (tuple, list)):
            out += _ints(v)
        elif isinstance(v, (int, np.integer)) and not isinstance(v, bool):
            out.append(int(v))
    return out


def _span(xs: Sequence[float]) -> str:
    lo, hi = min(xs), max(xs)
    return f"{lo:g}" if lo == hi else f"{lo:g}..{hi:g}"


def _describe_kind(kind: str, values: list[Any]) -> str:
    if kind in ("int", "float"):
        return f"{kind} {_span([float(v) for v in values])}"
    if kind == "bool":
        seen = sorted({bool(v) for v in values})
        return "bool" if len(seen) == 2 else f"{seen[0]} (bool)"
    if kind == "str":
        return "one of " + ", ".join(repr(s) for s in sorted(set(values)))
    if kind in ("tuple", "list"):
        inner = sorted({_kind(x) for v in values for x in v})
        ints = _ints(values)
        within = f" in {_span(ints)}" if inner == ["int"] else ""
        return f"{kind} of {' | '.join(inner) or 'nothing'}{within}, length {_span([len(v) for v in values])}"
    if kind.endswith(" array"):
        return f"{kind} of rank {_span([v.ndim for v in values])}"
    return kind


@dataclass(frozen=True)
class Signature:
    """What ``list-ops --params`` prints for one op."""

    name: str
    call: str  # the template(s) drawn, $-variables spelled as names
    inputs: tuple[str, ...]  # "x0: rank 0..4, values in [-3, 3]"
    params: tuple[tuple[str, str], ...]  # (name, what was drawn)
    notes: str

    def lines(self) -> list[str]:
        out = [f"    call      {self.call}"]
        out += [f"    input     {d}" for d in self.inputs]
        out += [f"    {name:9s} {what}" for name, what in self.params]
        if self.notes:
            out.append(f"    note      {self.notes}")
        return out


def draw_samples(spec: OpSpec, n: int = SAMPLES, seed: int = 0) -> list[Sample]:
    """``n`` samples of ``spec`` drawn by hypothesis under ``seed`` (no example database is written)."""
    drawn: list[Sample] = []

    @settings(database=None, max_examples=n, phases=(Phase.generate,), deadline=None,
              suppress_health_check=list(HealthCheck))
    @hseed(seed)
    @given(st.data())
    def collect(data: Any) -> None:
        drawn.append(spec.sample(data.draw))

    collect._hypothesis_internal_database_key = None  # type: ignore[attr-defined]
    with sampler.without_local_constants():  # the same samples whatever modules this process loaded
        collect()
    return drawn


def describe(spec: OpSpec, n: int = SAMPLES, seed: int = 0) -> Signature:
    """The signature of ``spec`` summarized from ``n`` drawn samples."""
    samples = draw_samples(spec, n, seed)
    inputs = []
    for i in range(spec.arity):
        ranks = [len(s.shapes[i]) for s in samples if i < len(s.shapes)]
        d = spec.domain(i)
        avoid = f", {d.margin:g} away from {', '.join(f'{a:g}' for a in d.avoid)}" if d.avoid else ""
        zero_d = "; 0-d drawn" if 0 in ranks else ""
        inputs.append(f"x{i}: rank {_span(ranks) if ranks else '?'}, values in [{d.lo:g}, {d.hi:g}]{avoid}{zero_d}")
    seen: dict[str, _Seen] = {}
    for s in samples:
        for k, v in s.params.items():
            seen.setdefault(k, _Seen()).add(v)
    params = []
    for name, sn in seen.items():
        what = " | ".join(_describe_kind(k, vs) for k, vs in sn.kinds.items())
        if is_dim_param(name):
            neg = any(x < 0 for vs in sn.kinds.values() for x in _ints(vs))
            what += "; negative dims drawn" if neg else "; no negative dim drawn"
            if "None" in sn.kinds:
                what += "; None = every dim"
        params.append((name, what))
    # a template may depend on the params (max: "M.max($x0)" for dim=None): every form drawn
    calls = dict.fromkeys(spec.template_for(s.params) for s in samples) if samples else {spec.template_for({}): None}
    call = "  |  ".join(c.replace("$", "") for c in calls)
    return Signature(spec.name, call, tuple(inputs), tuple(params), spec.notes)
