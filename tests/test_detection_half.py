"""The half-precision properties: float16 / bfloat16 cells for engines that declare them, caught on exactly the
op that loses precision, passed by torch and refengine."""
from __future__ import annotations

from conformance import run
from conformance.runner.results import Status

REDUCTIONS = ["sum", "mean", "var", "cumsum", "logsumexp"]


def test_half_accumulation_catches_a_float16_accumulator_on_sum_alone() -> None:
    from broken_engines.dtypes import SumAccumulatesInHalf

    rr = run(SumAccumulatesInHalf(), profile="ci", ops=REDUCTIONS, properties=["half_accumulation"], seed=0,
             corpus=False)
    failed = {(r.op, r.dtype) for r in rr.results if r.status.is_problem}
    assert failed == {("sum", "float16")}, [(r.op, r.dtype, r.status, r.message) for r in rr.results]
    (cell,) = [r for r in rr.results if r.op == "sum" and r.dtype == "float16"]
    assert cell.status == Status.FAILED and "torch's error" in cell.message, cell.message
    assert "accumulation in float16?" in cell.message, cell.message
    assert all(f.culprit == {"op": "sum"} and f.fault == "engine" for f in rr.findings())


def test_the_forward_and_gradient_bounds_let_the_float16_accumulator_pass_on_short_sums() -> None:
    """Recursive summation of a few elements is within the componentwise rounding bound: only the long
    reductions of half_accumulation tell a float16 accumulator from torch's float32 one."""
    from broken_engines.dtypes import SumAccumulatesInHalf

    rr = run(SumAccumulatesInHalf(), profile="ci", ops=["sum", "tanh"], properties=["half_forward", "half_grad"],
             seed=0, corpus=False)
    assert rr.conformant, [(r.op, r.dtype, r.message) for r in rr.results if r.status.is_problem]


def test_half_forward_catches_a_float16_op_returning_float32() -> None:
    from broken_engines.dtypes import TanhHalfUpcasts

    rr = run(TanhHalfUpcasts(), profile="ci", ops=["tanh", "exp", "sigmoid"], properties=["half_forward"], seed=0,
             corpus=False)
    failed = {(r.op, r.dtype) for r in rr.results if r.status.is_problem}
    assert failed == {("tanh", "float16")}, [(r.op, r.dtype, r.status, r.message) for r in rr.results]
    (cell,) = [r for r in rr.results if r.op == "tanh" and r.dtype == "float16"]
    assert "tanh(float16) returned float32; a float16 op must return float16" in cell.message, cell.message


def test_torch_and_refengine_pass_the_half_properties() -> None:
    for engine in ("torch", "refengine"):
        rr = run(engine, profile="ci", ops=["mul", "tanh", "softmax", "sum", "mean", "cumsum", "matmul"],
                 properties=["half_forward", "half_grad", "half_accumulation"], seed=0, corpus=False)
        assert rr.conformant, [(r.op, r.dtype, r.message) for r in rr.results if r.status.is_problem]
        assert any(r.status == Status.PASSED and r.dtype == "float16" for r in rr.results), engine


def test_half_cells_need_the_dtype_capability_and_an_op_torch_runs_in_it() -> None:
    from tinynp.adapter import TinyNp

    rr = run(TinyNp(), profile="ci", ops=["sum"], properties=["half_forward"], seed=0, corpus=False)
    assert {(r.dtype, r.status, r.message) for r in rr.results} == {
        ("float16", Status.NOT_APPLICABLE, "engine lacks dtype float16"),
        ("bfloat16", Status.NOT_APPLICABLE, "engine lacks dtype bfloat16")}
    rr = run("torch", profile="ci", ops=["cholesky"], properties=["half_forward"], seed=0, corpus=False)
    assert {r.status for r in rr.results} == {Status.NOT_APPLICABLE}
    assert all("torch cannot run cholesky in" in r.message for r in rr.results), [r.message for r in rr.results]


def test_quick_runs_no_half_cell() -> None:
    from conformance.runner.plan import plan
    from conformance.runner.profiles import PROFILES

    assert not [c for c in plan(PROFILES["quick"]) if c[2] in ("float16", "bfloat16")]
    assert {c[0].name for c in plan(PROFILES["ci"]) if c[2] == "float16"} == {
        "half_forward", "half_grad", "half_accumulation"}


def test_std_gradient_bound_counts_the_rounding_of_x_minus_mean(monkeypatch) -> None:
    """std over two float16 values 0.036 apart (drawn at ci, seed 0): torch's float16 gradient rounds x - mean,
    terms of size 1.5, then divides by std = 0.026, and misses float64 by 0.03.  Over two elements the
    gradient's own Jacobian is 0 along that error, so only std's declared formula_scale bounds it; without the
    declaration torch itself failed half_grad.  std's forward bound does not grow with it (forward_scale)."""
    import dataclasses

    import numpy as np

    from conformance.checks import oracles as O
    from conformance.checks import rounding as R
    from conformance.spec.ops import REGISTRY
    from conformance.spec.programs import Node, Program

    x = np.array([[1.375, -0.9892578125, 1.4892578125, 0.92138671875],
                  [-1.7392578125, -0.99609375, 1.525390625, -0.034820556640625]], dtype=np.float16)
    cot = np.array([0.60791015625, 1.376953125, -1.53125, 1.1201171875], dtype=np.float16)
    p = Program([Node(value=x, requires_grad=True), Node("std", (0,), {"dim": -2, "correction": 1, "keepdim": False})], 1,
                "float16", cot, "std")
    T = O.torch_adapter()
    leaf = T.leaf(x, "float16", True)
    T.backward(T.apply("std", [leaf], dict(p.nodes[1].params)), T.leaf(cot, "float16", False))
    got = R.as_float64(T.grad_of(leaf))
    _, expected = O.torch_grads(p)
    J, H = R.jacobians(p), R.gradient_hessians(p)
    error = np.abs(got - expected[0])
    assert float(error[0, 2]) > 0.02  # the case itself: torch's own float16 gradient is this far off
    bound = R.gradient_bounds(p, expected, J, H)[0]
    assert np.all(error <= bound)
    # coarse where a slice's std is tiny (the scale is one number per program: column 1's std is 0.0048), yet a
    # gradient twice the right one still fails
    assert np.any(np.abs(expected[0]) > bound)
    forward = R.forward_bound(p, p.evaluate()[1], J)
    monkeypatch.setitem(REGISTRY, "std", dataclasses.replace(REGISTRY["std"], formula_scale=None, forward_scale=None))
    assert not np.all(error <= R.gradient_bounds(p, expected, J, H)[0])
    assert np.array_equal(forward, R.forward_bound(p, p.evaluate()[1], J))


def test_gradient_hessians_take_one_side_at_the_edge_of_a_domain() -> None:
    """A binary_cross_entropy target of exactly 0 or 1 (drawn at ci, seed 0): torch refuses a target moved
    outside [0, 1], so the Hessian of the gradient in the target is a one-sided difference there.  Before,
    half_grad errored inside the harness on both refengine and torch."""
    import numpy as np

    from conformance.checks import rounding as R
    from conformance.checks.properties import PROPERTIES
    from conformance.engines import resolve
    from conformance.spec.programs import Node, Program

    x = np.array([[0.66748046875, 0.8125, 0.62451171875], [0.875, 0.179443359375, 0.274169921875],
                  [0.826171875, 0.446044921875, 0.375]])
    target = np.array([[0.0, 1.0, 0.417236328125], [0.76953125, 0.162841796875, 0.96337890625],
                       [0.8798828125, 0.125, 0.66455078125]])
    cot = np.array([[1.0234375, 0.4521484375, -0.95751953125], [1.2392578125, 1.759765625, -0.125],
                    [-1.005859375, 1.7998046875, 0.732421875]])
    p = Program([Node(value=x, requires_grad=True), Node(value=target),
                 Node("binary_cross_entropy", (0, 1), {"reduction": "none"})], 2, "float16", cot,
                "binary_cross_entropy")
    H = R.gradient_hessians(p)[0][1]  # d grad(input) / d target: -v / (x (1 - x)) on the diagonal
    expected = -cot.reshape(-1) / (x * (1 - x)).reshape(-1)
    assert np.allclose(np.diag(H), expected, rtol=1e-6)
    for engine in ("refengine", "torch"):
        ev = PROPERTIES["half_grad"].check(resolve(engine), p)
        assert ev.ok, (engine, ev.message)
