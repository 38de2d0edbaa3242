"""Elementwise ops: forward vs numpy, gradients (and second derivatives) vs torch float64,
broadcasting, 0-d and zero-size inputs, torch's dtype promotion and errors."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

import refengine as re
from ops_helpers import FAST, arrays, check, pair_shapes, seeds, shapes

BINARY = {
    "add": (re.add, torch.add, np.add),
    "sub": (re.sub, torch.sub, np.subtract),
    "mul": (re.mul, torch.mul, np.multiply),
    "div": (re.div, torch.div, np.divide),
    "maximum": (re.maximum, torch.maximum, np.maximum),
    "minimum": (re.minimum, torch.minimum, np.minimum),
}

UNARY = {  # name: (refengine, torch, numpy, domain)
    "neg": (re.neg, torch.neg, np.negative, (-2, 2)),
    "exp": (re.exp, torch.exp, np.exp, (-2, 2)),
    "log": (re.log, torch.log, np.log, (0.2, 3)),
    "sqrt": (re.sqrt, torch.sqrt, np.sqrt, (0.2, 3)),
    "sin": (re.sin, torch.sin, np.sin, (-3, 3)),
    "cos": (re.cos, torch.cos, np.cos, (-3, 3)),
    "tanh": (re.tanh, torch.tanh, np.tanh, (-2, 2)),
    "sigmoid": (re.sigmoid, torch.sigmoid, lambda x: 1 / (1 + np.exp(-x)), (-4, 4)),
    "relu": (re.relu, torch.relu, lambda x: np.maximum(x, 0), (-2, 2)),
    "abs": (re.abs, torch.abs, np.abs, (-2, 2)),
}


@pytest.mark.parametrize("name", sorted(BINARY))
@given(shapes=pair_shapes, seed=seeds)
@FAST
def test_binary_broadcasting(name, shapes, seed):
    """Values vs numpy; each operand's gradient summed back to its own shape, vs torch."""
    fn, tfn, nfn = BINARY[name]
    a, b = arrays(seed, *shapes.input_shapes)
    if name == "div":
        b = np.where(np.abs(b) < 0.3, 0.5, b)
    check(fn, tfn, [a, b], np_fn=nfn, seed=seed)


@pytest.mark.parametrize("name", sorted(UNARY))
@given(shape=shapes, seed=seeds)
@FAST
def test_unary(name, shape, seed):
    fn, tfn, nfn, (lo, hi) = UNARY[name]
    (a,) = arrays(seed, shape, low=lo, high=hi)
    check(fn, tfn, [a], np_fn=nfn, seed=seed)


@given(shapes=pair_shapes, seed=seeds)
@FAST
def test_pow_tensor_exponent(shapes, seed):
    """Gradient in both base and exponent (base kept positive so log(base) is defined)."""
    a, b = arrays(seed, *shapes.input_shapes)
    a = np.abs(a) + 0.2
    check(re.pow, torch.pow, [a, b], np_fn=np.power, seed=seed)


@pytest.mark.parametrize("exponent", [2, 3.0, 0.5, -1, 0])
def test_pow_scalar_exponent_and_base(exponent):
    (a,) = arrays(1, (3, 2), low=0.3, high=2)
    check(lambda x: x ** exponent, lambda x: x ** exponent, [a], seed=1)
    check(lambda x: 2.0 ** x, lambda x: 2.0 ** x, [a], seed=2)
    assert re.pow(re.tensor(a, requires_grad=True), exponent).grad_fn.name() == "PowBackward0"


def test_pow_torch_masks_at_zero():
    """d/db of a**b at a == 0 (b >= 0) and d/da at b == 0 are 0 in torch, not nan."""
    a, b = np.array([0.0, 0.0, 2.0]), np.array([0.0, 2.0, 0.0])
    check(re.pow, torch.pow, [a, b], np_fn=np.power)


@given(shape=shapes, seed=seeds, lo=st.one_of(st.none(), st.floats(-1, 0)), hi=st.one_of(st.none(), st.floats(0, 1)))
@FAST
def test_clamp(shape, seed, lo, hi):
    if lo is None and hi is None:
        lo = -0.5
    (a,) = arrays(seed, shape)
    check(lambda x: re.clamp(x, min=lo, max=hi), lambda x: torch.clamp(x, min=lo, max=hi), [a],
          np_fn=lambda x: np.clip(x, -np.inf if lo is None else lo, np.inf if hi is None else hi), seed=seed)


def test_clamp_gradient_passes_at_the_bounds():
    """torch: the gradient flows where min <= x <= max, bounds included."""
    x = re.tensor([-1.0, 0.0, 0.5, 1.0, 2.0], requires_grad=True)
    re.clamp(x, 0.0, 1.0).sum().backward()
    assert x.grad.tolist() == [0.0, 1.0, 1.0, 1.0, 0.0]


@pytest.mark.parametrize("name", ["maximum", "minimum"])
def test_minmax_ties_split_the_gradient(name):
    fn, tfn, nfn = BINARY[name]
    a, b = np.array([1.0, 2.0, 3.0]), np.array([1.0, 0.0, 3.0])
    check(fn, tfn, [a, b], np_fn=nfn)


@given(shapes=pair_shapes, seed=seeds)
@FAST
def test_where(shapes, seed):
    a, b = arrays(seed, *shapes.input_shapes)
    cond = np.random.default_rng(seed).random(np.broadcast_shapes(*shapes.input_shapes)) < 0.5
    check(lambda x, y: re.where(re.tensor(cond), x, y), lambda x, y: torch.where(torch.tensor(cond), x, y),
          [a, b], np_fn=lambda x, y: np.where(cond, x, y), seed=seed)


@pytest.mark.parametrize("name", ["exp", "log", "sqrt", "sin", "cos", "tanh", "sigmoid", "abs"])
def test_unary_second_derivative(name):
    fn, tfn, _, (lo, hi) = UNARY[name]
    (a,) = arrays(3, (2, 3), low=lo, high=hi)
    check(fn, tfn, [a], second=True, seed=3)


@pytest.mark.parametrize("name", sorted(BINARY) + ["pow", "where", "clamp"])
def test_binary_second_derivative(name):
    a, b = arrays(4, (2, 3), (3,))
    if name == "pow":
        check(re.pow, torch.pow, [np.abs(a) + 0.2, b], second=True)
    elif name == "where":
        cond = np.array([True, False, True])
        check(lambda x, y: re.where(re.tensor(cond), x * x, y * y),
              lambda x, y: torch.where(torch.tensor(cond), x * x, y * y), [a, b], second=True)
    elif name == "clamp":
        check(lambda x: re.clamp(x * x, 0.1, 1.0), lambda x: torch.clamp(x * x, 0.1, 1.0), [a], second=True)
    else:
        fn, tfn, _ = BINARY[name]
        b = np.where(np.abs(b) < 0.3, 0.5, b)
        check(lambda x, y: fn(x * x, y * x), lambda x, y: tfn(x * x, y * x), [a, b], second=True)


def test_relu_second_derivative_is_zero_but_defined():
    (a,) = arrays(5, (4,))
    check(lambda x: re.relu(x) * x, lambda x: torch.relu(x) * x, [a], second=True)


def test_operators_and_methods_match_functions():
    a, b = arrays(6, (2, 3), (3,))
    x, y = re.tensor(a), re.tensor(b)
    for got, want in [(x + y, a + b), (x - y, a - b), (x * y, a * b), (x / y, a / b), (-x, -a),
                      (x ** 2, a ** 2), (2 ** x, 2 ** a), (1 - x, 1 - a), (x.exp(), np.exp(a)),
                      (x.sigmoid(), 1 / (1 + np.exp(-a))), (x.clamp(0, 1), np.clip(a, 0, 1)),
                      (x.maximum(y), np.maximum(a, b)), (abs(x), np.abs(a))]:
        np.testing.assert_allclose(got.data, want)


def test_float32_stays_float32_with_float64_zero_dim_operand():
    """torch promotion: a 0-d float64 tensor (or a Python float) does not widen float32."""
    x = re.tensor(np.ones(3, np.float32), requires_grad=True)
    s = re.tensor(np.float64(2.0), requires_grad=True)
    y = x * s + 1.5
    assert y.dtype == np.float32
    y.sum().backward()
    assert x.grad.dtype == np.float32 and s.grad.dtype == np.float64
    assert s.grad.item() == 3.0


def test_int_and_float32_promote_to_float32():
    y = re.tensor(np.ones(3, np.float32)) + re.tensor(np.arange(3))
    assert y.dtype == np.float32


def test_mixed_float_dtypes_promote_like_torch():
    y = re.tensor(np.ones(3, np.float32)) + re.tensor(np.ones(3))
    assert y.dtype == (torch.ones(3) + torch.ones(3, dtype=torch.float64)).numpy().dtype


def test_non_broadcastable_operands_raise_torch_message():
    with pytest.raises(RuntimeError, match=r"size of tensor a \(3\) must match the size of tensor b \(4\) "
                                           r"at non-singleton dimension 1"):
        re.tensor(np.ones((2, 3))) + re.tensor(np.ones((2, 4)))


def test_clamp_needs_a_bound():
    with pytest.raises(RuntimeError, match="At least one of 'min' or 'max'"):
        re.clamp(re.tensor([1.0]))


def test_sigmoid_of_integer_tensor_is_a_clear_type_error():
    with pytest.raises(TypeError, match="float32/float64"):
        re.sigmoid(re.tensor([1, 2]))


def test_node_names_match_torch():
    x = re.tensor([1.0, 2.0], requires_grad=True)
    t = torch.tensor([1.0, 2.0], requires_grad=True)
    for f in [lambda v: v.sigmoid(), lambda v: v.relu(), lambda v: v.clamp(0, 1), lambda v: v.tanh(),
              lambda v: v * v, lambda v: v / v, lambda v: v ** v, lambda v: v.maximum(v * 2)]:
        assert f(x).grad_fn.name() == type(f(t).grad_fn).__name__
