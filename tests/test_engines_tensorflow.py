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

tf = pytest.importorskip("tensorflow",
                         reason="tensorflow not installed (pip install 'autograd-conformance[tensorflow]')")


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


def test_flip_of_several_dims_is_tf_reverse(A):
    # tnp.flip takes one int axis: a tuple of dims raised TypeError in the shared numpy table's mapping
    x = _x(A, np.arange(6.0).reshape(2, 3))
    y = A.apply("flip", [x], {"dims": (0, -1)})
    np.testing.assert_array_equal(A.to_numpy(y), np.arange(6.0).reshape(2, 3)[::-1, ::-1])
    A.backward(_sum(A, A.apply("mul", [y, _x(A, np.arange(6.0).reshape(2, 3), rg=False)], {})))
    np.testing.assert_array_equal(A.grad_of(x), np.arange(6.0).reshape(2, 3)[::-1, ::-1])


def test_std_is_reduce_std(A):
    # tnp.std has no ddof: the shared table's std(..., ddof=0) raised TypeError
    x = _x(A, [[1.0, 2.0, 4.0], [0.0, 3.0, 3.0]])
    y = A.apply("std", [x], {"dim": 1, "correction": 0, "keepdim": False})
    np.testing.assert_allclose(A.to_numpy(y), np.std(A.to_numpy(x), axis=1))


@pytest.mark.parametrize("op, v, params", [
    ("moveaxis", [1.0, 2.0], {"source": 0, "destination": 0}),  # tnp.moveaxis(x, d, d) returns x itself
    ("cumsum", 1.5, {"dim": 0}), ("sort", 1.5, {"dim": -1, "descending": False}),  # 0-d: the table returns x
    ("squeeze", [1.0, 2.0], {"dim": 0}),  # squeezing a non-1 dim: the table returns x
])
def test_an_op_that_returns_its_input_tensor_is_a_new_node(A, op, v, params):
    x = _x(A, v)
    y = A.apply(op, [x], params)
    assert y is not x and not A.is_leaf(y) and A.grad_fn_name(y) == op
    A.backward(y, _x(A, np.full(np.shape(v), 2.0), rg=False))  # the adapter's Misuse: backward of a leaf
    np.testing.assert_array_equal(A.grad_of(x), np.full(np.shape(v), 2.0))


def test_retain_grad_of_a_no_op_squeeze_is_its_own_gradient(A):
    # F3: the gradient with respect to the squeezed tensor is the gradient through it, not the input's whole one
    x = _x(A, [1.0, 2.0])
    y = A.apply("squeeze", [x], {"dim": 0})
    A.retain_grad(y)
    z = A.apply("add", [_sum(A, A.apply("mul", [y, y], {})), _sum(A, x)], {})
    A.backward(z)
    np.testing.assert_allclose(A.grad_of(y), [2.0, 4.0])
    np.testing.assert_allclose(A.grad_of(x), [3.0, 5.0])


def test_every_mapped_op_runs_forward(A):
    """Each op the adapter maps runs on TensorFlow tensors: the shared numpy-style composites once built their
    constants with np.asarray(v, dtype=tf.float64) ("Cannot interpret 'tf.float64' as a data type") and used
    tnp.pad's missing edge mode: 16 ops erred in the ci run (15 TypeErrors, pad)."""
    from conformance.spec.ops import REGISTRY
    ops = [op for op in REGISTRY if A.has_op(op) and op != "index"]  # index: F1, TF's rank-1 boolean masks
    rr = conformance.run(A, profile="quick", ops=ops, properties=["forward"], dtypes=["float64"], corpus=False)
    bad = [(r.op, r.message[:80]) for r in rr.results if r.status not in (Status.PASSED, Status.NOT_APPLICABLE)]
    assert not bad, bad


def test_softplus_and_log_sigmoid_are_tensorflows_own(A):
    """At x = 0 the shared table's compositions of tnp.logaddexp got TF's tie gradient (F8: 0 for softplus,
    not 1/2); tf.math.softplus and tf.math.log_sigmoid give the derivative."""
    for op, params, want in (("softplus", {"beta": 1.0}, 0.5), ("logsigmoid", {}, 0.5)):
        x = A.leaf(np.array([0.0]), "float64", True)
        A.backward(A.apply("sum", [A.apply(op, [x], params)], {"dim": None, "keepdim": False}))
        np.testing.assert_allclose(A.grad_of(x), [want], err_msg=op)
