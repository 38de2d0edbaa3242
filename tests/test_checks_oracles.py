"""Oracles: numerical derivatives against closed forms; compare() semantics."""
from __future__ import annotations

import numpy as np

from conformance.checks import oracles as O
from conformance.spec.programs import Node, Program


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
    assert not O.compare(e, {"g": e["g"] * (1 + 1e-4)}, *O.TOL_TORCH["float64"]).ok
    assert not O.compare(e, {"g": e["g"].astype(np.float32).astype(np.float64) * (1 + 1e-7)},
                         *O.TOL_TORCH["float64"]).ok
    assert O.compare(e, {"g": e["g"] * (1 + 4e-16)}, *O.TOL_TORCH["float64"]).ok


def test_compare_none_shape_nan() -> None:
    e = {"g": np.ones(3)}
    assert not O.compare(e, {"g": None}, 1, 1).ok
    assert not O.compare(e, {"g": np.ones(4)}, 1, 1).ok
    assert not O.compare(e, {"g": np.array([1.0, np.nan, 1.0])}, 1, 1).ok
    assert O.compare({"g": None}, {"g": None}, 0, 0).ok


def test_mpmath_derivatives() -> None:
    assert abs(O.mpmath_derivative("exp", 1.0) - np.e) < 1e-15
    assert abs(O.mpmath_derivative("tanh", 30.0) - 4 * np.exp(-60)) / (4 * np.exp(-60)) < 1e-10
