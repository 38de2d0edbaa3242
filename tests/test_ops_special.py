"""Special functions: erf, erfc, lgamma, digamma, polygamma — values vs the C library (math) and
torch, gradients and second derivatives vs torch float64, poles and negative arguments."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

import refengine as re
from ops_helpers import FAST, arrays, check, seeds, shapes

SPECIAL = {  # name: (refengine, torch, numpy reference or None, domain)
    "erf": (re.erf, torch.erf, np.vectorize(math.erf, otypes=[float]), (-3, 3)),
    "erfc": (re.erfc, torch.erfc, np.vectorize(math.erfc, otypes=[float]), (-3, 6)),
    "lgamma": (re.lgamma, torch.lgamma, np.vectorize(math.lgamma, otypes=[float]), (0.05, 8)),
    "lgamma_negative": (re.lgamma, torch.lgamma, None, (-4.9, -0.1)),
    "digamma": (re.digamma, torch.digamma, None, (0.05, 30)),
    "digamma_negative": (re.digamma, torch.digamma, None, (-4.9, -0.1)),
}


@pytest.mark.parametrize("name", sorted(SPECIAL))
@given(shape=shapes, seed=seeds)
@FAST
def test_special(name, shape, seed):
    fn, tfn, ref, (lo, hi) = SPECIAL[name]
    (a,) = arrays(seed, shape, low=lo, high=hi)
    a = np.where(np.abs(a - np.round(a)) < 0.05, a + 0.1, a)  # keep clear of the poles
    check(fn, tfn, [a], np_fn=ref, seed=seed, rtol=1e-9)


@pytest.mark.parametrize("name", sorted(SPECIAL))
def test_special_second_derivative(name):
    fn, tfn, _, (lo, hi) = SPECIAL[name]
    a = np.linspace(lo, hi, 7) + 0.013
    check(fn, tfn, [a], second=True, seed=4, rtol=1e-9)


@pytest.mark.parametrize("n", [0, 1, 2, 3, 5])
@given(seed=seeds, negative=st.booleans())
@FAST
def test_polygamma(n, seed, negative):
    (a,) = arrays(seed, (6,), low=-3.9 if negative else 0.1, high=-0.1 if negative else 25)
    a = np.where(np.abs(a - np.round(a)) < 0.05, a + 0.1, a)
    check(lambda x: re.polygamma(n, x), lambda x: torch.polygamma(n, x), [a], seed=seed, rtol=1e-9)
    check(lambda x: x.polygamma(n), lambda x: x.polygamma(n), [a], seed=seed, rtol=1e-9)


def test_polygamma_second_derivative():
    a = np.array([0.3, 1.7, 4.2, 12.5, -0.4])
    check(lambda x: re.polygamma(2, x), lambda x: torch.polygamma(2, x), [a], second=True, rtol=1e-9)


def test_poles_and_infinities_match_torch():
    a = np.array([0.0, -0.0, -1.0, -2.0, np.inf, -np.inf, np.nan, 1e-300, 1e20])
    for name, fn in [("erf", re.erf), ("erfc", re.erfc), ("lgamma", re.lgamma), ("digamma", re.digamma)]:
        np.testing.assert_allclose(fn(re.tensor(a)).data, getattr(torch, name)(torch.tensor(a)).numpy(),
                                   rtol=1e-12, err_msg=name)
    for n in (1, 2, 3):
        got = re.polygamma(n, re.tensor(a[[0, 2, 3, 4, 6, 7, 8]])).data
        want = torch.polygamma(n, torch.tensor(a[[0, 2, 3, 4, 6, 7, 8]])).numpy()
        np.testing.assert_allclose(got, want, rtol=1e-9, err_msg=f"polygamma {n}")


def test_integer_input_computes_in_float32_like_torch():
    for name in ("erf", "lgamma", "digamma"):
        r = getattr(re, name)(re.tensor([1, 2, 3]))
        t = getattr(torch, name)(torch.tensor([1, 2, 3]))
        assert r.dtype == np.float32
        np.testing.assert_allclose(r.data, t.numpy(), rtol=1e-6)


def test_float32_in_float32_out():
    x = re.tensor(np.linspace(0.5, 3, 5, dtype=np.float32), requires_grad=True)
    for fn in (re.erf, re.erfc, re.lgamma, re.digamma, lambda v: re.polygamma(2, v)):
        y = fn(x)
        (g,) = re.grad(y.sum(), [x])
        assert y.dtype == g.dtype == np.float32


def test_node_names_match_torch():
    x = re.tensor([1.5], requires_grad=True)
    t = torch.tensor([1.5], requires_grad=True)
    for f in [lambda m, v: m.erf(v), lambda m, v: m.erfc(v), lambda m, v: m.lgamma(v), lambda m, v: m.digamma(v),
              lambda m, v: m.polygamma(0, v), lambda m, v: m.polygamma(2, v), lambda m, v: v.erf()]:
        assert f(re, x).grad_fn.name() == type(f(torch, t).grad_fn).__name__


def test_polygamma_rejects_negative_n_like_torch():
    with pytest.raises(RuntimeError):
        re.polygamma(-1, re.tensor([1.0]))
    with pytest.raises(RuntimeError):
        torch.polygamma(-1, torch.tensor([1.0]))
