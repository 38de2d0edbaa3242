"""``--engine paddle``: PaddlePaddle's dygraph autograd through its own names (stop_gradient, retain_grads,
backward(grad_tensor=...), inplace_version), and the deviations docs/findings.md reports, pinned.

Skipped with a one-line reason when paddlepaddle is absent (``pip install 'autograd-conformance[paddle]'``).
"""
from __future__ import annotations

import warnings

import numpy as np
import pytest

import conformance
from conformance.engines import PEERS, resolve
from conformance.runner.results import Status

paddle = pytest.importorskip("paddle", reason="paddlepaddle not installed (pip install 'autograd-conformance[paddle]')")
warnings.filterwarnings("ignore", module="paddle")


@pytest.fixture(scope="module")
def A():
    return resolve("paddle")


def _x(A, v, rg=True, dtype="float64"):
    return A.leaf(np.array(v, dtype=dtype), dtype, rg)


def test_registered_and_capabilities(A):
    assert PEERS["paddle"].endswith("peers.paddle:PaddleAdapter")
    assert {"higher_order", "retain_grad", "hooks", "inplace", "no_grad", "retain_graph"} <= A.capabilities


def test_backward_with_grad_tensor_and_retain_grads(A):
    x = _x(A, [1.0, 2.0])
    y = A.apply("mul", [x, x], {})
    A.retain_grad(y)  # Tensor.retain_grads()
    A.backward(y, _x(A, [1.0, 3.0], rg=False))  # Tensor.backward(grad_tensor=...)
    np.testing.assert_allclose(A.grad_of(x), [2.0, 12.0])
    np.testing.assert_allclose(A.grad_of(y), [1.0, 3.0])
    assert not A.requires_grad(_x(A, [1.0], rg=False))


def test_freed_graph_raises_the_autograd_error(A):
    x = _x(A, [1.0, 2.0])
    y = A.apply("sum", [A.apply("mul", [x, x], {})], {"dim": None, "keepdim": False})
    A.backward(y)
    with pytest.raises(Exception) as e:
        A.backward(y)
    assert A.is_autograd_error(e.value)  # SystemError (Fatal): TensorWrappers of SumGradNode do not exist


def test_ops_conform_on_a_small_run(A):
    rr = conformance.run(A, profile="quick", ops=["sin", "matmul", "split", "transpose"],
                         properties=["grad_vs_torch", "forward"], dtypes=["float64"], corpus=False)
    assert all(r.status == Status.PASSED for r in rr.results), [(r.op, r.message) for r in rr.results]


# -- findings (docs/findings.md, PaddlePaddle): pinned so that a fix upstream shows here ---------------------
def test_P1_var_of_a_0d_tensor_has_no_gradient():
    x = paddle.to_tensor(np.array(0.82), dtype="float64", stop_gradient=False)
    paddle.var(x, unbiased=False).backward()
    assert x.grad is None  # torch: 0.0


def test_P4_cross_entropy_second_retained_backward_is_wrong():
    x = paddle.to_tensor(np.array([[0.82, -1.38]]), dtype="float64", stop_gradient=False)
    y = paddle.nn.functional.cross_entropy(x, paddle.to_tensor(np.array([0])), reduction="mean")
    y.backward(retain_graph=True)
    g1 = x.grad.numpy().copy()
    y.backward(retain_graph=True)
    assert not np.allclose(x.grad.numpy(), 2 * g1)  # torch: exactly 2 * g1


def test_P5_avg_pool2d_gradient_scale_is_float32_in_float64():
    x = paddle.to_tensor(np.full((1, 1, 3, 3), 0.5), dtype="float64", stop_gradient=False)
    paddle.nn.functional.avg_pool2d(x, 3, 1).backward()
    assert x.grad.numpy()[0, 0, 0, 0] == float(np.float32(1 / 9)) != 1 / 9
