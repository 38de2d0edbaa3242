"""Oracles: numerical derivatives against closed forms; compare() semantics and its messages."""
from __future__ import annotations

import numpy as np

from conformance.checks import oracles as O
from conformance.spec.programs import Node, Program
from conformance.spec.tolerances import Tol, tolerance

TORCH64 = tolerance("torch-float64", "float64")
LOOSE = Tol(1, 1)


def _sin_sum(x: np.ndarray) -> Program:
    return Program([Node(value=x, requires_grad=True), Node("sin", (0,)), Node("mul", (1, 1)),
                    Node("sum", (2,), {"dim": None, "keepdim": False})], 3, "float64", None, "sin")


def test_numerical_grad_matches_closed_form() -> None:
    x = np.linspace(-2, 2, 7)
    g = O.numerical_grads(_sin_sum(x))[0]
    np.testing.assert_allclose(g, 2 * np.sin(x) * np.cos(x), rtol=1e-8, atol=1e-9)


def test_numerical_hvp_matches_closed_form() -> None:
    x = np.linspace(-2, 2, 5)
    w = {0: np.linspace(1, -1, 5)}
    hv = O.numerical_hvp(_sin_sum(x), [0], w)[0]
    np.testing.assert_allclose(hv, 2 * np.cos(2 * x) * w[0], rtol=1e-5, atol=1e-5)


def test_projections_agree_with_full_gradient() -> None:
    p = _sin_sum(np.linspace(-2, 2, 7))
    rng = np.random.default_rng(0)
    dirs = [rng.choice([-1.0, 1.0], size=7) for _ in range(3)]
    full = O.numerical_grads(p)[0]
    np.testing.assert_allclose(O.projected_derivatives(p, 0, dirs), [full @ d for d in dirs], rtol=1e-7)


def test_compare_catches_1e4_relative_error_in_float64_but_not_rounding() -> None:
    e = {"g": np.array([1.0, -2.0, 3.0])}
    assert not O.compare(e, {"g": e["g"] * (1 + 1e-4)}, TORCH64, "torch-float64").ok
    assert not O.compare(e, {"g": e["g"].astype(np.float32).astype(np.float64) * (1 + 1e-7)},
                         TORCH64, "torch-float64").ok
    assert O.compare(e, {"g": e["g"] * (1 + 4e-16)}, TORCH64, "torch-float64").ok


def test_compare_none_shape_nan() -> None:
    e = {"g": np.ones(3)}
    assert not O.compare(e, {"g": None}, LOOSE, "numerical").ok
    assert not O.compare(e, {"g": np.ones(4)}, LOOSE, "numerical").ok
    assert not O.compare(e, {"g": np.array([1.0, np.nan, 1.0])}, LOOSE, "numerical").ok
    assert O.compare({"g": None}, {"g": None}, Tol(0, 0), "numerical").ok


def test_compare_message_names_the_worst_element_the_numbers_the_tolerance_and_the_oracle() -> None:
    """Like gradcheck: where, got, expected, the error against the tolerance there, and whose numbers."""
    e = {"v0": np.array([[0.1, 0.2, 0.3], [0.4, 0.5, 0.62]])}
    o = {"v0": e["v0"].copy()}
    o["v0"][1, 2] = 0.31  # the worst element
    o["v0"][0, 0] += 1e-3  # also out of tolerance, by less
    c = O.compare(e, o, Tol(1e-6, 1e-6), "torch-float64")
    assert c.message == ("v0[1, 2]: got 0.31, expected 0.62 (abs err 0.31 > tol 1.6e-06, oracle torch-float64; "
                         "2 of 6 elements out of tolerance)")


def test_compare_message_shows_enough_digits_to_tell_the_numbers_apart() -> None:
    c = O.compare({"output": np.array(1.0)}, {"output": np.array(1.0000001)}, tolerance("numpy", "float64"), "numpy")
    assert c.message == "output: got 1.0000001, expected 1 (abs err 1e-07 > tol 2e-12, oracle numpy)"


def test_compare_message_says_none_and_shape_mismatches_plainly() -> None:
    tol = tolerance("numerical", "float64")
    assert O.compare({"v1": np.ones(3)}, {"v1": None}, tol, "numerical").message == (
        "v1: got None, expected an array of shape (3,) (oracle numerical)")
    assert O.compare({"v1": None}, {"v1": np.ones(3)}, tol, "numerical").message == (
        "v1: got an array of shape (3,), expected None (oracle numerical)")
    assert O.compare({"v0": np.ones(3)}, {"v0": np.ones((1, 3))}, tol, "numerical").message == (
        "v0: got shape (1, 3), expected shape (3,) (oracle numerical)")


def test_mpmath_derivatives() -> None:
    assert abs(O.mpmath_derivative("exp", 1.0) - np.e) < 1e-15
    assert abs(O.mpmath_derivative("tanh", 30.0) - 4 * np.exp(-60)) / (4 * np.exp(-60)) < 1e-10


def _huge_plus_small(x: float) -> Program:
    """1e10 + 1e-3 x: the gradient 1e-3 is far below what central differences of a 1e10 objective resolve."""
    return Program([Node(value=np.array([1e5])), Node("mul", (0, 0)), Node(value=np.array([x]), requires_grad=True),
                    Node(value=np.array([1e-3])), Node("mul", (2, 3)), Node("add", (1, 4)),
                    Node("sum", (5,), {"dim": None, "keepdim": False})], 6, "float64", None, "add")


def test_grad_vs_numerical_allows_the_rounding_of_a_huge_objective_but_not_a_wrong_gradient() -> None:
    """The numerical oracle's own error bound (difference_rounding): a right gradient of a 1e10 objective is
    not a finding, and a wrong one still is.  Without the bound, the right answer failed (refengine's svd vjp)."""
    from conformance.checks.properties import PROPERTIES
    from conformance.engines import resolve

    p = _huge_plus_small(0.3)
    fd = O.numerical_grads(p)[2]
    assert abs(fd[0] - 1e-3) > 1e-5  # the differences cannot see 1e-3 under 1e10's rounding
    check = PROPERTIES["grad_vs_numerical"].check
    assert check(resolve("refengine"), p).ok

    # the bound covers the differences' error (0.37 here), and only that: a gradient off by 1 still fails
    slack = O.difference_rounding(p) / (2 * O.step(p.nodes[2].value))
    assert abs(fd[0] - 1e-3) <= slack[0] < 1.0
    tol = O.tolerance_for(p, "numerical")
    assert O.compare({"v2": fd}, {"v2": np.array([1e-3])}, tol, "numerical", {"v2": slack}).ok
    assert not O.compare({"v2": fd}, {"v2": np.array([1e-3 + 1.0])}, tol, "numerical", {"v2": slack}).ok


def _fixture(name: str) -> Program:
    import json
    import pathlib

    from conformance.spec.program_json import decode_example
    return decode_example(json.loads((pathlib.Path(__file__).parent / "fixtures" / name).read_text()))


def test_forward_mode_and_second_order_checks_allow_the_differences_own_uncertainty_and_no_more() -> None:
    """svd programs drawn at ci --seed 0 whose objectives are 2e9 and 2.4e8: central differences of J u are off
    by 0.03 there, the Hessian stencil by ~20, and torch and refengine agree with each other.  Judged within
    the differences' own uncertainty (rounding, or the move at twice the step), right engines pass; an
    answer off by more still fails."""
    from conformance.checks.properties import PROPERTIES
    from conformance.checks.properties.forward import direction
    from conformance.engines import resolve

    jvp_p, hvp_p = _fixture("svd_large_objective_jvp_program.json"), _fixture("svd_large_objective_hvp_program.json")
    for engine in ("refengine", "torch"):
        assert PROPERTIES["jvp"].check(resolve(engine), jvp_p.copy()).ok, engine
        assert PROPERTIES["jvp_of_grad"].check(resolve(engine), hvp_p.copy()).ok, engine

    u = direction(hvp_p)
    leaves = hvp_p.grad_leaves
    exp = O.numerical_hvp(hvp_p, leaves, u)
    slack = O.hvp_uncertainty(hvp_p, leaves, u, exp)
    tol = O.tolerance_for(hvp_p, "numerical-2nd-order")
    (i,) = leaves
    bound = 2 * O.difference_rounding(hvp_p) / (4 * O._hvp_steps(hvp_p, leaves)[1] ** 2)
    assert float(np.max(slack[i])) > bound  # the step change shows more than the final sum's rounding
    wrong = {i: exp[i] + np.where(np.arange(exp[i].size).reshape(exp[i].shape) == 0, 200.0, 0.0)}
    assert not O.compare(named_(exp), named_(wrong), tol, "numerical-2nd-order", named_(slack)).ok


def named_(d: dict[int, np.ndarray]) -> dict[str, np.ndarray]:
    return {f"v{i}": v for i, v in d.items()}


def test_the_differences_uncertainty_is_tiny_where_they_are_accurate() -> None:
    """On a well-conditioned program the uncertainty adds ~nothing: a 1e-4 relative error still fails."""
    p = _sin_sum(np.linspace(-2, 2, 5))
    w = {0: np.linspace(1, -1, 5)}
    exp = O.numerical_hvp(p, [0], w)
    assert float(np.max(O.hvp_uncertainty(p, [0], w, exp)[0])) < 1e-6
    u = {0: np.linspace(-1, 1, 5)}
    assert float(np.max(O.jvp_uncertainty(p, u, O.numerical_jvp(p, u)))) < 1e-8


def test_the_transpose_bound_counts_the_cancelled_terms_of_both_modes() -> None:
    """normalize over one element (jax ci --seed 0): its Jacobian is exactly 0, formed from terms of size
    |u| / |x| ~ 3.4 that cancel.  jax's forward mode gave <v, J u> = 3.57e-16 and its reverse <J^T v, u> =
    -5.87e-16: each within about one rounding of those terms, 9.44e-16 apart, where the bound counting the
    cancelled terms once (one side's rounding) was 7.44e-16.  A wrong rule is off by a fraction of the terms."""
    from conformance.checks.properties.forward import direction, transpose_tolerance
    from conformance.spec.programs import Node, Program

    p = Program([Node(value=np.array([[0.2377796173095703]]), requires_grad=True),
                 Node("normalize", (0,), {"p": 2.0, "dim": 0})], 1, "float64", np.array([[-0.9735026359558105]]),
                "normalize")
    u = [direction(p)[0]]
    ju = np.array([[3.5662287517582767e-16 / -0.9735026359558105]])  # jax's J u, as <v, J u> gave it
    jtv = [np.array([[-5.873490410970278e-16]]) / u[0]]  # jax's J^T v, as <J^T v, u> gave it
    tol = transpose_tolerance(p, p.cotangent, ju, jtv, u)
    assert 9.44e-16 < tol < 1e-3 * float(np.abs(u[0]).max()) / 0.2377796173095703


def test_the_transpose_bound_counts_tanhs_cancelling_terms(monkeypatch) -> None:
    """tanh(sinh(x)) at x = -2.96 (ci --seed 0): tanh saturates, its derivative 1 - y^2 ~ 2e-8 is formed from
    terms of size 1, and jax's forward and reverse modes parted by 1.36e-15 there (6e-9 relative) where the bound
    without those terms was 4.5e-16.  With tanh's formula_scale the bound counts them; a wrong rule (off by a
    fraction of J u ~ 1.5e-7) is still far outside it."""
    from conformance.checks.properties.forward import transpose_tolerance
    from conformance.spec.ops import REGISTRY

    p = _fixture("tanh_saturated_transpose_program.json")
    (i,) = p.grad_leaves
    u = [np.array([0.75])]
    ju = O.numerical_jvp(p, {i: u[0]})
    v = p.cotangent
    jtv = [O.numerical_grads(p, [i])[i]]
    with_terms = transpose_tolerance(p, v, ju, jtv, u)
    import dataclasses
    monkeypatch.setitem(REGISTRY, "tanh", dataclasses.replace(REGISTRY["tanh"], formula_scale=None))
    without = transpose_tolerance(p, v, ju, jtv, u)
    assert without < 1.36e-15 < with_terms < 1e-3 * float(np.abs(ju).max())
