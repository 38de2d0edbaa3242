"""refengine's forward mode, with torch's API: ``refengine.autograd.forward_ad`` (dual_level,
make_dual, unpack_dual) and ``refengine.func.jvp``; explicit forward rules agree with the ones
derived from backward, and the harness's forward properties hold on refengine."""
from __future__ import annotations

import numpy as np
import pytest

import refengine as re
import refengine.autograd.forward_ad as fwAD
from conformance import run
from conformance.engines import resolve
from conformance.engines.adapter import FORWARD_AD
from conformance.runner.results import Status
from refengine.autograd.forward_ad import derived_jvp, explicit_rules


def _t(*values: float) -> re.Tensor:
    return re.tensor(np.array(values, dtype=np.float64))


def test_dual_tangent_is_the_directional_derivative() -> None:
    x0, u = np.array([0.3, -1.2, 2.0]), np.array([1.0, 0.5, -2.0])
    with fwAD.dual_level():
        x = fwAD.make_dual(_t(*x0), _t(*u))
        y = re.sin(x) * x + re.exp(x).sum()
        primal, tangent = fwAD.unpack_dual(y)
    np.testing.assert_allclose(primal.detach().numpy(), np.sin(x0) * x0 + np.exp(x0).sum())
    expected = (np.cos(x0) * x0 + np.sin(x0)) * u + np.exp(x0) @ u
    np.testing.assert_allclose(tangent.numpy(), expected, rtol=1e-14)


def test_tangents_of_constants_and_outside_a_level_are_none() -> None:
    with fwAD.dual_level():
        x = fwAD.make_dual(_t(1.0, 2.0), _t(1.0, 1.0))
        c = re.exp(_t(1.0, 2.0))  # no dual below it
        assert fwAD.unpack_dual(c).tangent is None
        assert fwAD.unpack_dual(_t(3.0)).tangent is None
        y = x * 2.0
    assert fwAD.unpack_dual(y).tangent is None  # the level is gone, and its tangents with it


def test_func_jvp_matches_torch_func_signature() -> None:
    def f(a, b):
        return a @ b, re.tanh(a).sum()

    a0, b0 = np.arange(6.0).reshape(2, 3) / 5, np.ones((3, 2))
    ta, tb = np.full((2, 3), 0.1), np.arange(6.0).reshape(3, 2)
    (out, s), (t_out, t_s) = re.func.jvp(f, (re.tensor(a0), re.tensor(b0)), (re.tensor(ta), re.tensor(tb)))
    np.testing.assert_allclose(out.numpy(), a0 @ b0)
    np.testing.assert_allclose(t_out.numpy(), ta @ b0 + a0 @ tb, rtol=1e-14)
    np.testing.assert_allclose(t_s.numpy(), np.sum((1 - np.tanh(a0) ** 2) * ta), rtol=1e-14)
    # an output independent of the primals: a zero tangent (torch.func's), not None
    _, t_const = re.func.jvp(lambda a: re.exp(_t(1.0)), (_t(1.0),), (_t(1.0),))
    assert t_const.numpy().tolist() == [0.0]


def test_misuse_raises_like_torch() -> None:
    with pytest.raises(RuntimeError, match="no active forward AD level"):
        fwAD.make_dual(_t(1.0), _t(1.0))
    with fwAD.dual_level():
        with pytest.raises(RuntimeError, match="different size"):
            fwAD.make_dual(_t(1.0, 2.0), _t(1.0))
        with pytest.raises(RuntimeError, match="same dtype"):
            fwAD.make_dual(_t(1.0), re.tensor(np.ones(1, np.float32)))
        with pytest.raises(RuntimeError, match="Nested forward mode AD"):
            with fwAD.dual_level():
                pass
    with pytest.raises(RuntimeError, match="length"):
        re.func.jvp(lambda a: a, (_t(1.0),), ())


def test_reverse_mode_through_a_dual_reaches_the_primal() -> None:
    """A dual of a leaf requiring grad is still on the leaf's graph: backward fills the leaf's .grad."""
    w = re.tensor(np.array([1.0, 2.0]), requires_grad=True)
    with fwAD.dual_level():
        x = fwAD.make_dual(w, _t(1.0, 0.0))
        y = (x * x).sum()
        assert fwAD.unpack_dual(y).tangent.numpy().tolist() == 2.0  # 2 w . u
        y.backward()
    assert w.grad.numpy().tolist() == [2.0, 4.0]


def test_forward_over_reverse_gives_the_hessian_vector_product() -> None:
    x0, u = np.array([0.5, -1.0]), np.array([1.0, 2.0])
    w = re.tensor(x0, requires_grad=True)
    with fwAD.dual_level():
        x = fwAD.make_dual(w, re.tensor(u))
        (g,) = re.autograd.grad((re.sin(x) * x[0]).sum(), [x], create_graph=True)
        hv = fwAD.unpack_dual(g).tangent.numpy()
    # f = x0 * (sin x0 + sin x1): H = [[2 cos x0 - x0 sin x0, cos x1], [cos x1, -x0 sin x1]]
    a, b = x0
    hess = np.array([[2 * np.cos(a) - a * np.sin(a), np.cos(b)], [np.cos(b), -a * np.sin(b)]])
    np.testing.assert_allclose(hv, hess @ u, rtol=1e-13)


@pytest.mark.parametrize("make", [
    lambda a, b: a * b, lambda a, b: a / b, lambda a, b: a - b, lambda a, b: re.atan2(a, b),
    lambda a, b: a @ b.reshape(3, 2), lambda a, b: re.tanh(a).sum(dim=1, keepdim=True) + b,
    lambda a, b: re.transpose(a, 0, 1).mean(dim=1) * re.log(b * b)[0],
    lambda a, b: re.softmax(a * b, dim=1), lambda a, b: re.log_softmax(a, dim=0),
    lambda a, b: re.where(np.array([[True, False, True], [False, False, True]]), a, b),
    lambda a, b: re.maximum(a, b[0]), lambda a, b: re.cumsum(a, dim=1), lambda a, b: re.split(a, 2, dim=1)[1],
], ids=["mul", "div", "sub", "atan2", "matmul", "tanh-sum-add", "transpose-mean-log", "softmax", "log_softmax",
        "where", "maximum", "cumsum", "split"])
def test_explicit_rules_agree_with_rules_derived_from_backward(make) -> None:
    """Each explicit jvp equals J t by transposition of the op's own backward (two independent routes)."""
    rng = np.random.default_rng(0)
    a0, b0 = rng.uniform(0.5, 2, (2, 3)), rng.uniform(0.5, 2, (2, 3))
    ta, tb = rng.uniform(-1, 1, (2, 3)), rng.uniform(-1, 1, (2, 3))
    with fwAD.dual_level():
        a, b = fwAD.make_dual(re.tensor(a0), re.tensor(ta)), fwAD.make_dual(re.tensor(b0), re.tensor(tb))
        y = make(a, b)
        explicit = fwAD.unpack_dual(y).tangent.numpy()
        lvl = fwAD._LEVELS[-1]
        node = y.grad_fn
        assert getattr(node._fn, "jvp", None) is not None  # the route under test is the explicit rule
        ins = [None if c is None else lvl.memo[id(c)][1][nr] for c, nr in node.next_functions]
        derived = derived_jvp(node, ins)[y.output_nr]
    np.testing.assert_allclose(explicit, derived.numpy(), rtol=1e-13, atol=1e-15)


def test_explicit_rules_cover_the_one_line_cases() -> None:
    names = set(explicit_rules())
    assert {"AddBackward0", "SubBackward0", "MulBackward0", "DivBackward0", "NegBackward0", "ExpBackward0",
            "SinBackward0", "TanhBackward0", "ReluBackward0", "SumBackward1", "MeanBackward1", "ViewBackward0",
            "TransposeBackward0", "ExpandBackward0", "MmBackward0", "Atan2Backward0", "TanBackward0",
            "SoftmaxBackward0", "LogSoftmaxBackward0", "WhereBackward0", "MaximumBackward0", "CumsumBackward0",
            "SplitBackward0"} <= names
    assert "CumprodBackward0" not in names  # derived from its backward


def test_refengine_declares_forward_ad_and_passes_the_forward_properties() -> None:
    A = resolve("refengine")
    assert FORWARD_AD in A.capabilities
    ops = ["sin", "mul", "matmul", "softmax", "layer_norm", "cumsum"]  # explicit and derived rules
    rr = run(A, profile="quick", ops=ops, properties=["jvp", "jvp_vjp_transpose", "jvp_of_grad"], seed=0,
             corpus=False)
    assert all(r.status == Status.PASSED for r in rr.results), [(r.op, r.property, r.dtype, r.message)
                                                                for r in rr.results if r.status != Status.PASSED]
    assert len(rr.results) == len(ops) * 5  # jvp and the transpose rule in two dtypes, jvp_of_grad in float64
