"""Adapters: engine names resolve in one place, configuration errors are ConfigError, and
torchlike derives capabilities / ops from what a module exposes."""
from __future__ import annotations

import numpy as np
import pytest

from conformance import run
from conformance.engines import resolve
from conformance.errors import ConfigError
from conformance.runner.results import ANY_OP, Status


@pytest.mark.parametrize("name", ["nope", "torchlike:no_such_module_xyz", "no_such_pkg.mod:Cls",
                                  "conformance.runner.results:Result", "conformance.spec.ops:NotThere"])
def test_bad_engine_names_are_config_errors(name: str) -> None:
    with pytest.raises(ConfigError):
        resolve(name)


def test_torch_cuda_without_cuda_is_a_config_error() -> None:
    import torch
    if torch.cuda.is_available():
        pytest.skip("CUDA present")
    with pytest.raises(ConfigError, match="CUDA"):
        resolve("torch:cuda")


def test_adapter_basics_on_torch() -> None:
    A = resolve("torch")
    x = A.leaf(np.array([1.0, 2.0]), "float32", True)
    y = A.apply("mul", [x, x], {})
    assert A.dtype_of(x) == "float32" and A.is_leaf(x) and not A.is_leaf(y)
    assert A.grad_fn_name(y) == "MulBackward0" and A.grad_fn_name(x) is None
    A.backward(A.apply("sum", [y], {"dim": None, "keepdim": False}))
    g = A.grad_of(x)
    np.testing.assert_array_equal(g, [2.0, 4.0])
    g[0] = 99.0  # grad_of returns a copy
    assert A.grad_of(x)[0] == 2.0
    assert A.spec == "torch"


def test_partial_torchlike_module_gets_not_applicable_cells() -> None:
    A = resolve("tests.conformance_fixtures.minitorch".join(["torchlike:", ""]))
    assert "higher_order" not in A.capabilities and "no_grad" in A.capabilities
    assert A.has_op("sin") and not A.has_op("conv2d") and not A.has_op("exp")
    rr = run(A, profile="quick", ops=["sin", "conv2d"], properties=["grad_vs_torch", "higher_order", "leaf_rule"], corpus=False)
    st = {(r.op, r.property, r.dtype): r.status for r in rr.results}
    assert st[("sin", "grad_vs_torch", "float64")] == Status.PASSED
    assert st[("conv2d", "grad_vs_torch", "float64")] == Status.NOT_APPLICABLE
    assert st[("sin", "higher_order", "float64")] == Status.NOT_APPLICABLE
    assert st[(ANY_OP, "leaf_rule", "float64")] == Status.PASSED  # programs only use ops the module has
