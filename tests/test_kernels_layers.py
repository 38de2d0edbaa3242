"""The kernels of issue 16 (scans, normalisation, padding) against their numpy twins, in
tests/test_kernels.py's style: random shapes, float32/float64, non-contiguous and
negative-stride views, zero-size and 0-d arrays; and both reject bad input with the same
clear error.  The hostile-input fuzzing is tests/test_refengine_fuzz_layers.py."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from ops_helpers import FAST
from test_kernels import tol, views

from refengine import kernels

C = {fam: kernels.implementation(fam, "cython") for fam in kernels.FAMILIES}
N = {fam: kernels.implementation(fam, "numpy") for fam in kernels.FAMILIES}


@given(x=views(), data=st.data(), reverse=st.booleans())
@FAST
def test_scans(x, data, reverse):
    """Same sequential order, both in double: bit for bit."""
    nd = max(x.ndim, 1)
    dim = data.draw(st.integers(-nd, nd - 1))
    got = C["scan"].cumsum(x, dim, reverse)
    assert got.dtype == x.dtype and got.shape == x.shape and got.flags.c_contiguous
    np.testing.assert_array_equal(got, N["scan"].cumsum(x, dim, reverse))
    np.testing.assert_array_equal(C["scan"].cumprod(x, dim), N["scan"].cumprod(x, dim))


def test_scans_accumulate_in_double_like_torch():
    """float32 running sums are rounded once per element, not accumulated in float32 (numpy's
    own float32 cumsum drifts by ~0.2 over 1e5 terms here): torch's values, bit for bit."""
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(0).uniform(0, 1, (2, 100_000)).astype(np.float32)
    for impl in (C, N):
        np.testing.assert_array_equal(impl["scan"].cumsum(x, 1), torch.cumsum(torch.from_numpy(x), 1).numpy())
        np.testing.assert_array_equal(impl["scan"].cumsum(x.T, 0), torch.cumsum(torch.from_numpy(x.T), 0).numpy())
    p = np.random.default_rng(1).uniform(0.99, 1.01, (3, 5000)).astype(np.float32)
    np.testing.assert_array_equal(C["scan"].cumprod(p, -1), torch.cumprod(torch.from_numpy(p), -1).numpy())


@st.composite
def pad_case(draw):
    """An input of 1-5 dims, 1-3 of them padded, and pads each mode accepts (reflect: < the size)."""
    mode = draw(st.sampled_from(["reflect", "replicate"]))
    shape = draw(hnp.array_shapes(min_dims=1, max_dims=5, min_side=0, max_side=4))
    k = draw(st.integers(1, min(3, len(shape))))
    widths = []
    for n in shape[-k:]:
        top = 0 if n == 0 else (n - 1 if mode == "reflect" else 5)
        widths.append((draw(st.integers(0, top)), draw(st.integers(0, top))))
    return draw(views(shape)), tuple(widths), mode


@given(case=pad_case(), seed=st.integers(0, 2**32 - 1))
@FAST
def test_pad(case, seed):
    """A gather (bit for bit, and numpy's own np.pad) and its scatter-add adjoint."""
    x, widths, mode = case
    y = C["pad"].pad_forward(x, widths, mode)
    full = [(0, 0)] * (x.ndim - len(widths)) + list(widths)
    np.testing.assert_array_equal(y, np.pad(x, full, mode="reflect" if mode == "reflect" else "edge"))
    np.testing.assert_array_equal(y, N["pad"].pad_forward(x, widths, mode))
    g = np.random.default_rng(seed).standard_normal(y.shape).astype(x.dtype)
    got = C["pad"].pad_backward(g, x.shape, widths, mode)
    assert got.dtype == x.dtype and got.shape == x.shape
    np.testing.assert_allclose(got, N["pad"].pad_backward(g, x.shape, widths, mode), **tol(x.dtype))


@pytest.mark.parametrize("call, err, msg", [
    (lambda K: K["scan"].cumsum(np.arange(3), 0), TypeError, "float32 or float64"),
    (lambda K: K["scan"].cumsum([1.0, 2.0], 0), TypeError, "numpy.ndarray"),
    (lambda K: K["scan"].cumprod(np.ones((2, 3)), 2), IndexError, "Dimension out of range"),
    (lambda K: K["scan"].cumsum(np.ones(3), -2), IndexError, "Dimension out of range"),
    (lambda K: K["norm"].norm_forward(np.ones((2, 3)), 1e-5), ValueError, "must be 3-D"),
    (lambda K: K["norm"].norm_forward(np.ones((2, 3, 1), np.float16), 1e-5), TypeError, "float32 or float64"),
    (lambda K: K["norm"].norm_backward(np.ones((2, 3, 1)), np.ones((2, 3, 2)), np.ones(3), np.ones(3)),
     ValueError, "expected equal shapes"),
    (lambda K: K["norm"].norm_backward(np.ones((2, 3, 1)), np.ones((2, 3, 1)), np.ones(2), np.ones(3)),
     ValueError, "mean must be float64 of shape"),
    (lambda K: K["norm"].norm_backward(np.ones((2, 3, 1)), np.ones((2, 3, 1)), np.ones(3), np.ones(3, np.float32)),
     ValueError, "rstd must be float64"),
    (lambda K: K["pad"].pad_forward(np.ones((2, 3)), ((3, 0),), "reflect"), ValueError, "larger than each pad"),
    (lambda K: K["pad"].pad_forward(np.ones((2, 0)), ((1, 0),), "replicate"), ValueError, "non-empty dim"),
    (lambda K: K["pad"].pad_forward(np.ones((2, 3)), ((-1, 0),), "replicate"), ValueError, "non-negative pads"),
    (lambda K: K["pad"].pad_forward(np.ones(3), ((1, 1), (1, 1)), "replicate"), ValueError, "last 2 dims"),
    (lambda K: K["pad"].pad_forward(np.ones(3), ((1, 1),), "circular"), ValueError, "mode must be"),
    (lambda K: K["pad"].pad_forward(np.ones(3), ((2**31, 1),), "replicate"), ValueError, r"below 2\*\*31"),
    (lambda K: K["pad"].pad_backward(np.ones(4), (3,), ((1, 1),), "replicate"), ValueError, "expected equal shapes"),
    (lambda K: K["pad"].pad_backward(np.ones(5), (3,), "ab", "replicate"), TypeError, "pairs of ints"),
])
@pytest.mark.parametrize("impl", ["cython", "numpy"])
def test_bad_input_is_rejected_before_the_loop(call, err, msg, impl):
    with pytest.raises(err, match=msg):
        call(C if impl == "cython" else N)


@given(data=st.data(), eps=st.sampled_from([1e-5, 0.1, 0.0]))
@FAST
def test_norm(data, eps):
    shape = data.draw(hnp.array_shapes(min_dims=3, max_dims=3, min_side=0, max_side=5))
    x = data.draw(views(shape))
    g = data.draw(views(shape, dtype=x.dtype))
    got, want = C["norm"].norm_forward(x, eps), N["norm"].norm_forward(x, eps)
    assert got[0].dtype == x.dtype and got[0].shape == x.shape and got[1].dtype == got[2].dtype == np.float64
    for a, b in zip(got, want):
        np.testing.assert_allclose(a, b, **tol(x.dtype))
    _, mean, rstd = got
    gx = C["norm"].norm_backward(g, x, mean, rstd)
    assert gx.dtype == x.dtype and gx.shape == x.shape
    # gx = rstd (g - mean(g) - xhat mean(g xhat)) cancels terms of size rstd |g|; FMA contraction
    # in the kernel's loop rounds differently from numpy's separate multiply and subtract
    scale = (1 + np.nanmax(rstd, initial=0)) * (1 + np.max(np.abs(g), initial=0))
    t = tol(x.dtype)
    np.testing.assert_allclose(gx, N["norm"].norm_backward(g, x, mean, rstd), rtol=t["rtol"], atol=t["atol"] * scale)
