"""Layout ops: flip, roll, repeat, tile, narrow, chunk, unbind, movedim, broadcast_to — forward vs
numpy, gradients and second derivatives vs torch float64, 0-d and zero-size inputs, node names,
torch's errors."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

import refengine as re
from ops_helpers import FAST, arrays, check, seeds, shapes


def _dims_of(draw, nd, unique=True):
    if nd == 0:
        return draw(st.sampled_from([(), (0,), (-1,)]))
    return tuple(draw(st.lists(st.integers(0, nd - 1), unique=True, max_size=nd)))


@given(shape=shapes, seed=seeds, data=st.data())
@FAST
def test_flip(shape, seed, data):
    dims = _dims_of(data.draw, len(shape))
    (a,) = arrays(seed, shape)
    check(lambda x: re.flip(x, dims), lambda x: torch.flip(x, dims), [a],
          np_fn=lambda x: np.flip(x, tuple(d % max(x.ndim, 1) for d in dims)) if x.ndim else x, seed=seed)


@given(shape=shapes, seed=seeds, data=st.data())
@FAST
def test_roll(shape, seed, data):
    nd = len(shape)
    (a,) = arrays(seed, shape)
    if nd == 0 or data.draw(st.booleans()):
        shift = data.draw(st.integers(-7, 7))
        check(lambda x: re.roll(x, shift), lambda x: torch.roll(x, shift), [a], np_fn=lambda x: np.roll(x, shift),
              seed=seed)
        return
    dims = tuple(data.draw(st.lists(st.integers(-nd, nd - 1), min_size=1, max_size=3)))
    shifts = tuple(data.draw(st.integers(-7, 7)) for _ in dims)
    check(lambda x: re.roll(x, shifts, dims), lambda x: torch.roll(x, shifts, dims), [a],
          np_fn=lambda x: np.roll(x, shifts, dims), seed=seed)


@given(shape=shapes, seed=seeds, data=st.data())
@FAST
def test_repeat_and_tile(shape, seed, data):
    nd = len(shape)
    sizes = tuple(data.draw(st.lists(st.integers(0, 3), min_size=nd, max_size=nd + 2)))
    (a,) = arrays(seed, shape)
    if sizes:
        check(lambda x: x.repeat(*sizes), lambda x: x.repeat(*sizes), [a],
              np_fn=lambda x: np.tile(x.reshape((1,) * (len(sizes) - x.ndim) + x.shape), sizes), seed=seed)
    reps = tuple(data.draw(st.lists(st.integers(0, 3), max_size=nd + 1)))
    check(lambda x: re.tile(x, reps), lambda x: torch.tile(x, reps), [a], np_fn=lambda x: np.tile(x, reps),
          seed=seed)


@given(shape=shapes.filter(len), seed=seeds, data=st.data())
@FAST
def test_narrow(shape, seed, data):
    nd = len(shape)
    dim = data.draw(st.integers(-nd, nd - 1))
    n = shape[dim]
    start = data.draw(st.integers(-n, n)) if n else 0
    s = start + n if start < 0 else start
    length = data.draw(st.integers(0, n - s))
    (a,) = arrays(seed, shape)
    check(lambda x: re.narrow(x, dim, start, length), lambda x: torch.narrow(x, dim, start, length), [a],
          np_fn=lambda x: np.take(x, range(s, s + length), axis=dim), seed=seed)


@given(shape=shapes.filter(len), seed=seeds, data=st.data())
@FAST
def test_chunk_and_unbind(shape, seed, data):
    nd = len(shape)
    dim = data.draw(st.integers(-nd, nd - 1))
    chunks = data.draw(st.integers(1, 5))
    (a,) = arrays(seed, shape)
    r, t = re.chunk(re.tensor(a), chunks, dim), torch.chunk(torch.tensor(a), chunks, dim)
    assert [p.shape for p in r] == [tuple(p.shape) for p in t]
    for i in range(len(t)):
        check(lambda x: re.chunk(x, chunks, dim)[i] * (i + 1), lambda x: torch.chunk(x, chunks, dim)[i] * (i + 1),
              [a], seed=seed)
    assert len(re.unbind(re.tensor(a), dim)) == len(torch.unbind(torch.tensor(a), dim))
    if shape[dim]:
        k = data.draw(st.integers(0, shape[dim] - 1))
        check(lambda x: re.unbind(x, dim)[k], lambda x: torch.unbind(x, dim)[k], [a],
              np_fn=lambda x: np.take(x, k, axis=dim), seed=seed)
        check(lambda x: re.stack(list(re.unbind(x * x, dim)), 0), lambda x: torch.stack(torch.unbind(x * x, dim)),
              [a], seed=seed)


@given(shape=shapes, seed=seeds, data=st.data())
@FAST
def test_movedim(shape, seed, data):
    nd = len(shape)
    k = data.draw(st.integers(0, nd))
    src = tuple(data.draw(st.permutations(range(nd)))[:k])
    dst = tuple(data.draw(st.permutations(range(nd)))[:k])
    (a,) = arrays(seed, shape)
    check(lambda x: re.movedim(x, src, dst), lambda x: torch.movedim(x, src, dst), [a],
          np_fn=lambda x: np.moveaxis(x, src, dst), seed=seed)


@given(shape=shapes, seed=seeds, data=st.data())
@FAST
def test_broadcast_to(shape, seed, data):
    lead = tuple(data.draw(st.lists(st.integers(0, 3), max_size=2)))
    target = lead + tuple(data.draw(st.sampled_from([s, 3])) if s == 1 else s for s in shape)
    (a,) = arrays(seed, shape)
    check(lambda x: re.broadcast_to(x, target), lambda x: torch.broadcast_to(x, target), [a],
          np_fn=lambda x: np.broadcast_to(x, target), seed=seed)


@pytest.mark.parametrize("fn", [
    lambda m, x: m.flip(x * x, (0, 2)), lambda m, x: m.roll(x * x, (1, -2), (1, 2)),
    lambda m, x: (x * x).repeat(2, 1, 2, 1),
    lambda m, x: m.tile(x * x, (2, 1)), lambda m, x: m.narrow(x * x, 2, 1, 2), lambda m, x: m.chunk(x * x, 2, 2)[1],
    lambda m, x: m.unbind(x * x, 1)[2], lambda m, x: m.movedim(x * x, 0, -1),
    lambda m, x: m.broadcast_to(x * x, (2, 2, 3, 4)),
], ids=["flip", "roll", "repeat", "tile", "narrow", "chunk", "unbind", "movedim", "broadcast_to"])
def test_second_derivatives_and_node_names(fn):
    (a,) = arrays(29, (2, 3, 4))
    check(lambda x: fn(re, x) * x.sum(), lambda x: fn(torch, x) * x.sum(), [a], second=True, seed=29)
    x, t = re.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)
    assert fn(re, x + 0).grad_fn.name() == type(fn(torch, t + 0).grad_fn).__name__


def test_methods():
    a = np.arange(6.0).reshape(2, 3)
    x, t = re.tensor(a), torch.tensor(a)
    for f in [lambda v: v.flip(0), lambda v: v.roll(1, 1), lambda v: v.tile((2,)), lambda v: v.narrow(1, 0, 2),
              lambda v: v.chunk(2, 1)[0], lambda v: v.unbind(1)[1], lambda v: v.movedim(0, 1),
              lambda v: v.broadcast_to((2, 2, 3)), lambda v: v.moveaxis(1, 0)]:
        np.testing.assert_array_equal(f(x).data, f(t).numpy())


@pytest.mark.parametrize("call, err", [
    (lambda m: m.flip(m.ones(2, 3), (0, 0)), RuntimeError),
    (lambda m: m.flip(m.ones(2, 3), (2,)), IndexError),
    (lambda m: m.roll(m.ones(2, 3), (1, 2), (0,)), RuntimeError),
    (lambda m: m.ones(2, 3).repeat(2), RuntimeError),
    (lambda m: m.narrow(m.ones(2, 3), 1, 2, 2), RuntimeError),
    (lambda m: m.chunk(m.ones(2, 3), 0), RuntimeError),
    (lambda m: m.movedim(m.ones(2, 3), (0, 1), (1,)), RuntimeError),
    (lambda m: m.broadcast_to(m.ones(2, 3), (3, 3)), RuntimeError),
    (lambda m: m.unbind(m.ones(2, 3), 2), IndexError),
])
def test_bad_input_errors_match_torch(call, err):
    with pytest.raises(err):
        call(re)
    with pytest.raises(err):
        call(torch)
