"""Binary math ops: atan2, hypot, fmod, remainder, logaddexp, xlogy — broadcasting, Python-number
operands, forward vs numpy, gradients and second derivatives vs torch float64, the special points
(atan2/hypot at the origin, xlogy at 0, fmod/remainder at the jumps), dtypes and errors."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given

import refengine as re
from ops_helpers import FAST, arrays, check, pair_shapes, seeds


def _np_xlogy(x, y):
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(np.isnan(y), np.nan, np.where(x == 0, 0.0, x * np.log(y)))


BINARY = {  # name: (numpy reference, domain of the second operand)
    "atan2": (np.arctan2, (-2, 2)),
    "hypot": (np.hypot, (-2, 2)),
    "fmod": (np.fmod, (0.3, 1.5)),
    "remainder": (np.remainder, (0.3, 1.5)),
    "logaddexp": (np.logaddexp, (-3, 3)),
    "xlogy": (_np_xlogy, (0.1, 3)),
}


def _operands(name, seed, sa, sb):
    a, b = arrays(seed, sa, sb, low=-3, high=3)
    lo, hi = BINARY[name][1]
    b = lo + (b + 3) / 6 * (hi - lo)
    if name in ("fmod", "remainder"):
        b = b * np.where(np.random.default_rng(seed).random(sb) < 0.5, -1, 1)
        q = a / b
        a = np.where(np.abs(q - np.round(q)) < 0.05, a + 0.1 * np.abs(b), a)  # away from the jumps
    return a, b


@pytest.mark.parametrize("name", sorted(BINARY))
@given(shapes=pair_shapes, seed=seeds)
@FAST
def test_binary(name, shapes, seed):
    a, b = _operands(name, seed, *shapes.input_shapes)
    ref = BINARY[name][0]
    check(getattr(re, name), getattr(torch, name), [a, b], np_fn=ref, seed=seed)
    check(lambda x, y: getattr(x, name)(y), lambda x, y: getattr(x, name)(y), [a, b], np_fn=ref, seed=seed)


@pytest.mark.parametrize("name", sorted(BINARY))
def test_binary_second_derivative(name):
    a, b = _operands(name, 9, (2, 3), (3,))
    fn, tfn = getattr(re, name), getattr(torch, name)
    check(fn, tfn, [a, b], second=True, seed=9)
    check(lambda x, y: fn(x * x, y * x), lambda x, y: tfn(x * x, y * x), [a, b], second=True, seed=10)


@pytest.mark.parametrize("name, scalar", [("fmod", 0.7), ("fmod", -1.3), ("remainder", 0.7), ("remainder", -1.3),
                                          ("xlogy", 2.5), ("xlogy", 0.0)])
@given(seed=seeds)
@FAST
def test_python_number_operand(name, scalar, seed):
    (a,) = arrays(seed, (2, 3), low=0.1, high=3)
    fn, tfn = getattr(re, name), getattr(torch, name)
    check(lambda x: fn(x, scalar), lambda x: tfn(x, scalar), [a], seed=seed)
    if name == "xlogy":
        check(lambda y: fn(scalar, y), lambda y: tfn(scalar, y), [a], second=True, seed=seed)
        assert fn(scalar, re.tensor(a, requires_grad=True)).grad_fn.name() == \
            type(tfn(scalar, torch.tensor(a, requires_grad=True)).grad_fn).__name__


def test_special_points_match_torch():
    """atan2/hypot at the origin (nan gradients), xlogy with x == 0 and y in {0, nan}, the jumps of
    fmod/remainder (a multiple of b: the divisor's gradient is -trunc/-floor of the exact quotient)."""
    a = np.array([0.0, 0.0, 0.0, 1.0, 3.0, -3.0, 2.0])
    b = np.array([0.0, np.nan, 2.0, 0.0, 1.5, 1.5, -1.0])
    for name in BINARY:
        x, y = re.tensor(a, requires_grad=True), re.tensor(b, requires_grad=True)
        t, u = torch.tensor(a, requires_grad=True), torch.tensor(b, requires_grad=True)
        r, tr = getattr(re, name)(x, y), getattr(torch, name)(t, u)
        np.testing.assert_allclose(r.data, tr.detach().numpy(), err_msg=name)
        for got, want in zip(re.grad(r.sum(), [x, y]), torch.autograd.grad(tr.sum(), [t, u])):
            np.testing.assert_allclose(got.data, want.numpy(), err_msg=name)


def test_xlogy_second_derivative_at_zero_like_torch():
    """torch differentiates log(y) * grad even at x == 0 (masked only where y <= 0 there)."""
    a, b = np.array([0.0, 1.5, 0.0, 0.0]), np.array([2.0, 0.5, 0.3, -1.0])
    check(re.xlogy, torch.xlogy, [a, b], second=True)


def test_integer_operands():
    i, j = np.array([7, -7, 5]), np.array([3, 3, -2])
    for name in ("fmod", "remainder", "atan2", "xlogy"):
        r = getattr(re, name)(re.tensor(i), re.tensor(j))
        t = getattr(torch, name)(torch.tensor(i), torch.tensor(j))
        assert str(r.dtype) == str(t.dtype).replace("torch.", "").replace("long", "int64"), name
        np.testing.assert_allclose(r.data, t.numpy(), rtol=1e-6, err_msg=name)


def test_float32_with_float64_zero_dim_operand_stays_float32():
    x = re.tensor(np.linspace(0.5, 2, 4, dtype=np.float32), requires_grad=True)
    s = re.tensor(np.float64(1.5), requires_grad=True)
    for name in BINARY:
        y = getattr(re, name)(x, s)
        assert y.dtype == np.float32, name
        gx, gs = re.grad(y.sum(), [x, s])
        assert gx.dtype == np.float32 and gs.dtype == np.float64, name


def test_node_names_match_torch():
    x, y = re.tensor([0.5, 0.7], requires_grad=True), re.tensor([1.5, 0.3], requires_grad=True)
    t, u = torch.tensor([0.5, 0.7], requires_grad=True), torch.tensor([1.5, 0.3], requires_grad=True)
    for name in BINARY:
        assert getattr(re, name)(x, y).grad_fn.name() == type(getattr(torch, name)(t, u).grad_fn).__name__
    for name in ("fmod", "remainder", "xlogy"):
        assert getattr(re, name)(x, 2.0).grad_fn.name() == type(getattr(torch, name)(t, 2.0).grad_fn).__name__


@pytest.mark.parametrize("call, err", [
    (lambda m: m.atan2(m.ones(2), 1.0), TypeError),
    (lambda m: m.hypot(1.0, m.ones(2)), TypeError),
    (lambda m: m.logaddexp(m.ones(2), 2.0), TypeError),
    (lambda m: m.hypot(m.tensor([1, 2]), m.tensor([1, 2])), NotImplementedError),
    (lambda m: m.logaddexp(m.tensor([1, 2]), m.tensor([1, 2])), NotImplementedError),
    (lambda m: m.fmod(m.tensor([1, 2]), m.tensor([0, 1])), RuntimeError),
    (lambda m: m.remainder(m.tensor([1, 2]), 0), RuntimeError),
    (lambda m: m.atan2(m.ones(2, 3), m.ones(4)), RuntimeError),
    (lambda m: m.xlogy(m.ones(2, 3), m.ones(2)), RuntimeError),
])
def test_bad_input_errors_match_torch(call, err):
    with pytest.raises(err):
        call(re)
    with pytest.raises(err):
        call(torch)
