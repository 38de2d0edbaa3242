"""``--engine torch-compile``: programs compiled whole by torch.compile (aot_eager), and the proof that
compiled code ran -- a program dynamo ran eagerly is an error of the cell, never a pass.

Skipped with a one-line reason when torch is absent.  Small on purpose: every new program costs a
compile (~0.3 s).
"""
from __future__ import annotations

import numpy as np
import pytest

import conformance
from conformance.engines import PEERS, resolve
from conformance.engines.contract import checked
from conformance.runner.results import Status

torch = pytest.importorskip("torch", reason="torch not installed (pip install torch==2.13.0)")

from conformance.engines.peers.torch_compile import CompiledCallError, NotCompiled, TorchCompileAdapter  # noqa: E402


@pytest.fixture(scope="module")
def A():
    return resolve("torch-compile")


def _program(A, x):
    """sum(sin(x) * c): three ops, one compiled function."""
    v = A.leaf(x, "float64", True)
    c = A.leaf(np.full(x.shape, 0.5), "float64", False)
    out = A.apply("sum", [A.apply("mul", [A.apply("sin", [v], {}), c], {})], {"dim": None, "keepdim": False})
    return v, out


def test_registered():
    assert PEERS["torch-compile"].endswith("torch_compile:TorchCompileAdapter")
    assert PEERS["torch-compile:inductor"].endswith("torch_compile:InductorAdapter")


def test_program_is_one_compiled_function_with_an_aot_autograd_backward(A):
    x = np.array([0.3, -1.2, 2.0])
    v, out = _program(A, x)
    A.backward(out)
    np.testing.assert_allclose(A.grad_of(v), 0.5 * np.cos(x), rtol=1e-12)
    assert A.grad_fn_name(out) == "CompiledFunctionBackward"  # AOTAutograd's node, not eager SumBackward0
    assert A.is_leaf(v) and A.grad_fn_name(v) is None


def test_a_program_seen_before_is_not_compiled_again(A):
    x = np.array([0.1, 0.2, 0.4])
    _, out = _program(A, x)
    A.to_numpy(out)
    n = A.compiles
    v, out = _program(A, x + 1.0)  # same structure and shapes, other values
    A.backward(out)
    assert A.compiles == n
    np.testing.assert_allclose(A.grad_of(v), 0.5 * np.cos(x + 1.0), rtol=1e-12)


def test_second_backward_raises_and_dynamo_errors_are_not_autograd_errors(A):
    _, out = _program(A, np.array([0.5, 0.25]))
    A.backward(out)
    with pytest.raises(RuntimeError) as e:
        A.backward(out)
    assert A.is_autograd_error(e.value)
    from torch._dynamo.exc import Unsupported
    assert not A.is_autograd_error(Unsupported("graph break"))
    assert not A.is_autograd_error(NotCompiled("eager"))


def test_double_backward_is_refused_so_higher_order_is_not_declared(A):
    assert "higher_order" not in A.capabilities
    v, out = _program(A, np.array([0.5, 0.25]))
    (g,) = A.grad([out], [v], [None], create_graph=True)
    s = A.apply("sum", [g], {"dim": None, "keepdim": False})
    with pytest.raises(RuntimeError, match="double backward"):
        A.grad([s], [v], [None])


def test_a_program_dynamo_did_not_compile_is_an_error_not_a_pass():
    """TORCHDYNAMO_DISABLE (dynamo's kill switch) makes torch.compile run programs eagerly; with fullgraph
    torch 2.13 refuses instead, and the cell is an ERROR saying so (not torch's autograd-error category)."""
    A = TorchCompileAdapter()
    with torch._dynamo.config.patch(disable=True):
        with pytest.raises(CompiledCallError, match="no compiled frames"):  # torch's own fullgraph check
            A.to_numpy(_program(A, np.array([0.5, 0.25]))[1])
        rr = conformance.run(A, profile="quick", ops=["sin"], properties=["grad_vs_torch"], dtypes=["float64"],
                             corpus=False)
    (r,) = rr.results
    assert r.status == Status.ERROR and "no compiled frames" in r.message
    assert not A.is_autograd_error(CompiledCallError("x"))


class _SizeBlindCache(TorchCompileAdapter):
    """A cache key without sizes: every new size is a dynamo recompile of one function."""

    def _meta(self, a):
        return (str(a.dtype), a.ndim) if isinstance(a, torch.Tensor) else super()._meta(a)


def test_recompile_limit_raises():
    A = _SizeBlindCache()
    with torch._dynamo.config.patch(recompile_limit=1):
        A.to_numpy(_program(A, np.ones(2))[1])
        with pytest.raises(Exception, match="recompile_limit"):
            A.to_numpy(_program(A, np.ones(3))[1])


class _DynamoDefaults(_SizeBlindCache):
    """fullgraph=False and fail_on_recompile_limit_hit=False: dynamo's defaults, where past the recompile
    limit a function silently runs eagerly."""

    fullgraph = False


def test_a_program_dynamo_silently_ran_eagerly_fails_its_cell():
    A = _DynamoDefaults()
    with torch._dynamo.config.patch(recompile_limit=1, fail_on_recompile_limit_hit=False):
        A.to_numpy(_program(A, np.ones(2))[1])
        v, out = _program(A, np.ones(3))
        with pytest.raises(NotCompiled, match="ran eagerly"):  # torch computed it, eagerly: not a pass
            A.backward(out)
    A = _DynamoDefaults()
    with torch._dynamo.config.patch(recompile_limit=0, fail_on_recompile_limit_hit=False):  # every frame eager
        rr = conformance.run(A, profile="quick", ops=["sin"], properties=["grad_vs_torch"], dtypes=["float64"],
                             corpus=False)
    (r,) = rr.results
    assert r.status == Status.ERROR and "NotCompiled" in r.message and "eagerly" in r.message


def test_conformance_on_a_few_cells(A):
    rr = conformance.run(A, profile="quick", ops=["sin", "matmul"], properties=["grad_vs_torch", "forward"],
                         dtypes=["float64"], corpus=False)
    assert [r.status for r in rr.results] == [Status.PASSED] * 4, [r.message for r in rr.results]


def test_the_contract_check_compiles_a_program_once_not_once_per_op(A):
    """The contract check asks each op's shape as it is applied: shape_of answers from meta tensors, so the
    program is compiled once, when its value is read (it was compiled once per prefix: harness note H8)."""
    C = checked(A)
    n = A.compiles
    v, out = _program(C, np.linspace(0.1, 1.3, 7))  # a size no other test compiles
    assert A.compiles == n
    np.testing.assert_allclose(C.to_numpy(out), 0.5 * np.sum(np.sin(np.linspace(0.1, 1.3, 7))), rtol=1e-12)
    assert A.compiles == n + 1
    C.backward(out)
    assert A.compiles == n + 1 and A.grad_fn_name(out) == "CompiledFunctionBackward"


def test_shape_of_is_the_compiled_result_s_shape_and_a_value_dependent_one_is_computed(A):
    x = A.leaf(np.array([0.5]), "float32", True)
    m = A.apply("matmul", [x, A.leaf(np.array([[-0.9]]), "float32", False)], {})  # (1,) @ (1, 1): a view of (1,)
    s = A.apply("sum", [A.apply("softmax", [m], {"dim": 0})], {"dim": 0, "keepdim": True})
    n = A.compiles
    assert (A.shape_of(m), A.shape_of(s)) == ((1,), (1,)) and A.compiles == n
    assert A.to_numpy(m).shape == (1,) and A.to_numpy(s).shape == (1,) and A.to_numpy(s).dtype == np.float32
    mask = np.array([[True, False, True], [False, False, True]])  # boolean-mask indexing: no meta kernel
    y = A.apply("index", [A.apply("sin", [A.leaf(np.ones((2, 3)), "float64", True)], {})], {"index": (mask,)})
    n = A.compiles
    assert A.shape_of(y) == (3,) and A.compiles == n + 1


def test_a_region_whose_ops_all_died_unread_is_not_compiled(A):
    """A program built under no_grad and dropped (grad_mode_exception) leaves a region of dead ops; closing
    it (the grad mode changes) compiles nothing -- an empty program is one dynamo runs eagerly."""
    n = A.compiles
    with A.no_grad():
        A.apply("sin", [A.leaf(np.array(1.0), "float64", True)], {})
    v, out = _program(A, np.array([0.5, 0.25]))  # grad mode on again: the no_grad region is closed
    A.backward(out)
    np.testing.assert_allclose(A.grad_of(v), 0.5 * np.cos([0.5, 0.25]), rtol=1e-12)
    assert A.compiles <= n + 1


def test_a_comparison_mask_param_is_a_constant_of_the_compiled_program(A):
    """comparison hands the engine's own mask back as where's cond: it used to be written into the generated
    source as the object's repr (a SyntaxError, 6 errors at ci)."""
    rr = conformance.run(A, profile="quick", ops=["lt"], properties=["comparison"], dtypes=["float64"], seed=0,
                         corpus=False)
    assert [r.status for r in rr.results] == [Status.PASSED], [r.message for r in rr.results]
