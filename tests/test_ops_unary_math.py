"""Unary math ops: trig/hyperbolic, exp/log variants, powers and the zero-gradient rounding ops —
forward vs numpy, gradients and second derivatives vs torch float64, domains (nan outside),
integer inputs (promoted to float32, or kept by the rounding ops), node names."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

import refengine as re
from ops_helpers import FAST, arrays, check, seeds, shapes

UNARY = {  # name: (numpy reference, domain)
    "tan": (np.tan, (-1.4, 1.4)),
    "asin": (np.arcsin, (-0.95, 0.95)),
    "acos": (np.arccos, (-0.95, 0.95)),
    "atan": (np.arctan, (-4, 4)),
    "sinh": (np.sinh, (-3, 3)),
    "cosh": (np.cosh, (-3, 3)),
    "asinh": (np.arcsinh, (-4, 4)),
    "acosh": (np.arccosh, (1.05, 5)),
    "atanh": (np.arctanh, (-0.95, 0.95)),
    "log1p": (np.log1p, (-0.9, 3)),
    "expm1": (np.expm1, (-3, 3)),
    "log2": (np.log2, (0.1, 5)),
    "log10": (np.log10, (0.1, 5)),
    "exp2": (np.exp2, (-3, 3)),
    "rsqrt": (lambda x: 1 / np.sqrt(x), (0.1, 5)),
    "reciprocal": (lambda x: 1 / x, (0.2, 3)),
    "square": (np.square, (-3, 3)),
    "sign": (np.sign, (-3, 3)),
    "floor": (np.floor, (-3, 3)),
    "ceil": (np.ceil, (-3, 3)),
    "round": (np.rint, (-3, 3)),
    "trunc": (np.trunc, (-3, 3)),
}
FLAT = ["sign", "floor", "ceil", "round", "trunc"]


@pytest.mark.parametrize("name", sorted(UNARY))
@given(shape=shapes, seed=seeds)
@FAST
def test_unary(name, shape, seed):
    ref, (lo, hi) = UNARY[name]
    (a,) = arrays(seed, shape, low=lo, high=hi)
    if name == "reciprocal":
        a = a * np.where(np.random.default_rng(seed).random(shape) < 0.5, -1, 1)  # both signs
    check(getattr(re, name), getattr(torch, name), [a], np_fn=ref, seed=seed)
    check(lambda x: getattr(x, name)(), lambda x: getattr(x, name)(), [a], np_fn=ref, seed=seed)


@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary_second_derivative(name):
    _, (lo, hi) = UNARY[name]
    a = np.linspace(lo, hi, 7)[None].repeat(2, 0) + np.array([[0.0], [0.011]])
    check(getattr(re, name), getattr(torch, name), [a], second=True, seed=5)


@pytest.mark.parametrize("name", ["asin", "acos", "acosh", "atanh", "log1p", "log2", "log10", "rsqrt",
                                  "reciprocal", "tan"])
def test_outside_the_domain_and_at_its_edges_like_torch(name):
    """nan outside the real domain, inf at the edges: values and gradients as torch's."""
    a = np.array([-2.0, -1.0, -0.5, 0.0, 0.5, 1.0, 2.0, np.pi / 2])
    x = re.tensor(a, requires_grad=True)
    t = torch.tensor(a, requires_grad=True)
    y, ty = getattr(re, name)(x), getattr(torch, name)(t)
    np.testing.assert_allclose(y.data, ty.detach().numpy(), rtol=1e-12)
    (g,) = re.grad(y.sum(), [x])
    (tg,) = torch.autograd.grad(ty.sum(), [t])
    np.testing.assert_allclose(g.data, tg.numpy(), rtol=1e-12)


@pytest.mark.parametrize("name", FLAT)
def test_rounding_jumps_and_halves(name):
    """Exact integers and halves (round half to even); zero gradients, also at the jumps."""
    a = np.array([-2.5, -1.5, -1.0, -0.5, -0.0, 0.0, 0.5, 1.5, 2.5, 2.0])
    check(getattr(re, name), getattr(torch, name), [a], np_fn=UNARY[name][0], second=True)


@given(seed=seeds, decimals=st.integers(-2, 3))
@FAST
def test_round_decimals(seed, decimals):
    (a,) = arrays(seed, (2, 5), low=-300, high=300)
    check(lambda x: re.round(x, decimals=decimals), lambda x: torch.round(x, decimals=decimals), [a],
          np_fn=lambda x: np.round(x, decimals), seed=seed)


@pytest.mark.parametrize("name", sorted(UNARY))
def test_integer_inputs_follow_torch_dtypes(name):
    """Floating ops compute integers in float32; sign/floor/ceil/round/trunc/square keep int64."""
    v = [1, 2, 3] if name != "acosh" else [2, 3, 4]
    r, t = getattr(re, name)(re.tensor(v)), getattr(torch, name)(torch.tensor(v))
    assert str(r.dtype) == str(t.dtype).replace("torch.", "").replace("long", "int64")
    np.testing.assert_allclose(r.data, t.numpy(), rtol=1e-6)


@pytest.mark.parametrize("name", sorted(UNARY))
def test_float32_in_float32_out(name):
    _, (lo, hi) = UNARY[name]
    x = re.tensor(np.linspace(lo, hi, 6, dtype=np.float32), requires_grad=True)
    y = getattr(re, name)(x)
    (g,) = re.grad(y.sum(), [x])
    assert y.dtype == g.dtype == np.float32
    t = torch.tensor(np.linspace(lo, hi, 6, dtype=np.float32), requires_grad=True)
    np.testing.assert_allclose(y.data, getattr(torch, name)(t).detach().numpy(), rtol=3e-6, atol=1e-6)


def test_node_names_match_torch():
    x = re.tensor([0.5, 0.7], requires_grad=True)
    t = torch.tensor([0.5, 0.7], requires_grad=True)
    for name in UNARY:
        assert getattr(re, name)(x).grad_fn.name() == type(getattr(torch, name)(t).grad_fn).__name__, name
    assert re.round(x, decimals=2).grad_fn.name() == type(torch.round(t, decimals=2).grad_fn).__name__


def test_aliases():
    a = np.array([0.2, 0.4])
    for alias, name in [("arcsin", "asin"), ("arccos", "acos"), ("arctan", "atan"), ("arcsinh", "asinh"),
                        ("arctanh", "atanh"), ("fix", "trunc")]:
        np.testing.assert_array_equal(getattr(re, alias)(re.tensor(a)).data, getattr(re, name)(re.tensor(a)).data)


def test_round_decimals_of_integers_is_refused_like_torch():
    with pytest.raises(NotImplementedError):
        torch.round(torch.tensor([1, 2]), decimals=1)
    with pytest.raises(NotImplementedError):
        re.round(re.tensor([1, 2]), decimals=1)
