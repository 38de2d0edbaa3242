"""Forward mode: a wrong Jacobian-vector product with a correct backward is caught by the
oracle-free transpose rule, on exactly the op that has it."""
from __future__ import annotations

from broken_engines.forward import NormalizeJvpOff, SinJvpOff

from conformance import run
from conformance.runner.results import Status

OPS = ["sin", "cos", "mul"]


def test_jvp_vjp_transpose_catches_a_wrong_jvp_on_its_op() -> None:
    rr = run(SinJvpOff(), profile="quick", ops=OPS, properties=["jvp_vjp_transpose"], seed=0, corpus=False)
    status = {(r.op, r.dtype): r.status for r in rr.results}
    # both dtypes: the rule's bar is the dtype's rounding, far below the 1e-4 error even in float32
    assert status == {("sin", "float64"): Status.FAILED, ("sin", "float32"): Status.FAILED,
                      ("cos", "float64"): Status.PASSED, ("cos", "float32"): Status.PASSED,
                      ("mul", "float64"): Status.PASSED, ("mul", "float32"): Status.PASSED}, status
    failed = [r for r in rr.results if r.status == Status.FAILED]
    assert all("forward mode" in r.message and "reverse mode" in r.message for r in failed)
    assert [f.culprit for f in rr.findings()] == [{"op": "sin"}]


def test_reverse_mode_properties_do_not_see_it() -> None:
    """The backward is right: the bug lives in forward mode only (why the forward properties exist)."""
    rr = run(SinJvpOff(), profile="quick", ops=["sin"], properties=["grad_vs_torch", "vjp"], seed=0, corpus=False)
    assert all(r.status == Status.PASSED for r in rr.results), [(r.property, r.status, r.message) for r in rr.results]


def test_finite_differences_miss_it_in_float32_but_not_float64() -> None:
    """The jvp property (vs central differences) sees a 1e-4 error only where its tolerance is finer."""
    rr = run(SinJvpOff(), profile="quick", ops=["sin"], properties=["jvp"], seed=0, corpus=False)
    status = {r.dtype: r.status for r in rr.results}
    assert status == {"float64": Status.FAILED, "float32": Status.PASSED}, status


def test_the_rounding_bound_of_cancelling_formulas_still_sees_a_wrong_jvp() -> None:
    """normalize's bound counts the terms its formula cancels (1 / |x| each): a 1e-3 error stays visible."""
    rr = run(NormalizeJvpOff(), profile="quick", ops=["normalize"], properties=["jvp_vjp_transpose"], seed=0,
             corpus=False)
    status = {r.dtype: r.status for r in rr.results}
    assert status == {"float64": Status.FAILED, "float32": Status.FAILED}, status
    right = run(NormalizeJvpOff(), profile="quick", ops=["normalize"], properties=["grad_vs_torch"], seed=0,
                corpus=False)
    assert all(r.status == Status.PASSED for r in right.results), [(r.dtype, r.message) for r in right.results]
