"""Losses: binary_cross_entropy, binary_cross_entropy_with_logits (weight, pos_weight),
kl_div (log_target, batchmean), smooth_l1_loss (beta, beta == 0), huber_loss (delta), l1_loss —
values vs numpy, gradients in input and target and second derivatives vs torch float64, the joints
|x - t| == beta / delta, torch's clamps at the ends of BCE, reductions, errors."""
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

REDUCTIONS = st.sampled_from(["none", "mean", "sum"])


def _reduce(v, reduction):
    return v if reduction == "none" else (v.sum() if reduction == "sum" else v.mean())


@given(shape=nonempty_shapes, seed=seeds, reduction=REDUCTIONS, weighted=st.booleans())
@FAST
def test_binary_cross_entropy(shape, seed, reduction, weighted):
    x, t, w = arrays(seed, shape, shape, shape[-1:], low=0.02, high=0.98)
    kw = {"reduction": reduction}
    ref = lambda x, t: _reduce(-(t * np.log(x) + (1 - t) * np.log(1 - x)) * (w if weighted else 1), reduction)
    check(lambda x, t: F.binary_cross_entropy(x, t, re.tensor(w) if weighted else None, **kw),
          lambda x, t: TF.binary_cross_entropy(x, t, torch.tensor(w) if weighted else None, **kw), [x, t], np_fn=ref,
          seed=seed)


@given(shape=nonempty_shapes, seed=seeds, reduction=REDUCTIONS, weighted=st.booleans(), pos=st.booleans())
@FAST
def test_binary_cross_entropy_with_logits(shape, seed, reduction, weighted, pos):
    x, t, w, pw = arrays(seed, shape, shape, shape[-1:], shape[-1:], low=-3, high=3)
    t, w, pw = (t + 3) / 6, np.abs(w), np.abs(pw) + 0.1
    kw = {"reduction": reduction}
    r_kw = dict(kw, weight=re.tensor(w) if weighted else None, pos_weight=re.tensor(pw) if pos else None)
    t_kw = dict(kw, weight=torch.tensor(w) if weighted else None, pos_weight=torch.tensor(pw) if pos else None)
    check(lambda x, t: F.binary_cross_entropy_with_logits(x, t, **r_kw),
          lambda x, t: TF.binary_cross_entropy_with_logits(x, t, **t_kw), [x, t], seed=seed)


@given(shape=nonempty_shapes, seed=seeds, reduction=st.sampled_from(["none", "sum", "batchmean"]),
       log_target=st.booleans())
@FAST
def test_kl_div(shape, seed, reduction, log_target):
    x, t = arrays(seed, shape, shape, low=0.05, high=1.0)
    x = np.log(x)
    if log_target:
        t = np.log(t)
    check(lambda x, t: F.kl_div(x, t, reduction=reduction, log_target=log_target),
          lambda x, t: TF.kl_div(x, t, reduction=reduction, log_target=log_target), [x, t], seed=seed)


@pytest.mark.parametrize("name", ["smooth_l1_loss", "huber_loss", "l1_loss"])
@given(shape=nonempty_shapes, seed=seeds, reduction=REDUCTIONS, param=st.sampled_from([0.0, 0.5, 1.0, 2.0]))
@FAST
def test_regression_losses(name, shape, seed, reduction, param):
    x, t = arrays(seed, shape, shape)
    kw = {"reduction": reduction}
    if name == "smooth_l1_loss":
        kw["beta"] = param
    elif name == "huber_loss":
        kw["delta"] = param or 1.0
    check(lambda x, t: getattr(F, name)(x, t, **kw), lambda x, t: getattr(TF, name)(x, t, **kw), [x, t], seed=seed)


@pytest.mark.parametrize("name, kw", [("smooth_l1_loss", {"beta": 0.5}), ("huber_loss", {"delta": 0.5}),
                                      ("l1_loss", {})])
def test_joints_and_zero_residuals(name, kw):
    """|x - t| exactly at beta / delta (torch: the linear branch's slope, no second derivative) and 0."""
    x = np.array([0.5, -0.5, 0.0, 1.0, 0.25])
    t = np.array([0.0, 0.0, 0.0, 1.0, 0.0])
    check(lambda x, t: getattr(F, name)(x, t, reduction="sum", **kw),
          lambda x, t: getattr(TF, name)(x, t, reduction="sum", **kw), [x, t], second=True)


def test_bce_at_zero_and_one_uses_torch_clamps():
    """log clamped at -100 in the value, x (1 - x) clamped at 1e-12 in the gradient."""
    x = np.array([0.0, 1.0, 1e-20, 0.5])
    t = np.array([1.0, 0.0, 0.3, 0.5])
    check(lambda x, t: F.binary_cross_entropy(x, t, reduction="sum"),
          lambda x, t: TF.binary_cross_entropy(x, t, reduction="sum"), [x, t], rtol=1e-6)


@pytest.mark.parametrize("name", ["bce", "bce_logits", "bce_logits_pw", "kl_div", "kl_div_log", "smooth_l1", "huber",
                                  "l1"])
def test_second_derivatives_and_node_names(name):
    x, t = arrays(59, (3, 4), (3, 4), low=0.1, high=0.9)
    cases = {
        "bce": lambda m, f, x, t: f.binary_cross_entropy(x * x, t),
        "bce_logits": lambda m, f, x, t: f.binary_cross_entropy_with_logits(x * x, t, reduction="sum"),
        "bce_logits_pw": lambda m, f, x, t: f.binary_cross_entropy_with_logits(x * x, t, pos_weight=m.tensor(
            np.array([0.5, 1.0, 2.0, 3.0]))),
        "kl_div": lambda m, f, x, t: f.kl_div(m.log(x), t, reduction="batchmean"),
        "kl_div_log": lambda m, f, x, t: f.kl_div(x * x, t, reduction="none", log_target=True),
        "smooth_l1": lambda m, f, x, t: f.smooth_l1_loss(x * 3, t, beta=0.7),
        "huber": lambda m, f, x, t: f.huber_loss(x * 3, t, delta=0.7, reduction="none"),
        "l1": lambda m, f, x, t: f.l1_loss(x * x, t),
    }
    fn = cases[name]
    check(lambda x, t: fn(re, F, x, t), lambda x, t: fn(torch, TF, x, t), [x, t], second=True, seed=59, rtol=1e-6,
          atol=1e-8)
    xs, ts = [re.tensor(v, requires_grad=True) for v in (x, t)], [torch.tensor(v, requires_grad=True) for v in (x, t)]
    assert fn(re, F, *xs).grad_fn.name() == type(fn(torch, TF, *ts).grad_fn).__name__


@pytest.mark.parametrize("call, err", [
    (lambda f, m: f.binary_cross_entropy(m.ones(3) * 2, m.ones(3)), RuntimeError),
    (lambda f, m: f.binary_cross_entropy(m.ones(3) * 0.5, m.ones(2)), ValueError),
    (lambda f, m: f.binary_cross_entropy_with_logits(m.ones(3), m.ones(2)), ValueError),
    (lambda f, m: f.l1_loss(m.ones(3), m.ones(3), reduction="avg"), ValueError),
    (lambda f, m: f.kl_div(m.ones(3), m.ones(3), reduction="batch"), ValueError),
    (lambda f, m: f.smooth_l1_loss(m.ones(3), m.ones(3), beta=-1.0), RuntimeError),
    (lambda f, m: f.binary_cross_entropy_with_logits(m.ones(3), m.ones(3), pos_weight=m.ones(3, requires_grad=True)),
     RuntimeError),
])
def test_bad_input_errors_match_torch(call, err):
    with pytest.raises(err):
        call(F, re)
    with pytest.raises(err):
        call(TF, torch)


def test_kl_div_mean_warns_like_torch():
    with pytest.warns(UserWarning, match="batchmean"):
        F.kl_div(re.tensor([-1.0, -2.0]), re.tensor([0.3, 0.7]))
