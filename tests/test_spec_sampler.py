"""spec/sampler.py: the shared draws' examples, drawn without hypothesis's test engine."""
from __future__ import annotations

import pickle

import pytest
from hypothesis import strategies as st

from conformance.checks.properties import PROPERTIES
from conformance.spec import sampler
from conformance.spec.ops import REGISTRY


def test_the_installed_hypothesis_is_drawn_from_directly():
    # when this fails, hypothesis changed the internals sampler.py uses: runs still work, through
    # @given, but the shared draws cost about twice as much (adapt sampler._direct)
    assert sampler.direct()
    assert sampler._direct(st.integers(), 3, 0)[0] == 0  # hypothesis's simplest integer


def test_the_same_seed_draws_the_same_examples_and_another_seed_others():
    strategy = PROPERTIES["grad_vs_numerical"].examples(["matmul"], "float64", frozenset(REGISTRY))
    a, b, c = (sampler.sample(strategy, 12, s) for s in (5, 5, 6))
    assert len(a) == 12
    assert [pickle.dumps(x) for x in a] == [pickle.dumps(x) for x in b]
    assert [pickle.dumps(x) for x in a] != [pickle.dumps(x) for x in c]


def test_the_simplest_example_comes_first_then_distinct_ones():
    got = sampler.sample(st.lists(st.integers(0, 10**6)), 30, 1)
    assert got[0] == []
    assert len({tuple(x) for x in got}) == 30


def test_a_strategy_that_rejects_some_draws_still_fills_the_count():
    got = sampler.sample(st.integers(0, 1000).filter(lambda x: x % 3 == 0), 20, 2)
    assert len(got) == 20 and all(x % 3 == 0 for x in got)


def test_a_strategy_that_rejects_everything_gives_nothing_and_ends():
    assert sampler._direct(st.integers().filter(lambda x: False), 5, 0) == []


def test_without_the_internals_examples_come_through_given(monkeypatch):
    monkeypatch.setattr(sampler, "_INTERNALS", False)
    got = sampler.sample(st.integers(0, 10**6), 15, 3)
    assert len(got) == 15
    assert got == sampler.sample(st.integers(0, 10**6), 15, 3)


@pytest.mark.parametrize("op", ["sum", "conv2d", "where"])
def test_programs_drawn_directly_vary_like_hypothesis_draws(op):
    # the draws keep hypothesis's spread: several shapes and sizes, not one program repeated
    strategy = PROPERTIES["grad_vs_numerical"].examples([op], "float64", frozenset(REGISTRY))
    got = sampler.sample(strategy, 20, 0)
    assert len(got) == 20
    shapes = {tuple(n.value.shape) for p in got for n in p.nodes if n.op is None and n.requires_grad}
    assert len(shapes) >= 3


def test_a_smaller_pool_is_the_start_of_a_larger_one():
    # a --budget run asks for fewer examples than the pool a full run drew: the same ones, fewer
    strategy = PROPERTIES["grad_vs_numerical"].examples(["softmax"], "float32", frozenset(REGISTRY))
    few, many = sampler.sample(strategy, 5, 9), sampler.sample(strategy, 40, 9)
    assert [pickle.dumps(x) for x in few] == [pickle.dumps(x) for x in many[:5]]


def test_draws_do_not_depend_on_the_modules_this_process_loaded(tmp_path, monkeypatch):
    """hypothesis mixes the numbers written in every loaded non-site-packages module into its draws. A worker
    loads other modules than a run in one process, and an engine module imported between two cells added its
    numbers to the later cells' draws: an autograd cell at quick drew another program in a worker than in one
    process. Draws leave those constants out, so a module loaded in between changes nothing."""
    strategy = st.floats(-1e6, 1e6)
    before = sampler.sample(strategy, 400, 3)
    (tmp_path / "conformance_sampler_constants.py").write_text(
        "CONSTANTS = [" + ", ".join(f"{k * 1234.56789:.5f}" for k in range(1, 200)) + "]\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    import conformance_sampler_constants  # noqa: F401 - its numbers are what hypothesis would pick up
    assert sampler.sample(strategy, 400, 3) == before


def test_draws_leave_hypothesis_cache_of_constants_as_they_found_it():
    """Draws compute hypothesis's cache of allowed constants without local constants, in a cache of their own
    (emptying hypothesis's on every draw made each refill it, ~300 times a run): what a user's own hypothesis
    tests in the same process cached stays, and none of ours gets in."""
    from hypothesis.internal.conjecture import providers
    if not sampler.direct():
        pytest.skip("this hypothesis lacks the internals the sampler uses")
    cache = providers.CONSTANTS_CACHE
    cache[("a user's", "key")] = ((1.5,), (2.5,))
    before = dict(cache.cache)
    sampler.sample(st.floats(-1e6, 1e6), 50, 3)
    assert providers.CONSTANTS_CACHE is cache and dict(cache.cache) == before
