"""nn ops: softmax, log_softmax, cross_entropy, nll_loss, mse_loss, conv2d, max_pool2d,
avg_pool2d — values vs numpy references, gradients and second derivatives vs torch."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import refengine as re
import refengine.nn.functional as F
from ops_helpers import FAST, arrays, check, nonempty_shapes, seeds

REDUCTIONS = st.sampled_from(["none", "mean", "sum"])


def _np_log_softmax(x, d):
    m = x.max(axis=d, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(axis=d, keepdims=True))


@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
@given(shape=hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=5), seed=seeds, data=st.data())
@FAST
def test_softmax(name, shape, seed, data):
    (a,) = arrays(seed, shape, low=-5, high=5)
    nd = max(len(shape), 1)
    d = data.draw(st.integers(-nd, nd - 1))
    ref = (lambda x: np.exp(_np_log_softmax(x, d))) if name == "softmax" else (lambda x: _np_log_softmax(x, d))
    np_fn = ref if len(shape) and a.size else None
    check(lambda x: getattr(F, name)(x, d), lambda x: getattr(TF, name)(x, d), [a], np_fn=np_fn, seed=seed)
    np.testing.assert_allclose(getattr(re, name)(re.tensor(a), d).data, getattr(F, name)(re.tensor(a), d).data)


def test_softmax_is_stable_for_large_logits():
    x = re.tensor([1000.0, 1000.0, -1000.0])
    np.testing.assert_allclose(F.softmax(x, 0).data, [0.5, 0.5, 0.0])
    np.testing.assert_allclose(F.log_softmax(x, 0).data, [-np.log(2), -np.log(2), -2000 - np.log(2)])


@st.composite
def loss_case(draw):
    """Input (C,), (N, C) or (N, C, d), integer targets, optional weight and ignored entries."""
    kind = draw(st.sampled_from(["1d", "2d", "3d"]))
    n, c, d = draw(st.integers(1, 4)), draw(st.integers(1, 4)), draw(st.integers(1, 3))
    shape = {"1d": (c,), "2d": (n, c), "3d": (n, c, d)}[kind]
    tshape = {"1d": (), "2d": (n,), "3d": (n, d)}[kind]
    rng = np.random.default_rng(draw(seeds))
    target = rng.integers(0, c, tshape)
    if draw(st.booleans()) and target.ndim:
        target.reshape(-1)[0] = -100  # ignore_index
    weight = rng.uniform(0.5, 2, c) if draw(st.booleans()) else None
    return shape, target, weight


@given(case=loss_case(), seed=seeds, reduction=REDUCTIONS)
@FAST
def test_cross_entropy_and_nll(case, seed, reduction):
    shape, target, weight = case
    (a,) = arrays(seed, shape)
    tw = None if weight is None else torch.tensor(weight)
    t = torch.tensor(target)
    check(lambda x: F.cross_entropy(x, target, weight=weight, reduction=reduction),
          lambda x: TF.cross_entropy(x, t, weight=tw, reduction=reduction), [a], seed=seed)
    check(lambda x: F.nll_loss(x, target, weight=weight, reduction=reduction),
          lambda x: TF.nll_loss(x, t, weight=tw, reduction=reduction), [a],
          np_fn=lambda x: _np_nll(x, target, weight, reduction), seed=seed)


def _np_nll(x, target, weight, reduction, ignore_index=-100):
    """-x[n, t_n] * w[t_n] over the non-ignored entries; mean divides by the summed weights."""
    x2, t2 = (x[None], target[None]) if x.ndim == 1 else (x, target)
    valid = t2 != ignore_index
    tc = np.where(valid, t2, 0)
    w = (np.ones(x2.shape[1]) if weight is None else weight)[tc] * valid
    losses = -np.take_along_axis(x2, tc[:, None], 1)[:, 0] * w
    if reduction == "none":
        return losses.reshape(target.shape)
    with np.errstate(invalid="ignore"):
        return losses.sum() if reduction == "sum" else losses.sum() / w.sum()


def test_cross_entropy_matches_numpy_reference():
    (a,) = arrays(3, (4, 5))
    target = np.array([0, 4, 2, 2])
    expected = -_np_log_softmax(a, 1)[np.arange(4), target].mean()
    np.testing.assert_allclose(F.cross_entropy(re.tensor(a), target).item(), expected)


@given(seed=seeds, reduction=REDUCTIONS, n=st.integers(1, 3), c=st.integers(1, 4))
@FAST
def test_cross_entropy_probability_targets(seed, reduction, n, c):
    a, p = arrays(seed, (n, c), (n, c), low=0.0, high=1.0)
    p = p / p.sum(1, keepdims=True)
    check(lambda x: F.cross_entropy(x, re.tensor(p), reduction=reduction),
          lambda x: TF.cross_entropy(x, torch.tensor(p), reduction=reduction), [a], seed=seed)


@given(shape=nonempty_shapes, seed=seeds, reduction=REDUCTIONS)
@FAST
def test_mse_loss(shape, seed, reduction):
    a, b = arrays(seed, shape, shape)
    ref = {"none": lambda x, y: (x - y) ** 2, "mean": lambda x, y: ((x - y) ** 2).mean(),
           "sum": lambda x, y: ((x - y) ** 2).sum()}[reduction]
    check(lambda x, y: F.mse_loss(x, y, reduction=reduction), lambda x, y: TF.mse_loss(x, y, reduction=reduction),
          [a, b], np_fn=ref, seed=seed)


def _np_conv2d(x, w, b, stride, padding, dilation):
    from numpy.lib.stride_tricks import sliding_window_view
    (sh, sw), (ph, pw), (dh, dw) = stride, padding, dilation
    F_, C, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    win = sliding_window_view(xp, (dh * (kh - 1) + 1, dw * (kw - 1) + 1), axis=(2, 3))[..., ::dh, ::dw]
    win = win[:, :, ::sh, ::sw]
    out = np.einsum("nchwij,fcij->nfhw", win, w)
    return out if b is None else out + b[None, :, None, None]


@st.composite
def conv_case(draw):
    n, c, f = draw(st.integers(1, 2)), draw(st.integers(1, 3)), draw(st.integers(1, 3))
    kh, kw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    stride = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    padding = (draw(st.integers(0, 2)), draw(st.integers(0, 2)))
    dilation = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    h = draw(st.integers(max(dilation[0] * (kh - 1) + 1 - 2 * padding[0], 1), 6))
    w = draw(st.integers(max(dilation[1] * (kw - 1) + 1 - 2 * padding[1], 1), 6))
    return (n, c, h, w), (f, c, kh, kw), stride, padding, dilation, draw(st.booleans())


@given(case=conv_case(), seed=seeds)
@FAST
def test_conv2d(case, seed):
    xs, ws, stride, padding, dilation, bias = case
    x, w, b = arrays(seed, xs, ws, (ws[0],))
    kw = dict(stride=stride, padding=padding, dilation=dilation)
    if bias:
        check(lambda x, w, b: F.conv2d(x, w, b, **kw), lambda x, w, b: TF.conv2d(x, w, b, **kw), [x, w, b],
              np_fn=lambda x, w, b: _np_conv2d(x, w, b, stride, padding, dilation), seed=seed)
    else:
        check(lambda x, w: F.conv2d(x, w, **kw), lambda x, w: TF.conv2d(x, w, **kw), [x, w],
              np_fn=lambda x, w: _np_conv2d(x, w, None, stride, padding, dilation), seed=seed)


def _np_pool(x, k, s, p, reduce, include_pad=True):
    """Window max/mean by sliding_window_view over the padded input (-inf / 0 padding)."""
    from numpy.lib.stride_tricks import sliding_window_view
    s = k if s is None else s
    fill = -np.inf if reduce == "max" else 0.0
    xp = np.pad(x, ((0, 0), (0, 0), (p[0], p[0]), (p[1], p[1])), constant_values=fill)
    win = sliding_window_view(xp, k, axis=(2, 3))[:, :, ::s[0], ::s[1]]
    if reduce == "max":
        return win.max(axis=(-2, -1))
    if include_pad:
        return win.mean(axis=(-2, -1))
    ones = np.pad(np.ones(x.shape[2:]), ((p[0], p[0]), (p[1], p[1])))
    count = sliding_window_view(ones, k)[::s[0], ::s[1]].sum(axis=(-2, -1))
    return win.sum(axis=(-2, -1)) / count


@st.composite
def pool_case(draw):
    k = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    s = draw(st.one_of(st.none(), st.tuples(st.integers(1, 3), st.integers(1, 3))))
    p = (draw(st.integers(0, k[0] // 2)), draw(st.integers(0, k[1] // 2)))
    h, w = draw(st.integers(k[0], 6)), draw(st.integers(k[1], 6))
    return (draw(st.integers(1, 2)), draw(st.integers(1, 3)), h, w), k, s, p


@given(case=pool_case(), seed=seeds)
@FAST
def test_max_pool2d(case, seed):
    shape, k, s, p = case
    (a,) = arrays(seed, shape)
    a = np.round(a * 2) / 2  # ties: the gradient goes to the first maximum in each window, as torch
    check(lambda x: F.max_pool2d(x, k, s, p), lambda x: TF.max_pool2d(x, k, s, p), [a],
          np_fn=lambda x: _np_pool(x, k, s, p, "max"), seed=seed)


@given(case=pool_case(), seed=seeds, include=st.booleans())
@FAST
def test_avg_pool2d(case, seed, include):
    shape, k, s, p = case
    (a,) = arrays(seed, shape)
    check(lambda x: F.avg_pool2d(x, k, s, p, count_include_pad=include),
          lambda x: TF.avg_pool2d(x, k, s, p, count_include_pad=include), [a],
          np_fn=lambda x: _np_pool(x, k, s, p, "mean", include), seed=seed)


@pytest.mark.parametrize("fn", [
    lambda f, x, w: f.softmax(x * x, 1), lambda f, x, w: f.log_softmax(x * x, 0),
    lambda f, x, w: f.cross_entropy(x.reshape(4, 18) * x.reshape(4, 18), torch_or_np(f, [0, 3, 17, 2])),
    lambda f, x, w: f.mse_loss(x * x, x), lambda f, x, w: f.conv2d(x * x, w, padding=1, stride=(1, 2)),
    lambda f, x, w: f.max_pool2d(x * x, 2), lambda f, x, w: f.avg_pool2d(x * x, 2, 1, 1),
    lambda f, x, w: f.nll_loss(x.reshape(4, 18) * x.reshape(4, 18), torch_or_np(f, [0, 3, 17, 2]), reduction="sum"),
], ids=["softmax", "log_softmax", "cross_entropy", "mse", "conv2d", "max_pool2d", "avg_pool2d", "nll"])
def test_second_derivatives(fn):
    x, w = arrays(13, (2, 2, 3, 6), (3, 2, 3, 3))
    check(lambda x, w: fn(F, x, w), lambda x, w: fn(TF, x, w), [x, w], second=True)


def torch_or_np(f, values):
    return torch.tensor(values) if f is TF else np.array(values)


def test_node_names_match_torch():
    x = re.tensor(np.ones((1, 2, 4, 4)), requires_grad=True)
    w = re.tensor(np.ones((3, 2, 3, 3)), requires_grad=True)
    tx, tw = torch.ones((1, 2, 4, 4), requires_grad=True), torch.ones((3, 2, 3, 3), requires_grad=True)
    pairs = [(F.softmax(x, 1), TF.softmax(tx, 1)), (F.log_softmax(x, 1), TF.log_softmax(tx, 1)),
             (F.conv2d(x, w), TF.conv2d(tx, tw)), (F.max_pool2d(x, 2), TF.max_pool2d(tx, 2)),
             (F.avg_pool2d(x, 2), TF.avg_pool2d(tx, 2)), (F.mse_loss(x, x * 2), TF.mse_loss(tx, tx * 2)),
             (F.cross_entropy(x.reshape(4, 8), np.zeros(4, np.int64)),
              TF.cross_entropy(tx.reshape(4, 8), torch.zeros(4, dtype=torch.long)))]
    for r, t in pairs:
        assert r.grad_fn.name() == type(t.grad_fn).__name__


@pytest.mark.parametrize("call, err, msg", [
    (lambda f, m: f.conv2d(m.ones(1, 3, 5, 5), m.ones(2, 4, 3, 3)), RuntimeError, "to have 4 channels, but got 3"),
    (lambda f, m: f.conv2d(m.ones(1, 3, 2, 2), m.ones(2, 3, 3, 3)), RuntimeError, "Kernel size can't be greater"),
    (lambda f, m: f.conv2d(m.ones(3, 5, 5), m.ones(2, 3, 3)), RuntimeError, "4-D weight"),
    (lambda f, m: f.max_pool2d(m.ones(1, 1, 4, 4), 2, 2, 2), RuntimeError, "pad should be at most half"),
    (lambda f, m: f.conv2d(m.ones(1, 3, 5, 5, dtype=m.float32), m.ones(2, 3, 3, 3, dtype=m.float64)), RuntimeError,
     "should be the same"),
    (lambda f, m: f.nll_loss(m.ones(3, 4), idx(m, [0, 1, 7])), IndexError, "Target 7 is out of bounds"),
    (lambda f, m: f.nll_loss(m.ones(3, 4), idx(m, [0, 1])), ValueError, r"Expected input batch_size \(3\) to match "
                                                                        r"target batch_size \(2\)"),
    (lambda f, m: f.cross_entropy(m.ones(3, 4), idx(m, [0, 1, 1]), reduction="avg"), ValueError, "not a valid value"),
])
def test_bad_input_errors_match_torch(call, err, msg):
    with pytest.raises(err, match=msg):
        call(F, re)
    with pytest.raises(err):
        call(TF, torch)


def idx(m, values):
    return torch.tensor(values) if m is torch else np.array(values)
