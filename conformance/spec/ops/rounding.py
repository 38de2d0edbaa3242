"""Rounding and modular ops (issue 16): sign, floor, ceil, round, trunc, fix, fmod, remainder.

sign/floor/ceil/round/trunc/fix are piecewise constant: their gradient is exactly zero away from
their jumps (0 for sign, the integers for floor/ceil/trunc/fix, the half-integers for round), where
they are not differentiable.  Domains keep values 0.05 from the jumps (so the simple numbers drawn
are not all discarded) and the kink function measures the distance to the nearest one.

fmod(a, b) = a - b * trunc(a / b) and remainder(a, b) = a - b * floor(a / b) jump where a / b is an
integer; the kink is the distance to such a point along a or along b, whichever is nearer; b is
kept 0.3 from 0.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from conformance.spec import shapes as S
from conformance.spec.opspec import Domain, OpSpec, Sample

FAMILY = "rounding"
INTEGERS = tuple(float(k) for k in range(-3, 4))
HALVES = tuple(k + 0.5 for k in range(-4, 3))
OFF_INTEGERS = Domain(-3.0, 3.0, avoid=INTEGERS, margin=0.05)
OFF_HALVES = Domain(-3.0, 3.0, avoid=HALVES, margin=0.05)
OFF_ZERO = Domain(-3.0, 3.0, avoid=(0.0,), margin=0.05)
NONZERO = Domain(-3.0, 3.0, avoid=(0.0,), margin=0.3)


def _unary(draw: Any) -> Sample:
    return Sample((S.shape(draw),))


def _dist_integers(x: np.ndarray, offset: float = 0.0) -> float:
    if x.size == 0:
        return float("inf")
    y = x - offset
    return float(np.min(np.abs(y - np.round(y))))


def _step(name: str, ref: Any, domain: Domain, kink: Any) -> OpSpec:
    return OpSpec(name=name, family=FAMILY, arity=1, template=f"M.{name}($x0)", sample=_unary, reference=ref,
                  domains=(domain,), kink=kink, torch_equivalent=f"torch.{name}",
                  notes="piecewise constant: zero gradient away from its jumps")


def _binary(draw: Any) -> Sample:
    return Sample(S.broadcast_pair(draw))


def _mod_kink(rounder: Any) -> Any:
    def kink(xs: list[np.ndarray], p: dict) -> float:
        a, b = np.broadcast_arrays(xs[0], xs[1])
        if a.size == 0:
            return float("inf")
        q = a / b
        frac = np.abs(q - np.round(q))  # distance of a / b to the nearest integer
        along_a = np.abs(b) * frac
        along_b = np.where(a != 0, b * b / np.maximum(np.abs(a), 1e-300) * frac, np.inf)
        return float(np.min(np.minimum(along_a, along_b)))
    return kink


SPECS = [
    _step("sign", np.sign, OFF_ZERO, lambda xs, p: float(np.min(np.abs(xs[0]))) if xs[0].size else float("inf")),
    _step("floor", np.floor, OFF_INTEGERS, lambda xs, p: _dist_integers(xs[0])),
    _step("ceil", np.ceil, OFF_INTEGERS, lambda xs, p: _dist_integers(xs[0])),
    _step("trunc", np.trunc, OFF_INTEGERS, lambda xs, p: _dist_integers(xs[0])),
    _step("fix", np.trunc, OFF_INTEGERS, lambda xs, p: _dist_integers(xs[0])),
    _step("round", np.round, OFF_HALVES, lambda xs, p: _dist_integers(xs[0], 0.5)),
    OpSpec(name="fmod", family=FAMILY, arity=2, template="M.fmod($x0, $x1)", sample=_binary, reference=np.fmod,
           domains=(Domain(), NONZERO), kink=_mod_kink(np.trunc), torch_equivalent="torch.fmod",
           notes="jumps where a / b is an integer; b kept 0.3 from 0"),
    OpSpec(name="remainder", family=FAMILY, arity=2, template="M.remainder($x0, $x1)", sample=_binary,
           reference=np.remainder, domains=(Domain(), NONZERO), kink=_mod_kink(np.floor),
           torch_equivalent="torch.remainder", notes="jumps where a / b is an integer; b kept 0.3 from 0"),
]
