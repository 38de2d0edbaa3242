"""``--engine tensorflow``: tf.GradientTape mapped to the harness's rules (persistent and non-persistent
tapes, watch, stop_gradient, non-scalar targets, higher order through a persistent tape).

Skipped with a one-line reason when TensorFlow is absent (``pip install 'autograd-conformance[tensorflow]'``).
TensorFlow's first import takes several seconds, so the adapter is built once.
"""
from __future__ import annotations

import numpy as np
import pytest

import conformance
from conformance.engines import PEERS, resolve
from conformance.runner.results import Status

tf = pytest.importorskip("tensorflow", reason="tensorflow not installed (pip install 'autograd-conformance[tensorflow]')")


@pytest.fixture(scope="module")
def A():
    return resolve("tensorflow")


def _x(A, v, rg=True):
    return A.leaf(np.array(v, dtype="float64"), "float64", rg)


def _sum(A, t):
    return A.apply("sum", [t], {"dim": None, "keepdim": False})


def test_registered_and_capabilities(A):
    assert PEERS["tensorflow"].endswith("peers.tensorflow:TensorFlowAdapter")
    assert not {"no_grad", "hooks", "inplace"} & A.capabilities  # no TensorFlow meaning: not-applicable


def test_watched_leaves_get_gradients_frozen_ones_do_not(A):
    x, c = _x(A, [1.0, 2.0]), _x(A, [3.0, 4.0], rg=False)
    A.backward(_sum(A, A.apply("mul", [x, c], {})))
    np.testing.assert_allclose(A.grad_of(x), [3.0, 4.0])
    assert A.grad_of(c) is None


def test_non_persistent_tape_is_single_use_retain_graph_uses_the_persistent_one(A):
    x = _x(A, [1.0, 2.0])
    y = _sum(A, A.apply("mul", [x, x], {}))
    A.backward(y, retain_graph=True)
    A.backward(y, retain_graph=True)
    np.testing.assert_allclose(A.grad_of(x), [4.0, 8.0])
    A.backward(y)  # the non-persistent tape's one use
    with pytest.raises(RuntimeError) as e:
        A.backward(y)
    assert A.is_autograd_error(e.value)


def test_accumulation_across_tapes_and_stop_gradient(A):
    x = _x(A, [1.0, 2.0])
    for _ in range(2):
        A.backward(_sum(A, A.apply("mul", [x, x], {})))
    np.testing.assert_allclose(A.grad_of(x), [4.0, 8.0])
    d = A.detach(A.apply("mul", [x, x], {}))
    assert not A.requires_grad(d)


def test_second_order_through_the_persistent_tape(A):
    x = _x(A, [0.5, 1.0])
    y = _sum(A, A.apply("sin", [x], {}))
    (g,) = A.grad([y], [x], [None], create_graph=True)
    (h,) = A.grad([_sum(A, g)], [x], [None])
    np.testing.assert_allclose(A.to_numpy(h), -np.sin([0.5, 1.0]))


def test_non_scalar_target_is_summed_a_documented_difference(A):
    x = _x(A, [1.0, 2.0])
    A.backward(A.apply("mul", [x, x], {}))  # torch raises; tape.gradient differentiates the sum
    np.testing.assert_allclose(A.grad_of(x), [2.0, 4.0])


def test_ops_conform_on_a_small_run(A):
    rr = conformance.run(A, profile="quick", ops=["sin", "matmul", "conv2d"], properties=["grad_vs_torch", "forward"],
                         dtypes=["float64"], corpus=False)
    assert all(r.status == Status.PASSED for r in rr.results), [(r.op, r.message) for r in rr.results]
