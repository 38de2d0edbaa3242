"""Third-party engine adapters (conformance/engines/peers) on a small profile.

Each engine's tests are skipped with a one-line reason when its package is absent
(``pip install 'autograd-conformance[peers]'``; tinygrad also needs ``clang``).  Adapters are
built once per module (jax's import is slow).  Every test can fail: besides checking values,
each engine is wrapped so that its gradients are slightly wrong, and the harness must say so.
"""
from __future__ import annotations

import importlib
import shutil

import numpy as np
import pytest

from conformance.engines import PEERS, resolve
from conformance.errors import ConfigError
from conformance.runner.results import Status

ENGINES = {  # engine name -> the module whose absence skips it
    "micrograd": "micrograd", "tinygrad": "tinygrad", "mygrad": "mygrad", "autograd": "autograd", "jax": "jax",
}
_BUILT: dict[str, object] = {}


def _adapter(name: str):
    pytest.importorskip(ENGINES[name], reason=f"{ENGINES[name]} not installed (pip install "
                                             f"'autograd-conformance[peers]')")
    if name == "tinygrad" and shutil.which("clang") is None:
        pytest.skip("tinygrad's CPU device needs clang (apt-get install -y clang)")
    if name not in _BUILT:
        _BUILT[name] = resolve(name)
    return _BUILT[name]


@pytest.fixture(params=list(ENGINES))
def engine(request):
    return _adapter(request.param)


def _value(A, shape, v):
    return np.full(shape, v) if shape else np.array(v)


def _sum(A, t):
    return A.apply("sum", [t], {"dim": None, "keepdim": False})


def _shape(A):
    return () if A.name == "micrograd" else (2, 3)


# -- building and differentiating ------------------------------------------------------------
def test_registered_names_resolve_to_peer_adapters():
    assert set(ENGINES) <= set(PEERS)  # the heavy engines (paddle, tensorflow, torch-compile) have their own tests
    for name, path in PEERS.items():
        mod, _, cls = path.partition(":")
        assert mod.startswith("conformance.engines.peers."), path
        assert hasattr(importlib.import_module(mod), cls)  # importing the adapter imports no engine


def test_missing_package_is_a_one_line_config_error():
    from conformance.engines.peers import require
    with pytest.raises(ConfigError) as e:
        require("no_such_engine_pkg_xyz", "xyz")
    msg = str(e.value)
    assert "\n" not in msg and "pip install 'autograd-conformance[peers]'" in msg


def test_leaf_apply_backward_grad_of(engine):
    A = engine
    shp = _shape(A)
    x = A.leaf(_value(A, shp, 1.5), "float64", True)
    y = A.leaf(_value(A, shp, -2.0), "float64", True)
    c = A.leaf(_value(A, shp, 3.0), "float64", False)
    # f = sum(x*y + x/c - relu(y)) : df/dx = y + 1/c, df/dy = x (relu(-2) is flat)
    xy = A.apply("mul", [x, y], {})
    xc = A.apply("div", [x, c], {})
    f = _sum(A, A.apply("sub", [A.apply("add", [xy, xc], {}), A.apply("relu", [y], {})], {}))
    np.testing.assert_allclose(A.to_numpy(f), np.sum(_value(A, shp, 1.5 * -2.0 + 0.5 - 0.0)))
    assert A.requires_grad(f) and not A.is_leaf(f) and A.grad_fn_name(f) is not None
    assert A.is_leaf(x) and A.grad_fn_name(x) is None
    A.backward(f)
    np.testing.assert_allclose(A.grad_of(x), _value(A, shp, -2.0 + 1 / 3.0), rtol=1e-12)
    np.testing.assert_allclose(A.grad_of(y), _value(A, shp, 1.5), rtol=1e-12)
    assert A.dtype_of(A.grad_tensor(x)) in ("float64", "int")  # micrograd: see docs/findings.md M3


def test_backward_with_cotangent(engine):
    A = engine
    shp = _shape(A)
    x = A.leaf(_value(A, shp, 2.0), "float64", True)
    out = A.apply("mul", [x, x], {})
    A.backward(out, A.leaf(_value(A, shp, 0.5), "float64", False))
    np.testing.assert_allclose(A.grad_of(x), _value(A, shp, 2.0), rtol=1e-12)  # 0.5 * 2x


def test_has_op_matches_apply(engine):
    from conformance.spec.ops import REGISTRY
    A = engine
    have = [op for op in REGISTRY if A.has_op(op)]
    assert {"add", "mul", "sum"} <= set(have)
    if A.name == "micrograd":
        assert set(have) <= {"add", "sub", "mul", "div", "neg", "relu", "pow", "sum", "mean"}
        assert "nd" not in A.capabilities
    else:
        assert "nd" in A.capabilities and len(have) >= 35


# -- the harness on this adapter ---------------------------------------------------------------
class _Skewed:
    """The engine, except that every gradient it reports is 0.1% too large."""

    def __init__(self, inner):
        self.__dict__["_a"] = inner

    def __getattr__(self, name):
        return getattr(self._a, name)

    def grad_of(self, t):
        g = self._a.grad_of(t)
        return None if g is None else np.asarray(g * 1.001)


def _cell(A, prop: str, op: str):
    from conformance import run
    (r,) = run(A, profile="quick", ops=None if op == "*" else [op], properties=[prop], dtypes=["float64"], seed=0,
               corpus=False).results
    return r


@pytest.mark.parametrize("op", ["mul", "add"])
def test_gradients_conform_and_a_wrong_gradient_is_caught(engine, op):
    ok = _cell(engine, "grad_vs_numerical", op)
    assert ok.status is Status.PASSED, ok.message
    bad = _cell(_Skewed(engine), "grad_vs_numerical", op)
    assert bad.status is Status.FAILED, (bad.status, bad.message)


@pytest.mark.parametrize("name", ["mygrad", "autograd", "jax"])
def test_comparisons_give_an_unrecorded_mask_that_selects_gradients(name):
    """eq/lt/gt results never require grad (the adapters' records used to say they did), and the mask, handed
    back as where's cond, is the engine's value (a record object there was truthy: where picked x everywhere)."""
    A = _adapter(name)
    for op in ("lt", "eq"):
        r = _cell(A, "comparison", op)
        assert r.status is Status.PASSED, (op, r.status, r.message)


def test_variable_state_properties_are_not_applicable_for_functional_engines():
    for name in ("jax", "autograd"):
        try:
            A = _adapter(name)
        except pytest.skip.Exception:
            continue
        for prop in ("retain_grad", "hooks", "inplace_version", "no_grad", "second_backward"):
            assert _cell(A, prop, "*").status is Status.NOT_APPLICABLE


def test_jax_runs_in_float64():
    A = _adapter("jax")
    x = A.leaf(np.array([1.0 + 1e-12]), "float64", True)
    assert A.dtype_of(x) == "float64" and A.to_numpy(x)[0] != 1.0


def test_functional_higher_order():
    for name in ("jax", "autograd", "tinygrad"):
        try:
            A = _adapter(name)
        except pytest.skip.Exception:
            continue
        x = A.leaf(np.array([1.0, 2.0]), "float64", True)
        one = A.leaf(np.array(1.0), "float64", False)
        f = _sum(A, A.apply("mul", [A.apply("mul", [x, x], {}), x], {}))  # sum x^3
        (g,) = A.grad([f], [x], [one], create_graph=True)  # 3x^2
        np.testing.assert_allclose(A.to_numpy(g), [3.0, 12.0])
        (h,) = A.grad([_sum(A, g)], [x], [one])  # 6x
        np.testing.assert_allclose(A.to_numpy(h), [6.0, 12.0], err_msg=name)


# -- engine facts the findings rely on (a fix upstream makes these fail: revisit docs/findings.md) --
def test_micrograd_second_backward_double_counts_intermediates():
    A = _adapter("micrograd")
    x = A.leaf(np.array(2.0), "float64", True)
    y = A.apply("mul", [x, x], {})
    z = A.apply("mul", [y, y], {})  # x^4: dz/dx = 32
    A.backward(z)
    A.backward(z)
    assert float(A.grad_of(x)) == 32.0 * 3  # torch with retain_graph: 64


def test_tinygrad_scalar_leaf_from_0d_array_gets_no_grad():
    _adapter("tinygrad")
    from tinygrad import Tensor, dtypes
    x = Tensor(np.array(2.0), dtype=dtypes.float64)  # what the adapter avoids (Tensor([v]).reshape(()))
    (x * x).backward()
    assert x.grad is None


def test_mygrad_does_not_accumulate_across_graphs():
    A = _adapter("mygrad")
    x = A.leaf(np.array([1.0, 2.0]), "float64", True)
    for _ in range(2):
        A.backward(_sum(A, A.apply("mul", [x, x], {})))
    np.testing.assert_array_equal(A.grad_of(x), [2.0, 4.0])  # torch: [4, 8]


def test_adapters_md_example_runs(tmp_path, monkeypatch):
    """The complete adapter shown in docs/adapters.md plugs in as documented and finds micrograd's bugs."""
    pytest.importorskip("micrograd", reason="micrograd not installed (pip install 'autograd-conformance[peers]')")
    from pathlib import Path
    text = (Path(__file__).resolve().parents[1] / "docs" / "adapters.md").read_text()
    code = text.split("### A complete small adapter", 1)[1].split("```python\n", 1)[1].split("```", 1)[0]
    (tmp_path / "my_micrograd.py").write_text(code)
    monkeypatch.syspath_prepend(str(tmp_path))
    A = resolve("my_micrograd:Micrograd")
    assert _cell(A, "grad_vs_numerical", "mul").status is Status.PASSED
    assert _cell(A, "retain_graph_twice", "mul").status is Status.FAILED  # docs/findings.md M1
