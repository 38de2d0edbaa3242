"""Bounded shapes (``--shapes N``): an op's samples drawn from a small seeded pool, for engines that compile.

An engine that compiles per input shape (jax, tinygrad) pays a compile for every new shape a run
draws.  With a bound N, ``sample(spec, draw)`` draws the op's sample (shapes and params) from a
pool built once per (op, N, seed): samples the OpSpec itself draws under a fixed seed, kept while
every input shape is one of at most N distinct shapes of its rank for that op.  The params keep
their variety within those shapes; the values are drawn as always.  ``bounded(n, seed)`` sets the
bound for the code inside it (``None``: unbounded, the OpSpec draws freely).
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Iterator

from hypothesis import strategies as st

from conformance.spec import sampler

#: samples drawn per op to fill a pool (the kept ones are those whose shapes fit the bound)
CANDIDATES = 60

_ACTIVE: dict[str, int | None] = {"n": None, "seed": 0}
_POOLS: dict[tuple[str, int, int], st.SearchStrategy[Any]] = {}


@contextmanager
def bounded(n: int | None, seed: int = 0) -> Iterator[None]:
    """Inside the block, ``sample`` draws each op's samples from a pool of at most ``n`` shapes per rank."""
    saved = dict(_ACTIVE)
    _ACTIVE.update(n=n if n else None, seed=seed)
    try:
        yield
    finally:
        _ACTIVE.update(saved)


def active() -> int | None:
    """The bound in force (None: unbounded)."""
    return _ACTIVE["n"]


def sample(spec: Any, draw: Any) -> Any:
    """A Sample of ``spec``: drawn freely, or from its pool when a bound is in force."""
    n = _ACTIVE["n"]
    if n is None:
        return spec.sample(draw)
    return draw(pool(spec, n, int(_ACTIVE["seed"] or 0)))


def pool(spec: Any, n: int, seed: int) -> st.SearchStrategy[Any]:
    """The pooled samples of ``spec`` as a strategy (simplest first, so failures shrink to them)."""
    key = (spec.name, n, seed)
    if key not in _POOLS:
        _POOLS[key] = st.sampled_from(tuple(pooled_samples(spec, n, seed)))
    return _POOLS[key]


def pooled_samples(spec: Any, n: int, seed: int) -> list[Any]:
    """Samples of ``spec`` drawn under ``seed``, kept while each rank has at most ``n`` distinct shapes."""
    drawn = samples(spec, CANDIDATES, seed)
    shapes: dict[int, set[tuple[int, ...]]] = {}
    kept = []
    for s in drawn:
        new = [tuple(shp) for shp in s.shapes]
        ranks = {len(x) for x in new}
        if all(len(shapes.get(r, set()) | {x for x in new if len(x) == r}) <= n for r in ranks):
            for shp in new:
                shapes.setdefault(len(shp), set()).add(shp)
            kept.append(s)
    # none kept: every sample has more than n distinct shapes of one rank (n=1 and an op whose inputs
    # always differ): the first sample alone, the smallest pool there is
    return kept or drawn[:1]


def samples(spec: Any, count: int, seed: int) -> list[Any]:
    """``count`` samples of ``spec`` drawn freely under ``seed``, the simplest first (the same ones each time)."""
    return sampler.sample(_sample_of(spec), count, seed)


@st.composite
def _sample_of(draw: Any, spec: Any) -> Any:
    return spec.sample(draw)


def prepare(ops: Any) -> None:
    """Build the pools of ``ops`` now, under the bound in force (a pool is drawn by the sampler, under a
    hypothesis build context of its own, which is not to be nested in a cell's running test)."""
    from conformance.spec.ops import REGISTRY  # here: spec.ops imports programs, which imports this module

    n = _ACTIVE["n"]
    if n is None:
        return
    for op in ops:
        if op in REGISTRY:
            pool(REGISTRY[op], n, int(_ACTIVE["seed"] or 0))
