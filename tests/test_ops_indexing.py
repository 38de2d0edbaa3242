"""Index-driven ops and padding: gather, take_along_dim, scatter_add, index_select, index_add,
masked_fill, F.pad (constant with negative pads, reflect, replicate) — forward vs numpy,
gradients (repeated indices accumulate) and second derivatives vs torch float64, out-of-range
indices and bad shapes raising torch's errors."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from hypothesis import given
from hypothesis import strategies as st

import refengine as re
import refengine.nn.functional as F
from ops_helpers import FAST, arrays, check, nonempty_shapes, seeds


@st.composite
def gather_case(draw):
    """Input shape, dim, and an index no larger than the input outside dim (repeats likely)."""
    shape = draw(nonempty_shapes.filter(len))
    nd = len(shape)
    dim = draw(st.integers(-nd, nd - 1))
    ishape = tuple(draw(st.integers(0, s)) if i != dim % nd else draw(st.integers(0, 5)) for i, s in enumerate(shape))
    rng = np.random.default_rng(draw(seeds))
    return shape, dim, rng.integers(0, shape[dim], ishape)


@given(case=gather_case(), seed=seeds)
@FAST
def test_gather(case, seed):
    shape, dim, idx = case
    (a,) = arrays(seed, shape)
    ref = lambda x: np.take_along_axis(x[tuple(slice(0, s) for s in idx.shape[:dim % len(shape)]) + (slice(None),) +
                                        tuple(slice(0, s) for s in idx.shape[dim % len(shape) + 1:])], idx, dim)
    check(lambda x: re.gather(x, dim, idx), lambda x: torch.gather(x, dim, torch.tensor(idx)), [a], np_fn=ref,
          seed=seed)
    check(lambda x: x.gather(dim, idx), lambda x: x.gather(dim, torch.tensor(idx)), [a], seed=seed)


@given(case=gather_case(), seed=seeds)
@FAST
def test_scatter_add(case, seed):
    shape, dim, idx = case
    a, s, big = arrays(seed, shape, idx.shape, tuple(n + 1 for n in idx.shape))
    check(lambda x, y: re.scatter_add(x, dim, idx, y), lambda x, y: torch.scatter_add(x, dim, torch.tensor(idx), y),
          [a, s], seed=seed)
    # a src larger than index: only its index-shaped corner is added (torch's own backward then fails
    # with a shape error; refengine gives the rest of src a zero gradient)
    np.testing.assert_allclose(re.scatter_add(re.tensor(a), dim, idx, re.tensor(big)).data,
                               torch.scatter_add(torch.tensor(a), dim, torch.tensor(idx), torch.tensor(big)).numpy())


@given(shape=nonempty_shapes.filter(len), seed=seeds, data=st.data())
@FAST
def test_take_along_dim(shape, seed, data):
    nd = len(shape)
    dim = data.draw(st.integers(-nd, nd - 1))
    rng = np.random.default_rng(seed)
    # indices broadcast against the input outside dim: size 1 or the input's size there
    ishape = tuple(data.draw(st.integers(0, 4)) if i == dim % nd else data.draw(st.sampled_from([1, s]))
                   for i, s in enumerate(shape))
    idx = rng.integers(0, shape[dim], ishape)
    (a,) = arrays(seed, shape)
    check(lambda x: re.take_along_dim(x, idx, dim), lambda x: torch.take_along_dim(x, torch.tensor(idx), dim), [a],
          seed=seed)
    flat = rng.integers(0, a.size, 5)
    check(lambda x: re.take_along_dim(x, flat), lambda x: torch.take_along_dim(x, torch.tensor(flat)), [a],
          np_fn=lambda x: x.reshape(-1)[flat], seed=seed)


@given(shape=nonempty_shapes.filter(len), seed=seeds, data=st.data())
@FAST
def test_index_select_and_index_add(shape, seed, data):
    nd = len(shape)
    dim = data.draw(st.integers(-nd, nd - 1))
    idx = np.array(data.draw(st.lists(st.integers(0, shape[dim] - 1), max_size=5)), np.int64)
    (a,) = arrays(seed, shape)
    check(lambda x: re.index_select(x, dim, idx), lambda x: torch.index_select(x, dim, torch.tensor(idx)), [a],
          np_fn=lambda x: np.take(x, idx, axis=dim), seed=seed)
    sshape = tuple(len(idx) if i == dim % nd else s for i, s in enumerate(shape))
    (s,) = arrays(seed + 1, sshape)
    alpha = data.draw(st.sampled_from([1, 2.5]))
    check(lambda x, y: re.index_add(x, dim, idx, y, alpha=alpha),
          lambda x, y: torch.index_add(x, dim, torch.tensor(idx), y, alpha=alpha), [a, s], seed=seed)


@given(shape=nonempty_shapes, seed=seeds, tensor_value=st.booleans(), data=st.data())
@FAST
def test_masked_fill(shape, seed, tensor_value, data):
    nd = len(shape)
    mshape = tuple(data.draw(st.sampled_from([1, s])) for s in shape[data.draw(st.integers(0, nd)):])
    mask = np.random.default_rng(seed).random(mshape) < 0.5
    a, v = arrays(seed, shape, ())
    if tensor_value:
        check(lambda x, y: re.masked_fill(x, mask, y), lambda x, y: torch.masked_fill(x, torch.tensor(mask), y),
              [a, v], np_fn=lambda x, y: np.where(mask, y, x), seed=seed)
    else:
        check(lambda x: x.masked_fill(mask, 1.5), lambda x: x.masked_fill(torch.tensor(mask), 1.5), [a],
              np_fn=lambda x: np.where(mask, 1.5, x), seed=seed)


@st.composite
def pad_case(draw):
    mode = draw(st.sampled_from(["constant", "reflect", "replicate"]))
    k = draw(st.integers(1, 3))
    nd = draw(st.sampled_from([k + 1, k + 2])) if mode != "constant" else draw(st.integers(k, 4))
    shape = tuple(draw(st.integers(1, 4)) for _ in range(nd))
    pad = []
    for i in range(k):
        s = shape[nd - 1 - i]
        if mode == "reflect":
            pad += [draw(st.integers(0, s - 1)), draw(st.integers(0, s - 1))]
        elif mode == "replicate":
            pad += [draw(st.integers(0, 3)), draw(st.integers(0, 3))]
        else:
            lo = draw(st.integers(-s, 3))
            pad += [lo, draw(st.integers(-(s + min(lo, 0)), 3))]  # torch crops by each negative pad first
    return shape, tuple(pad), mode


def _np_pad(x, pad, mode, value):
    widths = [(0, 0)] * x.ndim
    for i in range(len(pad) // 2):
        widths[x.ndim - 1 - i] = (pad[2 * i], pad[2 * i + 1])
    crop = tuple(slice(max(-lo, 0), x.shape[d] - max(-hi, 0)) for d, (lo, hi) in enumerate(widths))
    x = x[crop]
    widths = [(max(lo, 0), max(hi, 0)) for lo, hi in widths]
    if mode == "constant":
        return np.pad(x, widths, constant_values=value)
    return np.pad(x, widths, mode="reflect" if mode == "reflect" else "edge")


@given(case=pad_case(), seed=seeds)
@FAST
def test_pad(case, seed):
    shape, pad, mode = case
    (a,) = arrays(seed, shape)
    value = 0.5 if mode == "constant" else None
    kw = {"mode": mode} if value is None else {"mode": mode, "value": value}
    check(lambda x: F.pad(x, pad, **kw), lambda x: TF.pad(x, pad, **kw), [a],
          np_fn=lambda x: _np_pad(x, pad, mode, value), seed=seed)


@pytest.mark.parametrize("fn", [
    lambda m, f, x, i: m.gather(x * x, 1, i(np.array([[0, 0, 2], [1, 2, 2]]))),
    lambda m, f, x, i: m.scatter_add(x * x, 1, i(np.array([[0, 0, 2], [1, 1, 1]])), x * 2),
    lambda m, f, x, i: m.take_along_dim(x * x, i(np.array([[2], [0]])), 1),
    lambda m, f, x, i: m.index_select(x * x, 1, i(np.array([2, 0, 2]))),
    lambda m, f, x, i: m.index_add(x * x, 1, i(np.array([2, 2])), x[:, :2] * 3, alpha=2),
    lambda m, f, x, i: m.masked_fill(x * x, i(np.array([True, False, True])), x.sum()),
    lambda m, f, x, i: f.pad(x * x, (1, 2), mode="reflect"),
    lambda m, f, x, i: f.pad((x * x)[None], (2, 1, 1, 0), mode="replicate"),
    lambda m, f, x, i: f.pad(x * x, (-1, 2, 1, 1), value=2.0),
], ids=["gather", "scatter_add", "take_along_dim", "index_select", "index_add", "masked_fill", "reflect",
        "replicate", "constant"])
def test_second_derivatives_and_node_names(fn):
    (a,) = arrays(31, (2, 3))
    check(lambda x: fn(re, F, x, np.asarray) * x.sum(), lambda x: fn(torch, TF, x, torch.tensor) * x.sum(), [a],
          second=True, seed=31)
    x, t = re.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)
    assert fn(re, F, x, np.asarray).grad_fn.name() == type(fn(torch, TF, t, torch.tensor).grad_fn).__name__


def _i(m, v):
    return torch.tensor(v) if m is torch else np.array(v)


@pytest.mark.parametrize("call, err", [
    (lambda m: m.gather(m.ones(2, 3), 1, _i(m, [[3]])), RuntimeError),
    (lambda m: m.gather(m.ones(2, 3), 1, _i(m, [[0, 1, 2, 0]] * 3)), RuntimeError),
    (lambda m: m.gather(m.ones(2, 3), 1, _i(m, [0])), RuntimeError),
    (lambda m: m.gather(m.ones(2, 3), 1, _i(m, [[0.0]])), RuntimeError),
    (lambda m: m.scatter_add(m.ones(2, 3), 1, _i(m, [[5]]), m.ones(1, 1)), RuntimeError),
    (lambda m: m.index_select(m.ones(2, 3), 1, _i(m, [3])), (IndexError, RuntimeError)),
    (lambda m: m.index_add(m.ones(2, 3), 1, _i(m, [0]), m.ones(2, 2)), RuntimeError),
    (lambda m: m.masked_fill(m.ones(2, 3), _i(m, [1, 0, 1]), 0.0), RuntimeError),
    (lambda m: m.masked_fill(m.ones(2, 3), _i(m, [True, False]), 0.0), RuntimeError),
    (lambda m: m.masked_fill(m.ones(2, 3), _i(m, [True, False, True]), m.ones(2)), RuntimeError),
    (lambda m: (F if m is re else TF).pad(m.ones(2, 3), (3, 0), mode="reflect"), RuntimeError),
    (lambda m: (F if m is re else TF).pad(m.ones(3), (1, 1), mode="replicate"), NotImplementedError),
    (lambda m: (F if m is re else TF).pad(m.ones(3), (1, 1, 1, 1)), RuntimeError),
    (lambda m: (F if m is re else TF).pad(m.ones(3), (-2, -2)), RuntimeError),
])
def test_bad_input_errors_match_torch(call, err):
    with pytest.raises(err):
        call(re)
    with pytest.raises(err):
        call(torch)


def test_float32_stays_float32():
    x = re.tensor(np.ones((2, 3), np.float32), requires_grad=True)
    for f in [lambda v: re.gather(v, 1, np.array([[0], [2]])), lambda v: re.index_select(v, 0, np.array([1, 1])),
              lambda v: re.masked_fill(v, np.array([True, False, False]), 2.0), lambda v: F.pad(v, (1, 1), "reflect"),
              lambda v: F.pad(v, (1, 1)), lambda v: re.scatter_add(v, 0, np.array([[1]]), v)]:
        y = f(x)
        (g,) = re.grad(y.sum(), [x])
        assert y.dtype == g.dtype == np.float32
