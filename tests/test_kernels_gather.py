"""The gather / scatter kernels (issue 16 item 2, ``_gather.pyx``) against their numpy twin, in
tests/test_kernels.py's style: random shapes and dims, float32/float64, non-contiguous,
transposed and reversed inputs and indices, indices smaller than the input outside the dim,
zero-size and 0-d arrays, repeated indices (which accumulate); and both reject bad input with
the same clear error -- out-of-range indices with the ops' RuntimeError.  Both add in the same
order, so results are compared bit for bit, and with numpy's own take_along_axis / np.add.at on
plain copies.  The hostile-input fuzzing is tests/test_refengine_fuzz_gather.py."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from ops_helpers import FAST, seeds
from test_kernels import views

from refengine import kernels

C = kernels.implementation("gather", "cython")
N = kernels.implementation("gather", "numpy")


def index_layout(idx, kind):
    """``idx``'s values as a C array, a transposed / reversed view, or int32 / uint8."""
    if kind == "transposed":
        return np.array(idx.T, order="C").T
    if kind == "reversed":
        s = tuple(slice(None, None, -1) for _ in idx.shape)
        return idx[s].copy()[s]
    if kind in ("int32", "uint8"):
        return idx.astype(kind)
    return idx


@st.composite
def gather_case(draw, scatter=False):
    """(x, dim, idx): idx with x's number of dims, no larger than x outside dim (any length along
    it), values in range; a 0-d x with a 0-d or one-element index."""
    x = draw(views(draw(hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=4))))
    nd = max(x.ndim, 1)
    dim = draw(st.integers(-nd, nd - 1))
    xs, d = x.shape or (1,), dim % nd
    n = xs[d]
    shape = [draw(st.integers(0, 5 if n else 0)) if a == d else draw(st.integers(0, s)) for a, s in enumerate(xs)]
    if x.ndim == 0:
        shape = draw(st.sampled_from([(), (1,), (3,)]))
    rng = np.random.default_rng(draw(seeds))
    # few distinct values: repeats are the rule, so accumulation order is exercised
    idx = rng.integers(0, max(min(n, draw(st.sampled_from([1, 2, 5]))), 1), tuple(shape))
    kind = draw(st.sampled_from(["c", "transposed", "reversed", "int32", "uint8"]))
    return x, dim, index_layout(idx, kind)


def corner(a, shape, dim):
    """``a``'s first ``shape[d]`` entries along every dim but ``dim``."""
    a = a.reshape(a.shape or (1,))
    return a[tuple(slice(None) if d == dim % a.ndim else slice(0, s) for d, s in enumerate(shape or (1,)))]


@given(case=gather_case())
@FAST
def test_gather_dim(case):
    x, dim, idx = case
    got = C.gather_dim(x, dim, idx)
    assert got.dtype == x.dtype and got.shape == idx.shape and got.flags.c_contiguous
    np.testing.assert_array_equal(got, N.gather_dim(x, dim, idx))
    want = np.take_along_axis(corner(x, idx.shape, dim), idx.reshape(idx.shape or (1,)).astype(np.int64),
                              dim % max(x.ndim, 1))
    np.testing.assert_array_equal(got, want.reshape(idx.shape))


@given(case=gather_case(), data=st.data(), with_base=st.booleans())
@FAST
def test_scatter_add_dim(case, data, with_base):
    """The adjoint of gather_dim: src (at least idx's shape; only that corner counts) added at idx,
    repeats accumulating in the same order in kernel and twin (bit for bit)."""
    x, dim, idx = case
    grow = data.draw(st.sampled_from([0, 1]))
    src = data.draw(views(tuple(s + grow for s in idx.shape), dtype=x.dtype))
    base = data.draw(views(x.shape, dtype=x.dtype)) if with_base else None
    got = C.scatter_add_dim(x.shape, dim, idx, src, base=base)
    assert got.dtype == x.dtype and got.shape == x.shape and got.flags.c_contiguous
    np.testing.assert_array_equal(got, N.scatter_add_dim(x.shape, dim, idx, src, base=base))
    # numpy's own scatter-add on plain copies: one position per index element
    want = np.zeros(x.shape, x.dtype) if base is None else np.array(base, order="C")
    w1, i1 = want.reshape(x.shape or (1,)), idx.reshape(idx.shape or (1,))
    s1 = src.reshape(src.shape or (1,))
    d = dim % max(x.ndim, 1)
    for pos in np.ndindex(*i1.shape):
        w1[pos[:d] + (int(i1[pos]),) + pos[d + 1:]] += s1[pos]
    np.testing.assert_array_equal(got, want)


@given(case=gather_case(), seed=seeds)
@FAST
def test_gather_and_scatter_are_adjoint(case, seed):
    """<gather(x), g> == <x, scatter_add(g)>: the identity that makes each the other's backward."""
    x, dim, idx = case
    g = np.random.default_rng(seed).standard_normal(idx.shape)
    x = x.astype(np.float64)
    lhs = float(np.sum(C.gather_dim(x, dim, idx) * g))
    rhs = float(np.sum(x * C.scatter_add_dim(x.shape, dim, idx, g)))
    assert lhs == pytest.approx(rhs, rel=1e-12, abs=1e-12)


@st.composite
def select_case(draw):
    """(x, dim, idx): a 0-d or 1-D index vector of in-range values (repeats likely)."""
    x = draw(views(draw(hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=4))))
    nd = max(x.ndim, 1)
    dim = draw(st.integers(-nd, nd - 1))
    n = (x.shape or (1,))[dim % nd]
    rng = np.random.default_rng(draw(seeds))
    shape = draw(st.sampled_from([(), (0,), (1,), (4,), (7,)])) if n else (0,)
    idx = rng.integers(0, max(n, 1), shape)
    return x, dim, index_layout(idx, draw(st.sampled_from(["c", "reversed", "int32", "uint8"])))


@given(case=select_case(), data=st.data(), with_base=st.booleans())
@FAST
def test_index_select_and_index_add(case, data, with_base):
    x, dim, idx = case
    d = dim % max(x.ndim, 1)
    got = C.index_select(x, dim, idx)
    want = np.take(x.reshape(x.shape or (1,)), idx.reshape(-1).astype(np.int64), axis=d)
    assert got.dtype == x.dtype and got.flags.c_contiguous
    np.testing.assert_array_equal(got, N.index_select(x, dim, idx))
    np.testing.assert_array_equal(got, want.reshape(idx.shape) if x.ndim == 0 else want)
    src = data.draw(views(want.shape, dtype=x.dtype))
    base = data.draw(views(x.shape, dtype=x.dtype)) if with_base else None
    got = C.index_add(x.shape, dim, idx, src, base=base)
    assert got.dtype == x.dtype and got.shape == x.shape and got.flags.c_contiguous
    np.testing.assert_array_equal(got, N.index_add(x.shape, dim, idx, src, base=base))
    ref = np.zeros(x.shape, x.dtype) if base is None else np.array(base, order="C")
    r1 = ref.reshape(x.shape or (1,))
    for k, i in enumerate(idx.reshape(-1)):   # slice by slice, in index order
        sl = (slice(None),) * d
        r1[sl + (int(i),)] += src[sl + (k,)]
    np.testing.assert_array_equal(got, ref)


@pytest.mark.parametrize("impl", [C, N], ids=["cython", "numpy"])
def test_repeated_indices_accumulate(impl):
    x = np.arange(12.0).reshape(3, 4)
    idx = np.array([[0, 0, 0], [3, 3, 1], [2, 2, 2]])
    assert impl.gather_dim(x, 1, idx).tolist() == [[0, 0, 0], [7, 7, 5], [10, 10, 10]]
    got = impl.scatter_add_dim((3, 4), 1, idx, np.ones((3, 3)))
    assert got.tolist() == [[3, 0, 0, 0], [0, 1, 0, 2], [0, 0, 3, 0]]
    got = impl.scatter_add_dim((3, 4), -1, idx[:2, :2], np.ones((3, 3), np.float32), base=np.ones((3, 4), np.float32))
    assert got.dtype == np.float32 and got.tolist() == [[3, 1, 1, 1], [1, 1, 1, 3], [1, 1, 1, 1]]
    got = impl.index_add((4, 2), 0, np.array([1, 1, 3]), np.ones((3, 2)))
    assert got.tolist() == [[0, 0], [2, 2], [0, 0], [1, 1]]
    assert impl.index_select(x, 0, np.array([2, 2])).tolist() == [x[2].tolist()] * 2


@pytest.mark.parametrize("impl", [C, N], ids=["cython", "numpy"])
def test_zero_dim_and_empty(impl):
    s = np.array(2.5)
    assert impl.gather_dim(s, 0, np.array(0)).shape == ()
    assert impl.gather_dim(s, -1, np.array([0, 0])).tolist() == [2.5, 2.5]
    assert impl.scatter_add_dim((), 0, np.array([0, 0]), np.array([1.0, 2.0]), base=s).tolist() == 5.5
    assert impl.index_select(s, 0, np.array(0)).shape == ()
    assert impl.index_add((), 0, np.array([0, 0]), np.array([1.0, 2.0]), base=s).tolist() == 5.5
    e = np.ones((2, 0, 3), np.float32)
    assert impl.gather_dim(e, 1, np.zeros((2, 0, 3), np.int64)).shape == (2, 0, 3)
    assert impl.gather_dim(np.ones((2, 3)), 0, np.zeros((0, 3), np.int64)).shape == (0, 3)
    assert impl.scatter_add_dim((2, 0, 3), 2, np.zeros((2, 0, 3), np.int64), e).shape == (2, 0, 3)
    assert impl.index_select(e, 1, np.zeros(0, np.int64)).shape == (2, 0, 3)
    assert impl.index_add((2, 0, 3), 0, np.array([1]), np.ones((1, 0, 3), np.float32)).shape == (2, 0, 3)


def test_big_index_views_and_corners():
    """A transposed input and index and an index smaller than the input outside dim (the corner
    is copied out and, for scatter, written back)."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((7, 6, 5)).T           # (5, 6, 7), Fortran order
    idx = rng.integers(0, 6, (4, 9, 3))
    for impl in (C, N):
        got = impl.gather_dim(x, 1, idx)
        np.testing.assert_array_equal(got, np.take_along_axis(x[:4, :, :3], idx, 1))
        got = impl.scatter_add_dim(x.shape, 1, idx.T.copy().T, np.ones((4, 9, 5)), base=x)
        want = x.copy()
        np.add.at(want, (np.arange(4)[:, None, None], idx, np.arange(3)), 1.0)
        np.testing.assert_array_equal(got, want)


X = np.ones((2, 3))
I2 = np.zeros((2, 3), np.int64)


@pytest.mark.parametrize("call, err, msg", [
    (lambda K: K.gather_dim(X, 1, np.array([[0, 3, 0], [0, 0, 0]])), RuntimeError,
     "index 3 is out of bounds for dimension 1 with size 3"),
    (lambda K: K.gather_dim(X, -2, np.array([[0, 1, -1]])), RuntimeError,
     "index -1 is out of bounds for dimension 0 with size 2"),
    (lambda K: K.gather_dim(X, 1, np.array([[0, 2**64 - 1]], np.uint64)), RuntimeError,
     "index 18446744073709551615 is out of bounds"),
    (lambda K: K.gather_dim(np.ones((2, 0)), 1, np.zeros((2, 1), np.int64)), RuntimeError,
     "index 0 is out of bounds for dimension 1 with size 0"),
    (lambda K: K.gather_dim(X, 1, np.zeros((2, 3))), TypeError, "must be integers"),
    (lambda K: K.gather_dim(X, 1, np.zeros(3, np.int64)), ValueError, "same number of dims"),
    (lambda K: K.gather_dim(X, 1, np.zeros((3, 1), np.int64)), ValueError, "no larger than input"),
    (lambda K: K.gather_dim(X, 2, I2), IndexError, "Dimension out of range"),
    (lambda K: K.gather_dim(X.astype(np.float16), 1, I2), TypeError, "float32 or float64"),
    (lambda K: K.gather_dim([1.0, 2.0], 0, np.zeros(1, np.int64)), TypeError, "numpy.ndarray"),
    (lambda K: K.scatter_add_dim((2, 3), 0, I2 + 2, X), RuntimeError,
     "index 2 is out of bounds for dimension 0 with size 2"),
    (lambda K: K.scatter_add_dim((2, 3), 0, I2, np.ones((2, 2))), ValueError, "no larger than src"),
    (lambda K: K.scatter_add_dim((2, 3), 0, I2, np.ones((2, 3, 1))), ValueError, "same number of dims"),
    (lambda K: K.scatter_add_dim((2, 3), 0, I2, X, base=np.ones((3, 2))), ValueError, "base has shape"),
    (lambda K: K.scatter_add_dim((2, 3), 0, I2, X, base=np.ones((2, 3), np.float32)), TypeError, "one dtype"),
    (lambda K: K.scatter_add_dim((2, -3), 0, I2, X), ValueError, "non-negative"),
    (lambda K: K.scatter_add_dim("ab", 0, I2, X), TypeError, "sequence of ints"),
    (lambda K: K.index_select(X, 1, np.array([0, 5])), RuntimeError, "INDICES element is out of DATA bounds, id=5 axis_dim=3"),
    (lambda K: K.index_select(X, 0, np.array([-1])), RuntimeError, "id=-1 axis_dim=2"),
    (lambda K: K.index_select(X, 0, I2), ValueError, "0-d or 1-D"),
    (lambda K: K.index_select(X, 0, np.array([0.0])), TypeError, "must be integers"),
    (lambda K: K.index_add((2, 3), 1, np.array([3]), np.ones((2, 1))), RuntimeError, "id=3 axis_dim=3"),
    (lambda K: K.index_add((2, 3), 1, np.array([0, 1]), np.ones((2, 3))), ValueError, r"expected \(2, 2\)"),
    (lambda K: K.index_add((2, 3), 1, np.array([0]), np.ones((2, 1)), base=np.ones(6)), ValueError, "base has shape"),
])
@pytest.mark.parametrize("impl", ["cython", "numpy"])
def test_bad_input_is_rejected_before_the_loop(call, err, msg, impl):
    with pytest.raises(err, match=msg):
        call(C if impl == "cython" else N)


def test_the_kernels_are_registered():
    assert kernels.current() in ("cython", "numpy")
    for name in ("gather_dim", "scatter_add_dim", "index_select", "index_add"):
        assert getattr(kernels, name).__wrapped__ in (getattr(C, name), getattr(N, name))
    # float16 through the float32 fallback, rounded back once
    h = np.arange(6, dtype=np.float16).reshape(2, 3)
    got = kernels.gather_dim(h, 1, np.array([[2, 0], [1, 1]]))
    assert got.dtype == np.float16 and got.tolist() == [[2, 0], [4, 4]]
