"""Each Cython kernel against its numpy twin: random shapes, float32/float64, non-contiguous
and negative-stride views, broadcasting, zero-size and 0-d arrays; and both reject bad input
with the same clear error (never a crash inside a loop)."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from ops_helpers import FAST, pool_windows, seeds

from refengine import kernels

C = {fam: kernels.implementation(fam, "cython") for fam in kernels.FAMILIES}
N = {fam: kernels.implementation(fam, "numpy") for fam in kernels.FAMILIES}
dtypes = st.sampled_from([np.float32, np.float64])
any_shape = hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=5)


def tol(dtype):
    return dict(rtol=2e-6, atol=2e-6) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-12)


@st.composite
def views(draw, shape=None, low=-3.0, high=3.0, dtype=None):
    """An array of ``shape`` that is C-contiguous, a strided slice, a transpose or a reversed view."""
    shape = draw(any_shape) if shape is None else shape
    dtype = draw(dtypes) if dtype is None else dtype
    rng = np.random.default_rng(draw(seeds))
    layout = draw(st.sampled_from(["contiguous", "strided", "transposed", "reversed"]))
    if layout == "strided":
        base = rng.uniform(low, high, tuple(2 * s for s in shape)).astype(dtype)
        return base[tuple(slice(None, None, 2) for _ in shape)]
    if layout == "transposed":
        return np.array(rng.uniform(low, high, shape[::-1]), dtype=dtype, order="C").T
    a = rng.uniform(low, high, shape).astype(dtype)
    return a[tuple(slice(None, None, -1) for _ in shape)] if layout == "reversed" else a


@st.composite
def same_shape_pair(draw, low=-3.0, high=3.0):
    shape, dtype = draw(any_shape), draw(dtypes)
    return draw(views(shape, dtype=dtype)), draw(views(shape, low=low, high=high, dtype=dtype))


@pytest.mark.parametrize("name", ["exp_forward", "log_forward", "sigmoid_forward", "relu_forward",
                                  "softplus_forward", "silu_forward", "gelu_forward"])
@given(x=views())
@FAST
def test_unary_forward(name, x):
    got, want = getattr(C["elementwise"], name)(x), getattr(N["elementwise"], name)(x)
    for out in (got, want):
        assert out.dtype == x.dtype and out.shape == np.shape(x) and out.flags.c_contiguous
    np.testing.assert_allclose(got, want, **tol(x.dtype))


@given(x=views(), lo=st.one_of(st.none(), st.floats(-2, 0)), hi=st.one_of(st.none(), st.floats(0, 2)))
@FAST
def test_clamp(x, lo, hi):
    np.testing.assert_array_equal(C["elementwise"].clamp_forward(x, lo, hi), N["elementwise"].clamp_forward(x, lo, hi))
    g = np.ones_like(x)
    np.testing.assert_array_equal(C["elementwise"].clamp_backward(g, x, lo, hi),
                                  N["elementwise"].clamp_backward(g, x, lo, hi))


@pytest.mark.parametrize("name", ["sigmoid_backward", "tanh_backward", "relu_backward", "exp_backward",
                                  "log_backward", "softplus_backward", "silu_backward", "gelu_backward"])
@given(pair=same_shape_pair(low=0.1, high=3.0))
@FAST
def test_elementwise_backward(name, pair):
    g, s = pair
    got, want = getattr(C["elementwise"], name)(g, s), getattr(N["elementwise"], name)(g, s)
    for out in (got, want):
        assert out.dtype == g.dtype and out.shape == np.shape(g)
    np.testing.assert_allclose(got, want, **tol(g.dtype))


def test_elementwise_special_values_match():
    x = np.array([np.nan, -np.inf, np.inf, 0.0, -0.0, 80.0, -800.0])
    for name in ["exp_forward", "log_forward", "sigmoid_forward", "relu_forward"]:
        for dt in (np.float32, np.float64):
            np.testing.assert_array_equal(getattr(C["elementwise"], name)(x.astype(dt)),
                                          getattr(N["elementwise"], name)(x.astype(dt)))
    np.testing.assert_array_equal(C["elementwise"].clamp_forward(x, -1, 1), N["elementwise"].clamp_forward(x, -1, 1))


@st.composite
def unbroadcast_case(draw):
    """A gradient of a broadcast shape and the operand shape to sum it back to."""
    target = draw(hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=4))
    lead = draw(hnp.array_shapes(min_dims=0, max_dims=2, min_side=1, max_side=3))
    full = tuple(lead) + tuple(draw(st.integers(1, 4)) if s == 1 else s for s in target)
    shrunk = tuple(1 if draw(st.booleans()) else s for s in target)
    return draw(views(full)), shrunk


@given(case=unbroadcast_case())
@FAST
def test_sum_to_shape(case):
    g, shape = case
    got, want = C["reduce"].sum_to_shape(g, shape), N["reduce"].sum_to_shape(g, shape)
    assert got.shape == want.shape == shape and got.dtype == g.dtype
    np.testing.assert_allclose(got, want, rtol=1e-5 if g.dtype == np.float32 else 1e-12,
                               atol=1e-5 if g.dtype == np.float32 else 1e-12)


@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
@given(pair=same_shape_pair(low=-10, high=10), data=st.data())
@FAST
def test_softmax(name, pair, data):
    g, x = pair
    nd = max(x.ndim, 1)
    dim = data.draw(st.integers(-nd, nd - 1))
    y = getattr(C["softmax"], name + "_forward")(x, dim)
    np.testing.assert_allclose(y, getattr(N["softmax"], name + "_forward")(x, dim), **tol(x.dtype))
    got = getattr(C["softmax"], name + "_backward")(g, y, dim)
    np.testing.assert_allclose(got, getattr(N["softmax"], name + "_backward")(g, y, dim), **tol(x.dtype))


@given(x=views(low=-30, high=30), data=st.data())
@FAST
def test_logsumexp(x, data):
    nd = max(x.ndim, 1)
    dim = data.draw(st.integers(-nd, nd - 1))
    r = C["softmax"].logsumexp_forward(x, dim)
    np.testing.assert_allclose(r, N["softmax"].logsumexp_forward(x, dim), **tol(x.dtype))
    g = np.random.default_rng(0).standard_normal(r.shape).astype(x.dtype)
    got = C["softmax"].logsumexp_backward(g, x, r, dim)
    assert got.shape == x.shape and got.dtype == x.dtype
    np.testing.assert_allclose(got, N["softmax"].logsumexp_backward(g, x, r, dim), **tol(x.dtype))


def _ulps(got, ref):
    """Distance in units in the last place (float32 or float64), NaN positions asserted equal."""
    np.testing.assert_array_equal(np.isnan(got), np.isnan(ref))
    it = np.int32 if got.dtype == np.float32 else np.int64
    ok = ~np.isnan(ref)
    a, b = got[ok].view(it).astype(np.int64), ref[ok].view(it).astype(np.int64)
    # map the sign-magnitude bit patterns onto a monotonic integer line (so -0.0 == +0.0)
    lim = np.int64(np.iinfo(it).min)
    a, b = np.where(a < 0, lim - a, a), np.where(b < 0, lim - b, b)
    return np.abs(a - b)


_SPECIAL = [0.0, -0.0, np.inf, -np.inf, np.nan, 1e-45, -1e-45, 1.1754942e-38, 3.4028235e38, -3.4028235e38,
            88.72283, 88.72284, -87.33655, -103.97, -104.0, 1e-30, 0.5, 1.0, 2.0]


@pytest.mark.parametrize("name, ref, bound32, bound64", [
    ("exp_forward", np.exp, 1, 1), ("log_forward", np.log, 1, 1),
    ("sigmoid_forward", lambda v: 1 / (1 + np.exp(-v)), 2, 2)])
def test_transcendental_accuracy_in_ulp(name, ref, bound32, bound64):
    """The vectorised float32 exp/log (vmath.h) and libm's float64 ones, against the correctly
    rounded result (float32: computed in float64 then rounded; float64: in 80-bit long double),
    on 2 million random bit patterns (every exponent, subnormals, NaN, inf) plus the edges.
    Measured: exp and log <= 1 ulp, sigmoid <= 2 ulp (float32 and float64); numpy 2.4's own
    float32 exp and log are up to 2-4 ulp off on the same inputs, so kernel and twin are
    compared to a few ulp, the kernel to the truth to 1."""
    rng = np.random.default_rng(17)
    for dt, it, hi, bound, wide in ((np.float32, np.uint32, 2**32, bound32, np.float64),
                                    (np.float64, np.uint64, 2**64, bound64, np.longdouble)):
        x = np.concatenate([rng.integers(0, hi, 2_000_000, dtype=np.uint64 if dt == np.float64 else np.int64)
                            .astype(it).view(dt), np.array(_SPECIAL, dt),
                            rng.uniform(-110, 110, 200_000).astype(dt)])
        with np.errstate(all="ignore"):
            want = ref(x.astype(wide)).astype(dt)
            got = getattr(C["elementwise"], name)(x)
        # sigmoid's 1 / (1 + exp(-x)) (the twin's formula too) gives 0 once exp(-x) overflows,
        # below x = -88.7 (float32), where the true result is subnormal: an absolute bound there
        normal = ~(np.abs(want) < np.finfo(dt).tiny)
        d = _ulps(got[normal], want[normal])
        assert d.max() <= bound, f"{name} {dt.__name__}: {d.max()} ulp at x={x[normal][~np.isnan(want[normal])][d.argmax()]!r}"
        assert np.all(np.abs(got[~normal] - want[~normal]) <= np.finfo(dt).tiny)


def test_log_avx512_loop_gives_the_portable_bits():
    """float32 log runs an AVX-512 intrinsics loop where the CPU has one (vgetmantps/vgetexpps)
    and the cloned portable re_logf elsewhere: both compute the same m, k and polynomial, so the
    bits agree (NaN's sign aside; checked once on all 2^32 patterns, here on 4 million random
    ones, the edges and odd lengths for the masked tail)."""
    rng = np.random.default_rng(3)
    x = np.concatenate([rng.integers(0, 2**32, 4_000_000, dtype=np.int64).astype(np.uint32).view(np.float32),
                        np.array(_SPECIAL, np.float32), rng.uniform(0, 4, 100_003).astype(np.float32)])
    E = C["elementwise"]
    for n in (x.size, 1, 7, 16, 17, 33):
        got, want = E.log_forward(x[:n]), E._log_forward_portable(x[:n])
        same = (got.view(np.uint32) == want.view(np.uint32)) | (np.isnan(got) & np.isnan(want))
        assert same.all(), x[:n][~same][:5]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_activation_accuracy(dtype):
    """softplus/silu/gelu and their derivatives against a float64 (float32 input) or 80-bit
    (float64 input) reference.  The formulas are torch's and cancel (gelu's 1 + erf(x/sqrt 2)
    for x << 0; silu's 1 + x(1 - s) near x = -1.28), so the bound is on the rounding of the
    terms: |error| <= 3 eps (|x| + 1); measured <= 1.2 eps (float32: gelu 0.80, its derivative 0.94,
    on vmath.h's re_phif) and <= 1.2 eps (float64).
    NaN and inf land where the reference's do (gelu(inf) = inf; torch 2.13's float32 gelu
    gives NaN there)."""
    import math
    rng = np.random.default_rng(5)
    wide = np.float64 if dtype == np.float32 else np.longdouble
    x = np.concatenate([rng.standard_normal(100_000) * 5, rng.uniform(-100, 100, 50_000),
                        [0, -0.0, np.inf, -np.inf, np.nan, 20, 20.0001, 1e-40, -90]]).astype(dtype)
    X = x.astype(wide)
    erf = np.frompyfunc(math.erf, 1, 1)
    with np.errstate(all="ignore"):
        sig = 1 / (1 + np.exp(-X))
        cdf = 0.5 * (1 + erf(X.astype(np.float64) * math.sqrt(0.5)).astype(wide))
        refs = {"softplus_forward": np.where(X > 20, X, np.log1p(np.exp(X))), "silu_forward": X * sig,
                "gelu_forward": X * cdf, "softplus_backward": np.where(X > 20, 1, sig),
                "silu_backward": sig * (1 + X * (1 - sig)),
                "gelu_backward": cdf + X * np.exp(-0.5 * X * X) / math.sqrt(2 * math.pi)}
    E, one = C["elementwise"], np.ones_like(x)
    for name, ref in refs.items():
        got = getattr(E, name)(x) if name.endswith("forward") else getattr(E, name)(one, x)
        ref = ref.astype(dtype)
        np.testing.assert_array_equal(np.isnan(got), np.isnan(ref), err_msg=name)
        np.testing.assert_array_equal(np.isinf(got), np.isinf(ref), err_msg=name)
        fin = np.isfinite(ref)
        err = np.abs(got[fin].astype(wide) - ref[fin].astype(wide)) / (np.abs(X[fin]) + 1)
        assert err.max() <= 3 * np.finfo(dtype).eps, f"{name}: {err.max() / np.finfo(dtype).eps:.2f} eps"


@given(src=views(), size=st.integers(1, 20), seed=seeds)
@FAST
def test_scatter_add(src, size, seed):
    idx = np.random.default_rng(seed).integers(0, size, src.shape)  # many repeats
    np.testing.assert_allclose(C["scatter"].scatter_add(size, idx, src), N["scatter"].scatter_add(size, idx, src),
                               **tol(src.dtype))


@st.composite
def window_case(draw):
    shape, geometry = draw(pool_windows(min_side=1))
    return draw(views(shape)), geometry


@given(case=window_case())
@FAST
def test_im2col_col2im(case):
    x, geo = case
    cols = C["conv"].im2col(x, *geo)
    np.testing.assert_array_equal(cols, N["conv"].im2col(x, *geo))
    np.testing.assert_allclose(C["conv"].col2im(cols, x.shape, *geo), N["conv"].col2im(cols, x.shape, *geo),
                               **tol(x.dtype))


@given(case=window_case())
@FAST
def test_im2col_col2im_rows_layout(case):
    """layout="rows" (im2row, conv2d's GEMM layout): the columns transposed with the taps in
    (i, j, c) order, equal to the twin bit for bit; col2im on rows is the twin's and im2row's
    adjoint (<rows, r> == <x, col2im(r)>)."""
    x, geo = case
    rows = C["conv"].im2col(x, *geo, layout="rows")
    np.testing.assert_array_equal(rows, N["conv"].im2col(x, *geo, layout="rows"))
    cols = N["conv"].im2col(x, *geo)
    n, c = x.shape[:2]
    kk = geo[0][0] * geo[0][1] if isinstance(geo[0], tuple) else geo[0] ** 2
    assert rows.shape == (n, cols.shape[2], cols.shape[1])
    np.testing.assert_array_equal(rows.reshape(n, cols.shape[2], kk, c).transpose(0, 3, 2, 1).reshape(cols.shape),
                                  cols)
    r = np.random.default_rng(0).uniform(-1, 1, rows.shape).astype(x.dtype)
    back = C["conv"].col2im(r, x.shape, *geo, layout="rows")
    np.testing.assert_allclose(back, N["conv"].col2im(r, x.shape, *geo, layout="rows"), **tol(x.dtype))
    np.testing.assert_allclose(np.vdot(rows.astype(np.float64), r), np.vdot(x.astype(np.float64), back),
                               rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(1, 1, 1, 1), (2, 3, 1, 9), (3, 4, 7, 1), (2, 5, 4, 6)])
def test_col2im_rows_1x1_is_a_transpose(dtype, shape):
    """The forward conv's (N, OH*OW, F) products go to NCHW through col2im's 1x1 rows case."""
    n, c, h, w = shape
    rows = np.random.default_rng(1).standard_normal((n, h * w, c)).astype(dtype)
    for impl in (C, N):
        out = impl["conv"].col2im(rows, shape, 1, layout="rows")
        np.testing.assert_array_equal(out, rows.transpose(0, 2, 1).reshape(shape))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(1, 1, 1, 1), (2, 3, 1, 9), (2, 5, 4, 6)])
def test_col2im_rows_bias_and_out(dtype, shape):
    """conv2d's forward adds its bias inside the 1x1 transpose (bias=), and its input gradient
    is written into gx's slice (out=): the same values as a separate add / a fresh array, on the
    kernel and the twin; bias on any other geometry and out of another shape/dtype are refused."""
    n, c, h, w = shape
    rng = np.random.default_rng(2)
    rows = rng.standard_normal((n, h * w, c)).astype(dtype)
    b = rng.standard_normal(c).astype(dtype)
    r3 = rng.standard_normal((n, h * w, 9 * c)).astype(dtype)
    for impl in (C, N):
        K = impl["conv"]
        np.testing.assert_array_equal(K.col2im(rows, shape, 1, layout="rows", bias=b),
                                      rows.transpose(0, 2, 1).reshape(shape) + b.reshape(1, c, 1, 1))
        out = np.full(shape, np.nan, dtype)
        assert K.col2im(r3, shape, 3, padding=1, layout="rows", out=out) is out
        np.testing.assert_array_equal(out, K.col2im(r3, shape, 3, padding=1, layout="rows"))
        with pytest.raises(ValueError, match="bias needs"):
            K.col2im(r3, shape, 3, padding=1, layout="rows", bias=b)
        with pytest.raises(ValueError, match="out must be"):
            K.col2im(rows, shape, 1, layout="rows", out=np.empty(shape, np.float16))
        with pytest.raises(ValueError, match="for layout='rows' only"):
            K.col2im(np.ones((1, 9, 1)), (1, 1, 3, 3), 1, out=np.empty((1, 1, 3, 3)))


@pytest.mark.parametrize("impl", ["cython", "numpy"])
def test_unknown_layout_is_rejected(impl):
    K = C if impl == "cython" else N
    with pytest.raises(ValueError, match="layout must be"):
        K["conv"].im2col(np.ones((1, 1, 3, 3)), 1, layout="hwc")
    with pytest.raises(ValueError, match="layout must be"):
        K["conv"].col2im(np.ones((1, 9, 1)), (1, 1, 3, 3), 1, layout="cols2")
    with pytest.raises(ValueError, match="expected"):
        K["conv"].col2im(np.ones((1, 1, 9)), (1, 1, 3, 3), 1, layout="rows")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n, c, h, w, f, k, stride, padding, dilation", [
    (2, 16, 9, 7, 5, 3, 1, 1, 1),
    (3, 5, 8, 8, 4, (2, 3), (2, 1), (1, 0), (1, 2)),
    (1, 4, 5, 5, 3, 1, 1, 0, 1),
    (2, 8, 6, 11, 7, 3, 2, 1, 1),
    (0, 6, 5, 5, 2, 3, 1, 1, 1),
    (5, 7, 3, 3, 3, (3, 1), 1, (2, 0), (2, 1)),
])
def test_conv2d_rows_path_matches_columns_path(dtype, n, c, h, w, f, k, stride, padding, dilation):
    """conv2d forward and backward (input, weight, bias) on the im2row layout against the
    im2col one, on both kernel backends, odd shapes, stride/padding/dilation."""
    import refengine as re
    import refengine.nn.conv as CV
    import refengine.nn.functional as F
    rng = np.random.default_rng(2)
    kh, kw = (k, k) if isinstance(k, int) else k
    x0, w0 = rng.standard_normal((n, c, h, w)).astype(dtype), rng.standard_normal((f, c, kh, kw)).astype(dtype)
    b0 = rng.standard_normal(f).astype(dtype)
    results = {}
    before, min_c = kernels.current(), CV._ROWS_MIN_CHANNELS
    try:
        for impl in ("cython", "numpy"):
            kernels.use(impl)
            for path, threshold in (("rows", 1), ("cols", 10**9)):
                CV._ROWS_MIN_CHANNELS = threshold
                x, wt, b = (re.tensor(a, requires_grad=True) for a in (x0, w0, b0))
                y = F.conv2d(x, wt, b, stride=stride, padding=padding, dilation=dilation)
                g = np.random.default_rng(3).standard_normal(y.shape).astype(dtype)
                y.backward(g)
                results[impl, path] = [y.data, x.grad.data, wt.grad.data, b.grad.data]
    finally:
        kernels.use(before)
        CV._ROWS_MIN_CHANNELS = min_c
    ref = results["cython", "cols"]
    for key, got in results.items():
        for a, e in zip(got, ref):
            assert a.dtype == dtype and a.shape == e.shape
            np.testing.assert_allclose(a, e, rtol=1e-4 if dtype == np.float32 else 1e-11,
                                       atol=1e-4 if dtype == np.float32 else 1e-11, err_msg=str(key))


@given(case=window_case())
@FAST
def test_max_pool2d(case):
    x, geo = case
    x = np.round(x)  # ties: both pick the first maximum of each window
    (o1, i1), (o2, i2) = C["conv"].max_pool2d(x, *geo), N["conv"].max_pool2d(x, *geo)
    np.testing.assert_array_equal(o1, o2)
    np.testing.assert_array_equal(i1, i2)


@pytest.mark.parametrize("call, err, msg", [
    (lambda K: K["elementwise"].sigmoid_forward(np.arange(3)), TypeError, "float32 or float64"),
    (lambda K: K["elementwise"].sigmoid_forward([1.0]), TypeError, "numpy.ndarray"),
    (lambda K: K["elementwise"].tanh_backward(np.ones(3), np.ones(4)), ValueError, "expected equal shapes"),
    (lambda K: K["elementwise"].tanh_backward(np.ones(3), np.ones(3, np.float32)), TypeError, "one dtype"),
    (lambda K: K["reduce"].sum_to_shape(np.ones((2, 3)), (4,)), ValueError, "does not broadcast"),
    (lambda K: K["softmax"].softmax_forward(np.ones((2, 3)), 2), IndexError, "Dimension out of range"),
    (lambda K: K["softmax"].logsumexp_backward(np.ones(3), np.ones((2, 3)), np.ones(3), 1), ValueError,
     "expected equal shapes"),
    (lambda K: K["elementwise"].exp_forward(np.arange(3)), TypeError, "float32 or float64"),
    (lambda K: K["scatter"].scatter_add(3, np.array([0, 3]), np.ones(2)), IndexError, "index 3 is out of bounds"),
    (lambda K: K["scatter"].scatter_add(3, np.array([-1, 0]), np.ones(2)), IndexError, "out of bounds"),
    (lambda K: K["scatter"].scatter_add(3, np.array([0]), np.ones(2)), ValueError, "expected equal"),
    (lambda K: K["conv"].im2col(np.ones((2, 3, 4)), 3), ValueError, "4-D"),
    (lambda K: K["conv"].im2col(np.ones((1, 1, 2, 2)), 3), RuntimeError, "too small"),
    (lambda K: K["conv"].im2col(np.ones((1, 1, 4, 4)), 0), ValueError, "must be positive"),
    (lambda K: K["conv"].col2im(np.ones((1, 9, 5)), (1, 1, 4, 4), 3), ValueError, "expected"),
])
@pytest.mark.parametrize("impl", ["cython", "numpy"])
def test_bad_input_is_rejected_before_the_loop(call, err, msg, impl):
    with pytest.raises(err, match=msg):
        call(C if impl == "cython" else N)


def test_backend_switch_rebinds_every_kernel():
    before = kernels.current()
    try:
        kernels.use("numpy")
        assert kernels.sigmoid_forward.__wrapped__ is N["elementwise"].sigmoid_forward  # under the float16 shim
        kernels.use("cython")
        assert kernels.im2col.__wrapped__ is C["conv"].im2col
        with pytest.raises(ValueError, match="unknown kernel backend"):
            kernels.use("fortran")
    finally:
        kernels.use(before)


def test_ops_give_the_same_results_on_both_backends():
    import refengine as re
    import refengine.nn.functional as F
    rng = np.random.default_rng(0)
    x0, w0 = rng.standard_normal((2, 3, 6, 6)), rng.standard_normal((4, 3, 3, 3))
    grads = {}
    before = kernels.current()
    try:
        for impl in ("numpy", "cython"):
            kernels.use(impl)
            x, w = re.tensor(x0, requires_grad=True), re.tensor(w0, requires_grad=True)
            h = F.max_pool2d(re.sigmoid(F.conv2d(x, w, padding=1)), 2).reshape(2, -1)
            loss = F.cross_entropy(h, np.array([1, 5])) + re.relu(h).sum() + h[:, np.array([0, 0])].sum()
            loss.backward()
            grads[impl] = (x.grad.data, w.grad.data)
    finally:
        kernels.use(before)
    for a, b in zip(grads["numpy"], grads["cython"]):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


def _blas_threads_in_a_fresh_process(env_extra):
    """Import refengine in a clean process (no *_NUM_THREADS unless given) and report the
    BLAS pool sizes threadpoolctl reads back from the libraries themselves."""
    import json
    import os
    import subprocess
    import sys
    env = {k: v for k, v in os.environ.items()
           if not k.endswith("_NUM_THREADS") and k != "REFENGINE_BLAS_THREADS"}
    env.update(env_extra)
    code = ("import refengine, json; from threadpoolctl import threadpool_info; "
            "print(json.dumps([i['num_threads'] for i in threadpool_info() if i['user_api'] == 'blas']))")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def test_blas_thread_limit_is_applied_at_import():
    """refengine caps numpy's BLAS pool at 1 thread with no variables set (an oversubscribed
    pool made conv2d 5x slower on the 2-core box); REFENGINE_BLAS_THREADS picks another size,
    and a user's own OPENBLAS/OMP_NUM_THREADS is left alone."""
    pytest.importorskip("threadpoolctl")
    assert set(_blas_threads_in_a_fresh_process({})) == {1}
    assert set(_blas_threads_in_a_fresh_process({"REFENGINE_BLAS_THREADS": "3"})) == {3}
    assert set(_blas_threads_in_a_fresh_process({"OPENBLAS_NUM_THREADS": "2"})) == {2}


_CONV_PROBE = """
import json
import numpy as np
from threadpoolctl import threadpool_info, threadpool_limits
threadpool_limits(2, user_api="blas")  # a pool bigger than 1, as OpenBLAS's default is on a multi-core box
import refengine as re
import refengine.kernels as K
import refengine.nn.functional as F
seen = []
def probe(fn):
    def wrapped(*a, **k):  # called between refengine's conv GEMMs (numpy's BLAS)
        seen.append(sorted(i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"))
        return fn(*a, **k)
    return wrapped
K.im2col, K.col2im = probe(K.im2col), probe(K.col2im)
rng = np.random.default_rng(0)
x = re.tensor(rng.standard_normal((2, 3, 8, 8)).astype(np.float32), requires_grad=True)
w = re.tensor(rng.standard_normal((4, 3, 3, 3)).astype(np.float32), requires_grad=True)
F.conv2d(x, w, padding=1).sum().backward()
print(json.dumps(seen))
"""


def test_blas_limit_holds_inside_refengines_conv_call():
    """With no thread variables set, numpy's BLAS runs on 1 thread while refengine's conv2d
    forward and backward run -- read from the library (threadpoolctl) inside the conv call,
    after the process had set the pool to 2 before importing refengine."""
    pytest.importorskip("threadpoolctl")
    import json
    import os
    import subprocess
    import sys
    env = {k: v for k, v in os.environ.items()
           if not k.endswith("_NUM_THREADS") and k != "REFENGINE_BLAS_THREADS"}
    out = subprocess.run([sys.executable, "-c", _CONV_PROBE], env=env, capture_output=True, text=True, check=True)
    seen = json.loads(out.stdout)
    assert len(seen) >= 2, "conv2d did not reach the im2col/col2im kernels"
    assert all(s and set(s) == {1} for s in seen), seen


def test_blas_set_threads_changes_the_pool_and_rejects_nonsense():
    pytest.importorskip("threadpoolctl")
    from refengine.kernels import blas
    before = blas.applied or 1
    try:
        blas.set_threads(2)
        assert set(blas.threads().values()) == {2}
    finally:
        blas.set_threads(before)
    assert set(blas.threads().values()) == {before}
    with pytest.raises(ValueError, match=">= 1"):
        blas.set_threads(0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("ignore_index", [-100, 2])
@pytest.mark.parametrize("n, c", [(7, 5), (1, 1), (0, 3), (64, 10)])
def test_fused_cross_entropy_matches_torch(dtype, reduction, ignore_index, n, c):
    """cross_entropy's one-node path (class indices, no weights): value, gradient and the
    gradient of the gradient (create_graph) against torch, ignored targets included."""
    torch = pytest.importorskip("torch")
    import refengine as re
    import refengine.nn.functional as F
    rng = np.random.default_rng(n * 31 + c)
    x0, t = rng.standard_normal((n, c)).astype(dtype), rng.integers(0, c, n)
    x, tx = re.tensor(x0, requires_grad=True), torch.tensor(x0, requires_grad=True)
    loss = F.cross_entropy(x, t, reduction=reduction, ignore_index=ignore_index)
    tloss = torch.nn.functional.cross_entropy(tx, torch.tensor(t), reduction=reduction, ignore_index=ignore_index)
    assert loss.data.dtype == dtype
    np.testing.assert_allclose(loss.data, tloss.detach().numpy(), rtol=1e-5, atol=1e-6)
    g0 = rng.standard_normal(loss.shape).astype(dtype)
    (gx,) = re.autograd.grad(loss, x, re.tensor(g0), create_graph=True)
    (tgx,) = torch.autograd.grad(tloss, tx, torch.tensor(g0), create_graph=True)
    np.testing.assert_allclose(gx.data, tgx.detach().numpy(), rtol=1e-5, atol=1e-6)
    if n:
        (gx * gx).sum().backward()
        (tgx * tgx).sum().backward()
        np.testing.assert_allclose(x.grad.data, tx.grad.numpy(), rtol=1e-4, atol=1e-6)
