"""Shared draws: per-op properties that ask for the same kind of example are checked on one draw.

Most per-op properties draw the same examples -- ``programs(op, dtype)``, or the non-scalar programs
of ``nonscalar_programs`` -- and drawing is most of a cell's cost (hypothesis's strategies and
engine: ~70 % of a ``ci`` run, against ~25 % for the checks). So no cell runs a hypothesis test of
its own first: the examples of one (strategy, op, dtype) are drawn once, under a seed of their own
(spec/sampler.py: without hypothesis's test engine around them), and every cell of that strategy runs
its check over them in a plain loop.  A property whose strategy no other has draws the same way, for
itself: a hypothesis test per cell costs its whole test engine on every example. A cell whose check passes on
its share of them (its property's example count) is passed; a cell where anything else happens -- a
wrong answer, an exception, examples its adapter rejected until too few were left -- runs as a cell
always did, a hypothesis test under the cell's own seed that shrinks what it finds
(runner/cells.py). What the shared examples showed is never dropped: should that exploration find
nothing, it is run again with the failing shared example given to hypothesis first.

The drawn examples depend only on the strategy, op, dtype, run seed, pool size and the engine's ops,
never on which properties a run selected or on what their checks did, so a cell's result does not
depend on which other cells ran: serial, parallel and sharded runs agree cell for cell.
"""
from __future__ import annotations

import copy
from collections import OrderedDict
from typing import Any, Callable, Hashable, Iterable, Iterator, Sequence

from hypothesis.errors import UnsatisfiedAssumption

from conformance.checks.diagnosis import rejected_by_adapter
from conformance.checks.properties import PROPERTIES, Property
from conformance.checks.properties.base import outside_hypothesis
from conformance.engines.adapter import Adapter
from conformance.spec import sampler
from conformance.runner.profiles import cell_seed
from conformance.spec import shape_pool
from conformance.spec.programs import Program

#: draws kept per process; a run goes through one (strategy, op, dtype) after another (session.py)
CACHED = 8
#: more examples drawn when a cell's adapter rejected too many (each batch half the first), at most this often
EXTENSIONS = 3
#: adapter rejections that settle a cell as not-applicable when the adapter rejected every example drawn: an
#: adapter that accepts one example in 20 gets none of 100 with probability 0.6 % (hypothesis's own exploration
#: gives up after ~460 rejections, at a second a cell)
SETTLED_BY = 100

_CACHE: "OrderedDict[Hashable, _Pool]" = OrderedDict()


class _Pool:
    """The shared examples of one key: a first batch of ``n``, then smaller ones as a cell needs them."""

    def __init__(self, draw: Callable[[int, int], list[Any]], n: int) -> None:
        self.draw, self.n, self.batches = draw, n, []  # draw(count, batch number) -> examples

    def __iter__(self) -> Iterator[Any]:
        for k in range(1 + EXTENSIONS):
            if k == len(self.batches):
                self.batches.append(self.draw(self.n if k == 0 else max(2, self.n // 2), k))
            yield from self.batches[k]

    def beyond(self, count: int) -> list[Any]:
        """``count`` examples after the last batch (not kept: asked for once, by a cell that needs them)."""
        return self.draw(count, 1 + EXTENSIONS)


def key_of(prop: Property) -> Callable[..., Any] | str:
    """What ``prop`` draws from (its strategy, ``"programs"`` for the default).

    A property shares with the others of its kind (per-op, or op-independent) that have the same
    strategy, by identity: two functions with the same body draw twice.  A property alone with its
    strategy draws up front too: the sampler is cheaper than a hypothesis test per cell."""
    return prop.strategy if prop.strategy is not None else "programs"


def _mates(prop: Property) -> list[Property]:
    return [p for p in PROPERTIES.values() if p.per_op == prop.per_op and p.strategy is prop.strategy]


def sharing(prop: Property, profile: str) -> list[Property]:
    """The properties of ``profile`` that share ``prop``'s draws (``prop`` included)."""
    return [p for p in _mates(prop) if profile in p.profiles or p is prop]


def examples(prop: Property, ops: Sequence[str], dtype: str, n: int, seed: int, profile: str,
             available: frozenset[str], context: Hashable = None) -> Iterable[Any]:
    """The shared examples of ``prop``'s strategy over ``ops`` (per-op: the cell's op) in ``dtype``:
    ``n`` drawn under ``seed``, then more as long as a cell asks for them (up to :data:`EXTENSIONS`
    batches).  A pool drawn earlier in this process with a larger ``n`` serves too (under a
    ``--budget`` the counts vary).  ``context``: whatever else shapes the draw (the shape bound in
    force); part of the cache key."""
    key = (key_of(prop), tuple(ops), dtype, seed, profile, available, context)
    if key in _CACHE and _CACHE[key].n >= n:
        _CACHE.move_to_end(key)
        return _CACHE[key]
    strategy = prop.examples(ops, dtype, available)

    def draw(count: int, batch: int) -> list[Any]:
        return sampler.sample(strategy, count, seed + batch, profile)

    _CACHE[key] = pool = _Pool(draw, n)
    while len(_CACHE) > CACHED:
        _CACHE.popitem(last=False)
    return pool


def check(adapter: Adapter, prop: Property, op: str, ops: Sequence[str], dtype: str, profile: str, run_seed: int,
          available: frozenset[str], n: int, pool: int) -> tuple[Any, Any]:
    """Check ``prop`` on the first ``n`` examples it can judge of those drawn for its strategy (a first
    batch of ``pool``).  ``ops``: what the examples are drawn over (``[op]`` for a per-op cell).

    Returns ``((examples, worst, oracles), None)`` when they all pass; ``(None, example)`` with the
    example that failed or raised, or ``(None, None)`` when the adapter rejected too many to judge
    ``n``: the cell is then explored as a cell of its own.  When the adapter rejected every example
    (an op without forward mode, say), and :data:`SETTLED_BY` of them at least, it returns
    ``(None, AllRejected(count))``: an exploration would only draw hundreds more for it to reject, so
    the cell is not-applicable."""
    shared = examples(prop, ops, dtype, pool, cell_seed(run_seed, "draws", op, dtype), profile, available,
                      shape_pool.active())
    judged, worst, oracles = 0, (0.0, 0.0), set()
    rejected, other = 0, 0  # rejections by the adapter, and by anything else (the harness's own assume())

    def candidates() -> Iterator[Any]:
        yield from shared
        if judged == 0 and rejected and not other:  # never, or only rarely, expressible? more examples tell
            for extra in shared.beyond(max(0, SETTLED_BY - rejected)):
                if judged or other:
                    return  # one was expressible: the cell is explored
                yield extra

    with outside_hypothesis():
        for example in candidates():
            # an engine that writes into its inputs changes only its own copy
            example = example.copy(pristine=True) if isinstance(example, Program) else copy.deepcopy(example)
            try:
                ev = prop.check(adapter, example)
            except UnsatisfiedAssumption as e:
                if rejected_by_adapter(e):
                    rejected += 1
                else:
                    other += 1
                continue  # a kink, or an input the adapter cannot express: not judged
            except Exception:  # noqa: BLE001 - the cell's own exploration says what it was, and shrinks it
                return None, example
            if not ev.ok:
                return None, example
            judged += 1
            oracles.update(ev.oracles)
            if ev.max_abs is not None:
                worst = (max(worst[0], ev.max_abs), max(worst[1], ev.max_rel or 0.0))
            if judged == n:
                break  # here, not before the next one: asking the pool for it would draw another batch
    if judged == 0 and rejected and not other:
        return None, AllRejected(rejected)
    if judged < n:
        return None, None
    return (judged, worst, oracles), None


class AllRejected(int):
    """:func:`check`'s answer when the adapter rejected every example drawn: how many it rejected."""


def group_of(prop: Property, op: str, dtype: str) -> Hashable:
    """The draw a cell uses: cells with the same group run best one after another in one process."""
    name = key_of(prop)
    return (getattr(name, "__qualname__", name), prop.per_op, op, dtype)


def grouped(cells: Sequence[tuple[int, Any]], group: Callable[[Any], Hashable]) -> list[tuple[int, Any]]:
    """``(index, cell)`` pairs reordered so that the cells of one group are adjacent, groups in the
    order of their first cell (a stable sort; results are still reported in plan order)."""
    first: dict[Hashable, int] = {}
    for pos, (_, cell) in enumerate(cells):
        first.setdefault(group(cell), pos)
    return sorted(cells, key=lambda ic: first[group(ic[1])])
