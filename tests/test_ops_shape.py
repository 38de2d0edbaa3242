"""Shape ops and indexing: values vs numpy, gradients and second derivatives vs torch, torch's
errors for invalid dims, mismatched cat/stack shapes and out-of-range indices."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import refengine as re
from ops_helpers import FAST, arrays, check, seeds, shapes

shapes_1d = hnp.array_shapes(min_dims=1, max_dims=3, min_side=0, max_side=4)


@given(shape=shapes, seed=seeds, data=st.data())
@FAST
def test_reshape_view_flatten(shape, seed, data):
    (a,) = arrays(seed, shape)
    new = tuple(np.random.default_rng(seed).permutation(shape)) + (1,)
    check(lambda x: re.reshape(x, new), lambda x: torch.reshape(x, new), [a], np_fn=lambda x: x.reshape(new), seed=seed)
    check(lambda x: x.view(-1), lambda x: x.reshape(-1), [a], np_fn=lambda x: x.reshape(-1), seed=seed)
    nd = max(len(shape), 1)
    s = data.draw(st.integers(-nd, nd - 1))
    e = data.draw(st.integers(-nd, nd - 1))
    if s % nd <= e % nd:
        check(lambda x: re.flatten(x, s, e), lambda x: torch.flatten(x, s, e), [a], seed=seed)


@given(shape=shapes, seed=seeds, data=st.data())
@FAST
def test_transpose_permute_T(shape, seed, data):
    (a,) = arrays(seed, shape)
    nd = len(shape)
    perm = tuple(int(i) for i in np.random.default_rng(seed).permutation(nd))
    check(lambda x: re.permute(x, perm), lambda x: torch.permute(x, perm), [a],
          np_fn=lambda x: np.transpose(x, perm), seed=seed)
    d0 = data.draw(st.integers(-max(nd, 1), max(nd, 1) - 1))
    d1 = data.draw(st.integers(-max(nd, 1), max(nd, 1) - 1))
    check(lambda x: re.transpose(x, d0, d1), lambda x: torch.transpose(x, d0, d1), [a], seed=seed)
    if nd == 2:  # torch deprecates .T on other ranks (with a warning)
        check(lambda x: x.T, lambda x: x.T, [a], np_fn=lambda x: x.T, seed=seed)


@given(shape=shapes, seed=seeds, data=st.data())
@FAST
def test_expand_squeeze_unsqueeze(shape, seed, data):
    (a,) = arrays(seed, shape)
    nd = len(shape)
    target = (2,) + tuple(3 if s == 1 else s for s in shape)
    check(lambda x: x.expand(*target), lambda x: x.expand(*target), [a],
          np_fn=lambda x: np.broadcast_to(x, target), seed=seed)
    check(re.squeeze, torch.squeeze, [a], np_fn=np.squeeze, seed=seed)
    d = data.draw(st.integers(-max(nd, 1), max(nd, 1) - 1))
    check(lambda x: re.squeeze(x, d), lambda x: torch.squeeze(x, d), [a], seed=seed)
    u = data.draw(st.integers(-nd - 1, nd))
    check(lambda x: re.unsqueeze(x, u), lambda x: torch.unsqueeze(x, u), [a],
          np_fn=lambda x: np.expand_dims(x, u), seed=seed)


@given(shape=shapes_1d, seed=seeds, data=st.data())
@FAST
def test_cat_stack_split(shape, seed, data):
    nd = len(shape)
    d = data.draw(st.integers(-nd, nd - 1))
    other = list(shape)
    other[d] = data.draw(st.integers(0, 3))
    a, b = arrays(seed, shape, tuple(other))
    check(lambda x, y: re.cat([x, y], d), lambda x, y: torch.cat([x, y], d), [a, b],
          np_fn=lambda x, y: np.concatenate([x, y], d), seed=seed)
    c, e = arrays(seed + 1, shape, shape)
    sd = data.draw(st.integers(-nd - 1, nd))
    check(lambda x, y: re.stack([x, y], sd), lambda x, y: torch.stack([x, y], sd), [c, e],
          np_fn=lambda x, y: np.stack([x, y], sd), seed=seed)
    n = shape[d]
    size = data.draw(st.integers(1, max(n, 1)))
    k = data.draw(st.integers(0, 10))
    chunks = -(-n // size) if n else 1
    check(lambda x: re.split(x, size, d)[k % chunks] * 2, lambda x: torch.split(x, size, d)[k % chunks] * 2,
          [a], seed=seed)


def test_split_sections_and_unused_chunks_get_zero_gradient():
    (a,) = arrays(1, (6, 2))
    check(lambda x: re.split(x, [1, 3, 2])[1].sum() + re.split(x, [1, 3, 2])[2].prod(),
          lambda x: torch.split(x, [1, 3, 2])[1].sum() + torch.split(x, [1, 3, 2])[2].prod(), [a])
    parts = re.split(re.tensor(a, requires_grad=True), 4)
    assert [p.shape for p in parts] == [(4, 2), (2, 2)] and parts[0].grad_fn is parts[1].grad_fn


@st.composite
def index_case(draw):
    """A shape and an index mixing slices, ints, None, Ellipsis or one integer array (often with
    repeats) or a boolean mask — the cases torch and numpy agree on."""
    shape = draw(hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=4))
    kind = draw(st.sampled_from(["basic", "array", "mask"]))
    rng = np.random.default_rng(draw(seeds))
    if kind == "mask":
        k = draw(st.integers(1, len(shape)))
        return shape, rng.random(shape[:k]) < 0.5
    items = []
    for n in shape:
        items.append(draw(st.one_of(st.integers(-n, n - 1),
                                    st.builds(slice, st.none() | st.integers(-n, n), st.none() | st.integers(-n, n),
                                              st.sampled_from([None, 1, 2])))))
    if kind == "array":
        pos = draw(st.integers(0, len(shape) - 1))
        items = [slice(None)] * len(shape)
        items[pos] = rng.integers(-shape[pos], shape[pos], draw(st.integers(1, 6)))
    if draw(st.booleans()):
        items.insert(draw(st.integers(0, len(items))), None)
    if kind == "basic" and draw(st.booleans()):
        items = [Ellipsis] + items[len(items) // 2 + 1:]
    return shape, tuple(items)


@given(case=index_case(), seed=seeds)
@FAST
def test_indexing(case, seed):
    """Repeated integer indices accumulate their gradients (scatter-add), masks and slices assign."""
    shape, idx = case
    (a,) = arrays(seed, shape)
    tidx = tuple(torch.tensor(i) if isinstance(i, np.ndarray) else i for i in idx) if isinstance(idx, tuple) \
        else torch.tensor(idx)
    check(lambda x: x[idx], lambda x: x[tidx], [a], np_fn=lambda x: x[idx], seed=seed)


def test_repeated_index_gradient_accumulates():
    x = re.tensor([1.0, 2.0, 3.0], requires_grad=True)
    x[np.array([0, 0, 2, 0])].sum().backward()
    assert x.grad.tolist() == [3.0, 0.0, 1.0]


@pytest.mark.parametrize("fn", [
    lambda m, x: m.cat([x * x, x], 1), lambda m, x: m.stack([x * x, x], 0), lambda m, x: m.split(x * x, 2, 1)[1],
    lambda m, x: m.permute(x * x, (1, 0)), lambda m, x: (x * x)[[0, 0, 1]], lambda m, x: (x * x)[x > 0],
    lambda m, x: (x * x)[:, 1:], lambda m, x: m.flatten(x * x).unsqueeze(0).squeeze(0),
    lambda m, x: (x * x).expand(2, 3, 4),
], ids=["cat", "stack", "split", "permute", "index_array", "mask", "slice", "flatten", "expand"])
def test_second_derivatives(fn):
    (a,) = arrays(9, (3, 4))
    check(lambda x: fn(re, x), lambda x: fn(torch, x), [a], second=True)


def test_node_names_match_torch():
    x = re.tensor(np.ones((2, 3)), requires_grad=True)
    t = torch.ones((2, 3), requires_grad=True)
    for f in [lambda m, v: m.cat([v, v]), lambda m, v: m.stack([v, v]), lambda m, v: m.split(v, 1)[0],
              lambda m, v: m.permute(v, (1, 0)), lambda m, v: m.squeeze(v.unsqueeze(0)),
              lambda m, v: m.squeeze(v.unsqueeze(0), 0), lambda m, v: m.unsqueeze(v, 0), lambda m, v: v[[0, 0]],
              lambda m, v: m.transpose(v, 0, 1), lambda m, v: v.expand(2, 2, 3)]:
        assert f(re, x).grad_fn.name() == type(f(torch, t).grad_fn).__name__


@pytest.mark.parametrize("call, err, msg", [
    (lambda m, x: m.cat([x, m.ones(3, 4)], 0), RuntimeError, "Sizes of tensors must match except in dimension 0"),
    (lambda m, x: m.cat([], 0), ValueError, "non-empty list"),
    (lambda m, x: m.stack([x, m.ones(2, 4)]), RuntimeError, "stack expects each tensor to be equal size"),
    (lambda m, x: m.transpose(x, 0, 2), IndexError, "Dimension out of range"),
    (lambda m, x: m.unsqueeze(x, 4), IndexError, "Dimension out of range"),
    (lambda m, x: x[5], IndexError, "index 5 is out of bounds for dimension 0 with size 2"),
    (lambda m, x: x[:, np.array([7])], IndexError, "out of bounds"),
    (lambda m, x: x.reshape(4, 2), RuntimeError, r"shape '\[4, 2\]' is invalid for input of size 6"),
    (lambda m, x: x.expand(3, 4), RuntimeError, "must match the existing size"),
])
def test_bad_input_errors_match_torch(call, err, msg):
    x = re.tensor(np.ones((2, 3)))
    with pytest.raises(err, match=msg):
        call(re, x)
    with pytest.raises(err):  # torch raises the same error type for the same call
        call(torch, torch.ones(2, 3))
