"""The kernels of issue 16 (scans, normalisation, padding) against their numpy twins, in
tests/test_kernels.py's style: random shapes, float32/float64, non-contiguous and
negative-stride views, zero-size and 0-d arrays; and both reject bad input with the same
clear error.  The hostile-input fuzzing is tests/test_refengine_fuzz_layers.py."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from ops_helpers import FAST
from test_kernels import views

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


@pytest.mark.parametrize("call, err, msg", [
    (lambda K: K["scan"].cumsum(np.arange(3), 0), TypeError, "float32 or float64"),
    (lambda K: K["scan"].cumsum([1.0, 2.0], 0), TypeError, "numpy.ndarray"),
    (lambda K: K["scan"].cumprod(np.ones((2, 3)), 2), IndexError, "Dimension out of range"),
    (lambda K: K["scan"].cumsum(np.ones(3), -2), IndexError, "Dimension out of range"),
])
@pytest.mark.parametrize("impl", ["cython", "numpy"])
def test_bad_input_is_rejected_before_the_loop(call, err, msg, impl):
    with pytest.raises(err, match=msg):
        call(C if impl == "cython" else N)
