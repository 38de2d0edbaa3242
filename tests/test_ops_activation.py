"""nn activations: softplus, gelu (exact, tanh), silu, elu, leaky_relu, hardtanh, logsigmoid —
forward vs numpy, gradients and second derivatives vs torch float64, the kinks (torch's gradient
at x == 0 and at the bounds), thresholds, tails, in-place variants, node names and errors."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from hypothesis import given
from hypothesis import strategies as st

import refengine as re
import refengine.nn.functional as F
from ops_helpers import FAST, arrays, check, seeds, shapes

_erf = np.vectorize(math.erf, otypes=[float])


def _np_sigmoid(x):
    return 1 / (1 + np.exp(-x))


# name: (call with module F or TF, numpy reference)
ACTS = {
    "softplus": (lambda f, x: f.softplus(x), lambda x: np.log1p(np.exp(x))),
    "softplus_beta": (lambda f, x: f.softplus(x, beta=2.5, threshold=3.0),
                      lambda x: np.where(2.5 * x > 3, x, np.log1p(np.exp(2.5 * x)) / 2.5)),
    "gelu": (lambda f, x: f.gelu(x), lambda x: 0.5 * x * (1 + _erf(x / np.sqrt(2)))),
    "gelu_tanh": (lambda f, x: f.gelu(x, approximate="tanh"),
                  lambda x: 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x ** 3)))),
    "silu": (lambda f, x: f.silu(x), lambda x: x * _np_sigmoid(x)),
    "elu": (lambda f, x: f.elu(x), lambda x: np.where(x > 0, x, np.expm1(x))),
    "elu_alpha": (lambda f, x: f.elu(x, alpha=0.7), lambda x: np.where(x > 0, x, 0.7 * np.expm1(x))),
    "leaky_relu": (lambda f, x: f.leaky_relu(x), lambda x: np.where(x > 0, x, 0.01 * x)),
    "leaky_relu_slope": (lambda f, x: f.leaky_relu(x, 0.3), lambda x: np.where(x > 0, x, 0.3 * x)),
    "hardtanh": (lambda f, x: f.hardtanh(x), lambda x: np.clip(x, -1, 1)),
    "hardtanh_bounds": (lambda f, x: f.hardtanh(x, -0.5, 2.0), lambda x: np.clip(x, -0.5, 2.0)),
    "logsigmoid": (lambda f, x: f.logsigmoid(x), lambda x: np.log(_np_sigmoid(x))),
}


@pytest.mark.parametrize("name", sorted(ACTS))
@given(shape=shapes, seed=seeds)
@FAST
def test_activation(name, shape, seed):
    call, ref = ACTS[name]
    (a,) = arrays(seed, shape, low=-4, high=4)
    check(lambda x: call(F, x), lambda x: call(TF, x), [a], np_fn=ref, seed=seed)


@pytest.mark.parametrize("name", sorted(ACTS))
def test_activation_second_derivative(name):
    call, _ = ACTS[name]
    (a,) = arrays(21, (3, 4), low=-4, high=4)
    check(lambda x: call(F, x), lambda x: call(TF, x), [a], second=True, seed=21)
    # through a non-linear inner function, so the second derivative of the activation itself shows
    check(lambda x: call(F, x * x - 1), lambda x: call(TF, x * x - 1), [a], second=True, seed=22)


@pytest.mark.parametrize("name", sorted(ACTS))
def test_kinks_and_bounds_match_torch(name):
    """x == 0 (elu and leaky_relu take the negative branch), hardtanh's and softplus' edges."""
    call, _ = ACTS[name]
    a = np.array([-2.0, -1.0, -0.5, 0.0, 0.5, 1.0, 1.2, 2.0])
    check(lambda x: call(F, x), lambda x: call(TF, x), [a], second=True, seed=1)


@pytest.mark.parametrize("name", ["softplus", "gelu", "gelu_tanh", "silu", "elu", "logsigmoid"])
def test_tails_are_finite_and_match_torch(name):
    """Large |x|: no overflow (softplus becomes x above its threshold, logsigmoid stays stable)."""
    call, _ = ACTS[name]
    a = np.array([-800.0, -50.0, -19.0, 19.9, 20.0, 20.1, 50.0, 800.0])
    check(lambda x: call(F, x), lambda x: call(TF, x), [a], second=True, seed=2)


@pytest.mark.parametrize("name", sorted(ACTS))
@given(seed=seeds)
@FAST
def test_float32_in_float32_out(name, seed):
    call, _ = ACTS[name]
    (a,) = arrays(seed, (5,), low=-4, high=4, dtype=np.float32)
    x = re.tensor(a, requires_grad=True)
    y = call(F, x)
    assert y.dtype == np.float32
    (g,) = re.grad(y.sum(), [x])
    assert g.dtype == np.float32
    t = torch.tensor(a, requires_grad=True)
    (tg,) = torch.autograd.grad(call(TF, t).sum(), [t])
    np.testing.assert_allclose(y.data, call(TF, t).detach().numpy(), rtol=2e-6, atol=2e-6)
    np.testing.assert_allclose(g.data, tg.numpy(), rtol=2e-6, atol=2e-6)


@pytest.mark.parametrize("name, kw", [("elu", {"alpha": 0.5}), ("leaky_relu", {"negative_slope": 0.2}),
                                      ("hardtanh", {"min_val": -0.5, "max_val": 0.5}), ("silu", {})])
def test_inplace_variants(name, kw):
    """``inplace=True`` writes into the input, moves its history and names the node as torch."""
    (a,) = arrays(3, (6,))
    outs = []
    for mod, lib in [(F, re), (TF, torch)]:
        x = lib.tensor(a, requires_grad=True)
        y = x * 1.0
        r = getattr(mod, name)(y, inplace=True, **kw)
        assert r is y
        (g,) = (re if lib is re else torch).autograd.grad((r * r).sum(), [x]) if lib is torch else \
            re.grad((r * r).sum(), [x])
        node = r.grad_fn.name() if lib is re else type(r.grad_fn).__name__
        outs.append((np.asarray(r.data if lib is re else r.detach().numpy()), np.asarray(g.data if lib is re
                                                                                          else g.numpy()), node))
    (ry, rg, rn), (ty, tg, tn) = outs
    np.testing.assert_allclose(ry, ty, rtol=1e-12)
    np.testing.assert_allclose(rg, tg, rtol=1e-12)
    assert rn == tn


def test_node_names_match_torch():
    x = re.tensor([-1.0, 0.5], requires_grad=True)
    t = torch.tensor([-1.0, 0.5], requires_grad=True)
    for name, (call, _) in ACTS.items():
        assert call(F, x).grad_fn.name() == type(call(TF, t).grad_fn).__name__, name


@pytest.mark.parametrize("call, err", [
    (lambda f, m: f.softplus(m.tensor([1, 2])), NotImplementedError),
    (lambda f, m: f.gelu(m.tensor([1, 2])), NotImplementedError),
    (lambda f, m: f.silu(m.tensor([1, 2])), NotImplementedError),
    (lambda f, m: f.elu(m.tensor([1, 2])), NotImplementedError),
    (lambda f, m: f.leaky_relu(m.tensor([1, 2])), NotImplementedError),
    (lambda f, m: f.logsigmoid(m.tensor([1, 2])), NotImplementedError),
    (lambda f, m: f.gelu(m.tensor([1.0]), approximate="erf"), RuntimeError),
    (lambda f, m: f.hardtanh(m.tensor([1.0]), 1.0, -1.0), ValueError),
    (lambda f, m: f.elu(m.tensor([1.0], requires_grad=True), inplace=True), RuntimeError),
])
def test_bad_input_errors_match_torch(call, err):
    with pytest.raises(err):
        call(F, re)
    with pytest.raises(err):
        call(TF, torch)


def test_hardtanh_of_integers_clips_like_torch():
    np.testing.assert_array_equal(F.hardtanh(re.tensor([-3, 0, 3])).data,
                                  TF.hardtanh(torch.tensor([-3, 0, 3])).numpy())


@given(seed=seeds, beta=st.floats(0.25, 4), threshold=st.floats(0.5, 30))
@FAST
def test_softplus_beta_threshold(seed, beta, threshold):
    (a,) = arrays(seed, (7,), low=-10, high=10)
    check(lambda x: F.softplus(x, beta, threshold), lambda x: TF.softplus(x, beta, threshold), [a], seed=seed)
