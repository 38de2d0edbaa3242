"""Leaf values: drawn by hypothesis from each Domain (Domain.arrays), inside the domain, representable in the
dtype, mixing simple numbers, uniform floats and values just outside a margin -- and shrinking to simple numbers."""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, seed, settings

from conformance import run
from conformance.spec.opspec import ANY, ELEMENT_BYTES, SIMPLE_BELOW, Domain, _Decoder
from conformance.spec.ops import REGISTRY
from conformance.spec.ops.elementwise_more import GAMMA, TAN
from conformance.spec.programs import COTANGENTS, WEIGHTS, programs, values

sys.path.insert(0, str(Path(__file__).resolve().parent))
from broken_engines.engines import AddDropsBroadcastReduction, SinBackwardOff  # noqa: E402

FAST = settings(max_examples=60, deadline=None, database=None, suppress_health_check=list(HealthCheck))


def _domains() -> list[Domain]:
    """Every Domain the registry draws from (inputs and stable regions), and the harness's own."""
    found = {ANY, WEIGHTS, COTANGENTS, GAMMA, TAN}
    for spec in REGISTRY.values():
        found.update(spec.domains)
        for region in spec.stable:
            found.update(region)
    return sorted(found, key=repr)


def _simple(v: float) -> bool:
    """Small dyadic numbers (integers, halves, quarters, eighths up to 16) and powers of two: what shrinking reaches."""
    v = abs(float(v))
    return (v * 8 == int(v * 8) and v <= 16) or (v > 0 and float(np.log2(v)).is_integer())


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("domain", _domains(), ids=repr)
def test_drawn_values_respect_the_domain_and_the_dtype(domain: Domain, dtype: str) -> None:
    """Every element lies in [lo, hi], margin away from each avoided point, and is exactly a ``dtype`` number."""
    @seed(0)
    @FAST
    @given(values(domain, (3, 4), dtype))
    def check(x: np.ndarray) -> None:
        assert x.dtype == np.float64 and x.shape == (3, 4)
        assert all(domain.allows(float(v)) for v in x.ravel()), (domain, x)
        assert np.array_equal(x.astype(NP[dtype]).astype(np.float64), x)

    check()


NP = {"float64": np.float64, "float32": np.float32}


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("domain", [ANY, GAMMA, TAN, Domain(0.1, 3.0), Domain(990.0, 1e3)], ids=repr)
def test_the_mix_simple_uniform_and_just_outside_a_margin(domain: Domain, dtype: str) -> None:
    """Random bytes decode to ~15% simple numbers, values spread over the whole range, and (with ``avoid``)
    values within margin x 1.5 of an avoided point; all in the domain."""
    dec = _Decoder(domain, dtype)
    raw = np.random.default_rng(0).integers(0, 256, ELEMENT_BYTES * 20000).astype(np.uint8).tobytes()
    x = dec.decode(raw)
    assert all(domain.allows(float(v)) for v in x)
    assert 0.10 < np.mean(np.isin(x, dec.simple)) < 0.25
    lo, hi = dec.starts[0], dec.ends[-1]  # the ends of the allowed intervals (GAMMA avoids its own lo, -3)
    assert x.min() < lo + 0.01 * (hi - lo) and x.max() > hi - 0.01 * (hi - lo)
    if domain.avoid:
        d = np.min(np.abs(x[:, None] - np.array(domain.avoid)[None, :]), axis=1)
        assert np.mean(d < domain.margin * 1.5) > 0.03
    assert len(np.unique(x)) > 0.8 * len(x) * (1 - SIMPLE_BELOW / 256)  # the uniform part does not repeat


def test_zero_bytes_are_distinct_simple_numbers_per_operand() -> None:
    """The shrink target: element j of zero bytes is the (j + 7 salt)-th simple number -- simple, no ties."""
    dec = _Decoder(ANY, "float64")
    a = dec.decode(bytes(ELEMENT_BYTES * 6), salt=0)
    b = dec.decode(bytes(ELEMENT_BYTES * 6), salt=1)
    assert list(a) == [1.0, -1.0, 2.0, -2.0, 3.0, -3.0]
    assert all(_simple(v) for v in np.concatenate([a, b])) and not set(a) & set(b)
    assert 0.0 in dec.simple and dec.simple[-1] == 0.0  # 0 (relu's and abs's kink) is drawn, but last


def test_simple_numbers_respect_a_margin() -> None:
    dec = _Decoder(GAMMA, "float32")
    assert all(GAMMA.allows(float(v)) for v in dec.simple) and -1.0 not in dec.simple and 1.0 in dec.simple


def test_programs_draw_through_the_domains() -> None:
    """Programs' leaves come from the op's domain (log: > 0.1) and are float32 numbers in float32 programs."""
    @seed(2)
    @FAST
    @given(programs("log", "float32"))
    def check(p) -> None:  # type: ignore[no-untyped-def]
        for i in p.leaves:
            v = p.nodes[i].value
            assert np.array_equal(v.astype(np.float32).astype(np.float64), v)
        focus = next(n for n in p.nodes if n.op == "log")
        assert np.all(p.evaluate()[focus.inputs[0]] >= 0.1 - 1e-7)

    check()


def _shrunk_values(cls: type, op: str, prop: str) -> list[float]:
    rr = run(cls(), profile="ci", ops=[op], properties=[prop], dtypes=["float64"], seed=0, corpus=False)
    (r,) = rr.results
    assert r.status.name == "FAILED", r.message
    prog = r.program["program"]
    vals = [v for n in prog["nodes"] if "leaf" in n for v in n["leaf"]["data"]]
    return vals + list(prog["cotangent"]["data"] if prog.get("cotangent") else [])


@pytest.mark.parametrize("cls, op, prop", [(AddDropsBroadcastReduction, "add", "grad_vs_numerical"),
                                           (SinBackwardOff, "sin", "grad_vs_torch")])
def test_a_failing_example_shrinks_to_simple_numbers(cls: type, op: str, prop: str) -> None:
    """Before (a numpy rng seeded by one drawn integer) these shrank to 0.8217701239287258 and the like;
    now every leaf value and the cotangent are simple numbers (e.g. leaf 1.0, leaf [-0.5, 1.5], cotangent
    [-0.625, 0.875] for the add bug)."""
    vals = _shrunk_values(cls, op, prop)
    assert vals and all(_simple(v) for v in vals), vals
