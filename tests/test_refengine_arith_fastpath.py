"""The C path of + - * / on small float arrays (refengine.function._apply_arith / _run_arith and the
engine's gradient sums): the same bits, graph, errors and warnings as the Python Add/Sub/Mul/Div
it stands in for.  Each program runs twice, with the C path and with it switched off
(``_register_arith(None, ...)``: every op then goes through the Python forward and backward)."""
import contextlib
import warnings

import numpy as np
import pytest

import refengine as re
from refengine import function as fn
from refengine.ops import arith

OPS = {"+": np.add, "-": np.subtract, "*": np.multiply, "/": np.divide}


@contextlib.contextmanager
def python_path():
    fn._register_arith(None, None, None, None)
    try:
        yield
    finally:
        fn._register_arith(arith.Add, arith.Sub, arith.Mul, arith.Div)


def apply(op, a, b):
    return {"+": lambda: a + b, "-": lambda: a - b, "*": lambda: a * b, "/": lambda: a / b}[op]()


def bits(x):
    x = np.asarray(x)
    return x.dtype, x.shape, x.tobytes()


def run_both(program):
    """program() -> a list of arrays/values; returns (C path result, Python path result)."""
    with warnings.catch_warnings(record=True) as w1:
        warnings.simplefilter("always")
        fast = program()
    with python_path(), warnings.catch_warnings(record=True) as w2:
        warnings.simplefilter("always")
        slow = program()
    return fast, slow, [str(w.message) for w in w1], [str(w.message) for w in w2]


def same(fast, slow):
    assert len(fast) == len(slow)
    for f, s in zip(fast, slow):
        if isinstance(f, (np.ndarray, np.generic)) or isinstance(s, (np.ndarray, np.generic)):
            assert bits(f) == bits(s)
        else:
            assert f == s


SPECIAL = [0.0, -0.0, 1.0, -2.5, 1e-310, -1e-300, 1e300, -1e308, np.inf, -np.inf, np.nan, 3e38, 1e-40,
           1.7e308, 2.2250738585072014e-308, 1.1754943508222875e-38]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("op", list(OPS))
@pytest.mark.parametrize("shape", [(), (1,), (16,), (3, 5), (1024,), (1025,)])
def test_forward_and_backward_bits_match_the_python_path(dtype, op, shape):
    rng = np.random.default_rng(abs(hash((op, shape))) % 2**32)
    n = int(np.prod(shape))
    a0 = rng.standard_normal(n) * 10.0 ** rng.integers(-3, 4, n)
    b0 = rng.standard_normal(n)
    a0[: min(n, 3)] = [0.0, -0.0, 1.0][: min(n, 3)]
    a0, b0 = a0.astype(dtype).reshape(shape), b0.astype(dtype).reshape(shape)
    scalars = [0.1, -3, 2.0 ** 60, 1e-7, 0.0, 7]

    def program():
        out = []
        for s in scalars:
            for left in (False, True):
                x = re.tensor(a0, requires_grad=True)
                y = re.tensor(b0, requires_grad=True)
                z = apply(op, s, x) if left else apply(op, x, s)
                w = apply(op, z, y)
                u = apply(op, w, w)  # the same Variable as both operands
                u.backward(np.ones(shape, dtype))
                out += [z.data, w.data, u.data, x.grad.data, y.grad.data, type(u.grad_fn).__name__]
        return out

    fast, slow, wf, ws = run_both(program)
    same(fast, slow)
    assert wf == ws


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("op", list(OPS))
def test_values_numpy_flags_fall_back_to_numpy_warnings_included(dtype, op):
    vals = np.array(SPECIAL, dtype=np.float64)
    with np.errstate(all="ignore"):
        vals = vals.astype(dtype)

    def program():
        out = []
        for v in vals:
            for w in vals:
                x = re.tensor(np.array([v], dtype), requires_grad=True)
                y = re.tensor(np.array([w], dtype), requires_grad=True)
                z = apply(op, x, y)
                z.backward(np.ones(1, dtype))
                out += [z.data, x.grad.data, y.grad.data]
                for s in (float(w), 1e300, 1e-300, 2 ** 53 + 1, -(2 ** 70)):
                    out.append(apply(op, x, s).data)
                    out.append(apply(op, s, x).data)
        return out

    fast, slow, wf, ws = run_both(program)
    same(fast, slow)
    assert wf == ws


@pytest.mark.parametrize("setting", ["raise", "warn"])
def test_errstate_is_honoured(setting):
    x = re.tensor([1e308], requires_grad=True)
    with np.errstate(over=setting, under=setting):
        if setting == "raise":
            with pytest.raises(FloatingPointError):
                x * 10.0
            with pytest.raises(FloatingPointError):
                re.tensor([1e-300]) * 1e-300
            with pytest.raises(FloatingPointError):
                re.tensor([1e-300]) * re.tensor([1e-300])
        else:
            with pytest.warns(RuntimeWarning, match="overflow"):
                x * 10.0
            with pytest.warns(RuntimeWarning, match="underflow"):
                re.tensor([1e-300], dtype=re.float64) * 1e-300


def test_float32_scalar_is_rounded_to_float32_first_like_numpy():
    rng = np.random.default_rng(0)
    a = rng.standard_normal(1000).astype(np.float32)
    for s in (rng.standard_normal(50) * 10.0 ** rng.integers(-30, 30, 50)).tolist():
        for op, uf in OPS.items():
            with np.errstate(all="ignore"):
                want1, want2 = uf(a, s), uf(s, a)
            for got, want in ((apply(op, re.tensor(a), s).data, want1), (apply(op, s, re.tensor(a)).data, want2)):
                assert bits(got) == bits(want)


def test_graph_structure_and_saved_values_are_those_of_the_python_forward():
    def program():
        x = re.tensor([1.0, 2.0], requires_grad=True)
        c = re.tensor([3.0, 4.0])  # a constant Variable: an edge to None
        arr = np.array([5.0, 6.0])  # a plain ndarray operand
        out = []
        for y in (x * c, c * x, x / 2.0, 2.0 / x, x - arr, arr - x, x + x, x * arr):
            gf = y.grad_fn
            out += [gf.name(), len(gf.next_functions), tuple(type(n).__name__ for n, _ in gf.next_functions),
                    tuple(nr for _, nr in gf.next_functions), gf.needs_input_grad, y.requires_grad, y.is_leaf]
            out += [t if isinstance(t, float) else np.asarray(t) for t in (gf.saved_tensors or ())]
        return out

    fast, slow, _, _ = run_both(program)
    same(fast, slow)


def test_saved_value_modified_in_place_raises_the_version_error():
    for path in (contextlib.nullcontext, python_path):
        with path():
            x = re.tensor([1.0, 2.0], requires_grad=True)
            h = x * 2.0
            y = h * h
            h.add_(1.0)
            with pytest.raises(RuntimeError, match="modified by an inplace operation") as e:
                y.sum().backward()
            assert "is at version 1; expected version 0" in str(e.value)


def test_second_backward_raises_and_retain_graph_accumulates():
    x = re.tensor([2.0], requires_grad=True)
    y = (x * x * 3.0 / 2.0 - 1.0).sum()
    y.backward(retain_graph=True)
    y.backward()
    assert x.grad.tolist() == [12.0]
    with pytest.raises(RuntimeError, match="Specify retain_graph=True"):
        y.backward()


def test_hooks_retain_grad_and_create_graph_through_the_c_path():
    def program():
        x = re.tensor([1.5, -0.5], requires_grad=True)
        h = x * x
        h.retain_grad()
        seen = []
        h.register_hook(lambda g: seen.append(g.data.copy()))
        k = h * 3.0
        k.register_hook(lambda g: g * 2.0)  # replaces the gradient
        (gx,) = re.autograd.grad((k + x).sum(), x, create_graph=True)
        (ggx,) = re.autograd.grad(gx.sum(), x)
        (k / 2.0 - x).sum().backward()
        return [gx.data, ggx.data, h.grad.data, x.grad.data] + seen

    fast, slow, _, _ = run_both(program)
    same(fast, slow)


def test_a_hook_returning_another_dtype_takes_the_python_backward():
    def program():
        x = re.tensor([1.5, -0.5], requires_grad=True)
        h = x * 3.0
        h.register_hook(lambda g: re.tensor(g.data.astype(np.float32)))
        (h * 2.0).sum().backward()
        return [x.grad.data]

    fast, slow, _, _ = run_both(program)
    same(fast, slow)


def test_no_grad_volatile_and_frozen_inputs_record_nothing():
    x = re.tensor([1.0], requires_grad=True)
    with re.no_grad():
        assert (x * 2.0).grad_fn is None and not (x * 2.0).requires_grad
    v = re.Variable(np.array([1.0]), volatile=True)
    assert (x * v).grad_fn is None and (x * v).volatile
    assert (re.tensor([1.0]) * 2.0).grad_fn is None


def test_bool_int_and_broadcast_operands_take_the_python_path():
    x = re.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="bool tensor is not supported"):
        x - re.tensor([True, False])
    assert (x * True).data.tolist() == [1.0, 2.0]
    y = x * re.tensor([[1.0], [2.0]])
    y.sum().backward()
    assert x.grad.tolist() == [3.0, 3.0] and y.shape == (2, 2)
    assert (re.tensor([1.0], dtype=re.float32) * re.tensor(2.0)).dtype == np.float32


def test_small_arrays_skip_the_python_forward_and_backward(monkeypatch):
    calls = []
    fwd, bwd = arith.Mul.forward, arith.Mul.backward
    monkeypatch.setattr(arith.Mul, "forward", staticmethod(lambda ctx, a, b: calls.append("f") or fwd(ctx, a, b)))
    monkeypatch.setattr(arith.Mul, "backward", staticmethod(lambda ctx, g: calls.append("b") or bwd(ctx, g)))
    x = re.tensor([1.0, 2.0], requires_grad=True)
    (x * 3.0).backward(np.ones(2))
    assert calls == [] and x.grad.tolist() == [3.0, 3.0]
    (re.tensor(np.ones(2000), requires_grad=True) * 3.0).backward(np.ones(2000))  # large: numpy's ufunc
    assert calls == ["f", "b"]
    with python_path():
        (x * 3.0).backward(np.ones(2))
    assert calls == ["f", "b", "f", "b"] and x.grad.tolist() == [6.0, 6.0]


@pytest.mark.parametrize("n", [1, 16])
def test_broadcast_gradients_of_sum_through_a_dag(n):
    def program():
        x = re.tensor(np.linspace(0.5, 1.5, n), requires_grad=True)
        level = [x * (1.0 + 1e-4 * i) for i in range(37)] + [2.0 - x, x / 3.0, 1.5 / x]
        while len(level) > 1:
            level = [level[i] + level[i + 1] if i + 1 < len(level) else level[i] for i in range(0, len(level), 2)]
        y = level[0] - x * x
        y.sum().backward()  # sum's gradient: a read-only broadcast (every stride 0)
        return [level[0].data, x.grad.data]

    fast, slow, wf, ws = run_both(program)
    same(fast, slow)
    assert wf == ws
