"""Examples drawn from a strategy without running a hypothesis test: the shared draws' source.

A shared draw (runner/draws.py) only needs ``count`` examples of a strategy, never a test to run,
shrink or replay.  Collecting them through ``@given`` costs hypothesis's whole test engine per
example (its bookkeeping of every choice, the random module's state saved and restored, the
search tree of what it tried): about half of each draw's time.  :func:`sample` draws the same
strategies through the same choice provider (so the same values: small and boundary floats,
edge-case integers), on a ``random.Random(seed)``, and keeps the engine's two habits that matter to
what is found: the simplest example comes first, and a tenth are small ones (a short random start,
completed with the simplest choices).  Duplicates (the same choices) are drawn again.

It uses hypothesis's ``ConjectureData`` and ``BuildContext``, which are not public API; where they
are missing or changed, :func:`sample` collects through ``@given`` as before, more slowly.

hypothesis mixes into its draws the constants written in the source of every module loaded from
outside site-packages (its "local constants"): here the harness's own modules, and a user's adapter
or engine.  Which modules a process has loaded differs between a worker and a run in one process,
and grows as modules are imported lazily, so the same seed drew different examples there, and any
edit of a number in the harness changed every draw.  Draws and explorations run
:func:`without_local_constants`: hypothesis's own constants (its boundary floats and integers) stay.
"""
from __future__ import annotations

import functools
import random
from contextlib import contextmanager
from typing import Any, Iterator

from hypothesis import Phase, given, settings
from hypothesis import seed as hseed
from hypothesis.errors import UnsatisfiedAssumption
from hypothesis.strategies import SearchStrategy

try:  # not public API: when hypothesis changes it, the @given path takes over (see `direct`)
    from hypothesis.control import BuildContext
    from hypothesis.errors import StopTest
    from hypothesis.internal.conjecture.choice import ChoiceTemplate, choices_key
    from hypothesis.internal.conjecture.data import ConjectureData
    _INTERNALS = True
except ImportError:  # pragma: no cover - depends on the installed hypothesis
    _INTERNALS = False
try:  # not public API either: without it, hypothesis's local constants stay in (see the module docstring)
    from hypothesis.internal.conjecture import providers as _providers
    from hypothesis.internal.constants_ast import Constants as _Constants
    _CONSTANTS = callable(getattr(_providers, "_get_local_constants", None)) and hasattr(_providers,
                                                                                         "CONSTANTS_CACHE")
except ImportError:  # pragma: no cover - depends on the installed hypothesis
    _CONSTANTS = False

#: draws tried per example wanted before giving up on a strategy that rejects (a filter, assume())
ATTEMPTS = 10
#: every SMALL_EVERY-th example is a small one (hypothesis: the first tenth), at fixed places so that a pool's
#: first k examples are the same whatever its size (a --budget run asks for fewer; serial and parallel runs
#: must agree), and none in the few examples of a quick cell, where small ones would crowd out the rest
SMALL_EVERY = 10
#: the longest random start of a "small" example (hypothesis's novel prefixes are a few choices)
SMALL_PREFIX = 8


def sample(strategy: SearchStrategy[Any], count: int, seed: int, profile: str | None = None) -> list[Any]:
    """Up to ``count`` distinct examples of ``strategy`` drawn under ``seed`` (the same ones each time).

    Fewer come back only when the strategy rejects nearly everything it draws.  ``profile``: the
    hypothesis settings profile the ``@given`` fallback runs under."""
    with without_local_constants():
        if direct():
            try:
                return _direct(strategy, count, seed)
            except _Unusable:
                pass
        return _through_given(strategy, count, seed, profile)


@contextmanager
def without_local_constants() -> Iterator[None]:
    """hypothesis draws inside see none of the constants of the modules this process loaded (the
    module docstring says why).  Its cache of the constants each kind of choice may take is swapped for
    one of ours inside, so that what was computed with local constants (a user's own hypothesis tests in
    the same process) does not leak in, nor ours out."""
    if not _CONSTANTS:
        yield
        return
    none, cache = _without_locals()
    saved = _providers._get_local_constants, _providers.CONSTANTS_CACHE
    _providers._get_local_constants, _providers.CONSTANTS_CACHE = (lambda: none), cache
    try:
        yield
    finally:
        _providers._get_local_constants, _providers.CONSTANTS_CACHE = saved


@functools.cache
def _without_locals() -> tuple[Any, Any]:
    """No local constants, and hypothesis's cache of the constants each kind of choice may take computed
    without them: one of our own, kept from one draw to the next (emptied on each, it was refilled ~300
    times a run)."""
    return _Constants(), type(_providers.CONSTANTS_CACHE)(_providers.CONSTANTS_CACHE.max_size)


def direct() -> bool:
    """Whether the installed hypothesis has what :func:`_direct` uses."""
    return _INTERNALS


class _Unusable(Exception):
    """hypothesis's internals did not behave as this module expects (the @given path is used)."""


def _direct(strategy: SearchStrategy[Any], count: int, seed: int) -> list[Any]:
    rnd = random.Random(seed)
    drawn: list[Any] = []
    seen: set[Any] = set()
    for attempt in range(ATTEMPTS * max(1, count)):
        if len(drawn) >= count:
            break
        if attempt == 0:
            prefix: tuple[Any, ...] = (ChoiceTemplate("simplest", count=None),)
        elif len(drawn) % SMALL_EVERY == SMALL_EVERY - 1:
            prefix = _small_prefix(strategy, rnd)
        else:
            prefix = ()
        got = _draw(strategy, rnd, prefix)
        if got is None:
            continue
        key, value = choices_key(got[0]), got[1]
        if key not in seen:
            seen.add(key)
            drawn.append(value)
    return drawn


def _small_prefix(strategy: SearchStrategy[Any], rnd: random.Random) -> tuple[Any, ...]:
    """A few random choices (a draw cut short after them), then the simplest choices for the rest."""
    data = ConjectureData(random=rnd, max_choices=rnd.randint(1, SMALL_PREFIX))
    try:
        with BuildContext(data, wrapped_test=_no_test):
            data.draw(strategy)
    except (StopTest, UnsatisfiedAssumption):
        pass  # the usual end: out of choices
    except TypeError as e:
        raise _Unusable(str(e)) from e
    return (*data.choices, ChoiceTemplate("simplest", count=None))


def _draw(strategy: SearchStrategy[Any], rnd: random.Random, prefix: tuple[Any, ...]) -> tuple[Any, Any] | None:
    """(choices, value) of one draw, or None when the strategy rejected it."""
    try:
        data = ConjectureData(random=rnd, prefix=prefix)
        with BuildContext(data, wrapped_test=_no_test):
            value = data.draw(strategy)
        return tuple(data.choices), value
    except (StopTest, UnsatisfiedAssumption):
        return None
    except TypeError as e:  # a changed constructor or signature: not our strategy's fault
        raise _Unusable(str(e)) from e


def _no_test() -> None:  # BuildContext names the test it draws for; there is none
    return None


def _through_given(strategy: SearchStrategy[Any], count: int, seed: int, profile: str | None) -> list[Any]:
    drawn: list[Any] = []
    base = settings.get_profile(f"conformance-{profile}") if profile else settings()

    @settings(base, max_examples=count, phases=(Phase.generate,), database=None)
    @hseed(seed)
    @given(strategy)
    def collect(example: Any) -> None:
        drawn.append(example)

    collect._hypothesis_internal_database_key = None  # type: ignore[attr-defined]  # no database: no key
    collect()
    return drawn
