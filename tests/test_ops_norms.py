"""std and vector/matrix norms: forward vs numpy, gradients and second derivatives vs torch float64
for ord 0, 1, 2, inf, -inf and fractional/large p; zero vectors and ties at the inf-norm (torch's
masks and even split), torch's std overloads and its zero-gradient rule for a constant slice."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

import refengine as re
from ops_helpers import FAST, arrays, check, nonempty_shapes, seeds

ORDS = [0, 1, 2, math.inf, -math.inf, 0.5, 1.5, 3]


@st.composite
def shape_and_dims(draw, base=nonempty_shapes):
    shape = draw(base)
    nd = len(shape)
    options = [st.none()]
    if nd:
        options += [st.integers(-nd, nd - 1), st.lists(st.integers(0, nd - 1), unique=True, min_size=1,
                                                       max_size=nd).map(tuple)]
    return shape, draw(st.one_of(*options)), draw(st.booleans())


def _np_norm(x, ord, dim, keepdim):
    ax = None if dim is None or x.ndim == 0 else dim
    a = np.abs(x)
    if ord == math.inf:
        return np.max(a, axis=ax, keepdims=keepdim)
    if ord == -math.inf:
        return np.min(a, axis=ax, keepdims=keepdim)
    if ord == 0:
        return np.sum(a != 0, axis=ax, keepdims=keepdim).astype(float)
    return np.sum(a ** ord, axis=ax, keepdims=keepdim) ** (1 / ord)


@pytest.mark.parametrize("ord", ORDS)
@given(sdk=shape_and_dims(), seed=seeds)
@FAST
def test_vector_norm(ord, sdk, seed):
    shape, dim, keepdim = sdk
    (a,) = arrays(seed, shape)
    check(lambda x: re.linalg.vector_norm(x, ord, dim, keepdim),
          lambda x: torch.linalg.vector_norm(x, ord, dim, keepdim), [a],
          np_fn=lambda x: _np_norm(x, ord, dim, keepdim), seed=seed)


@pytest.mark.parametrize("ord", ORDS)
def test_vector_norm_second_derivative(ord):
    (a,) = arrays(23, (3, 4))
    check(lambda x: re.linalg.vector_norm(x * x - 0.3, ord, 1), lambda x: torch.linalg.vector_norm(x * x - 0.3, ord, 1),
          [a], second=True, seed=23)


@pytest.mark.parametrize("ord", ORDS)
def test_zero_vectors_zero_entries_and_inf_norm_ties(ord):
    """A zero row (norm 0: gradient 0), zero entries, and rows whose max |x| is attained twice."""
    a = np.array([[0.0, 0.0, 0.0], [0.0, 1.5, -2.0], [2.0, -2.0, 1.0], [-1.0, 1.0, 1.0]])
    if ord < 1 and ord != 0:
        a = a[2:]  # torch's own p < 1 gradient at a zero entry is 0 * inf = nan; stay clear of it
    check(lambda x: re.linalg.vector_norm(x, ord, 1), lambda x: torch.linalg.vector_norm(x, ord, 1), [a],
          second=ord in (0, 1, 2, math.inf), seed=3)


@given(sdk=shape_and_dims(), seed=seeds, correction=st.sampled_from([0, 1, 2]))
@FAST
def test_std(sdk, seed, correction):
    shape, dim, keepdim = sdk
    (a,) = arrays(seed, shape)
    dims = range(len(shape)) if dim is None else np.atleast_1d(dim)
    n = int(np.prod([shape[d] for d in dims])) if len(shape) else 1
    if n - correction <= 0:
        return  # torch: inf/nan with a warning
    kw = {"dim": dim, "correction": correction, "keepdim": keepdim}
    check(lambda x: re.std(x, **kw), lambda x: torch.std(x, **kw), [a],
          np_fn=lambda x: np.std(x, axis=None if dim is None or x.ndim == 0 else dim, ddof=correction,
                                 keepdims=keepdim), seed=seed)


def test_std_of_a_constant_slice_has_zero_gradient():
    a = np.array([[1.0, 1.0, 1.0], [0.5, -1.0, 2.0]])
    check(lambda x: re.std(x, 1), lambda x: torch.std(x, 1), [a], second=True)


def test_std_overloads_and_second_derivative():
    (a,) = arrays(5, (3, 4))
    for f in [lambda m, x: m.std(x), lambda m, x: m.std(x, False), lambda m, x: m.std(x, 1, False, True),
              lambda m, x: m.std(x, (0, 1), unbiased=True), lambda m, x: x.std(0)]:
        check(lambda x: f(re, x * x), lambda x: f(torch, x * x), [a], second=True, seed=5)


@pytest.mark.parametrize("p", ["fro", 1, 2, math.inf, 3])
def test_torch_norm_and_linalg_norm(p):
    (a,) = arrays(6, (3, 4))
    check(lambda x: re.norm(x, p), lambda x: torch.norm(x, p), [a], second=True, seed=6)
    check(lambda x: re.norm(x, p, dim=1, keepdim=True), lambda x: torch.norm(x, p, dim=1, keepdim=True), [a], seed=6)
    check(lambda x: x.norm(p, 0), lambda x: x.norm(p, 0), [a], seed=6)
    if p not in (2, 3):
        check(lambda x: re.linalg.norm(x, p), lambda x: torch.linalg.norm(x, p), [a], second=True, seed=6)
    check(lambda x: re.linalg.norm(x), lambda x: torch.linalg.norm(x), [a], second=True, seed=6)


@pytest.mark.parametrize("ord", ["fro", 1, -1, math.inf, -math.inf])
@pytest.mark.parametrize("keepdim", [False, True])
def test_matrix_norm(ord, keepdim):
    (a,) = arrays(7, (2, 3, 4))
    check(lambda x: re.linalg.matrix_norm(x, ord, keepdim=keepdim),
          lambda x: torch.linalg.matrix_norm(x, ord, keepdim=keepdim), [a], second=True, seed=7)
    check(lambda x: re.linalg.matrix_norm(x, ord, dim=(2, 0)), lambda x: torch.linalg.matrix_norm(x, ord, dim=(2, 0)),
          [a], seed=7)


def test_float32_and_node_names():
    x = re.tensor(np.linspace(-1, 1, 6, dtype=np.float32).reshape(2, 3), requires_grad=True)
    t = torch.tensor(np.linspace(-1, 1, 6, dtype=np.float32).reshape(2, 3), requires_grad=True)
    for f in [lambda m, v: m.std(v, 1), lambda m, v: m.linalg.vector_norm(v), lambda m, v: m.norm(v, 1, 0)]:
        y = f(re, x)
        (g,) = re.grad(y.sum(), [x])
        assert y.dtype == g.dtype == np.float32
        assert y.grad_fn.name() == type(f(torch, t).grad_fn).__name__


@pytest.mark.parametrize("call, err", [
    (lambda m: m.linalg.vector_norm(m.tensor([1, 2])), RuntimeError),
    (lambda m: m.linalg.vector_norm(m.ones(0), math.inf), RuntimeError),
    (lambda m: m.std(m.tensor([1, 2])), RuntimeError),
    (lambda m: m.linalg.vector_norm(m.ones(2, 3), 2, 2), IndexError),
])
def test_bad_input_errors_match_torch(call, err):
    with pytest.raises(err):
        call(re)
    with pytest.raises(err):
        call(torch)
