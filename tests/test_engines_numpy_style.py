"""NumpyStyleAdapter: a small numpy engine's adapter really is ~60 lines, and the harness passes it.

``tests/tinynp`` stands for an engine the repository does not name: a ~150-line numpy reverse-mode
engine and its adapter on the base class, which docs/adapters.md shows verbatim.  Each test can
fail: the adapter's size is counted, the run must pass every cell it can ask, and the same
adapter with one wrong derivative must be caught.
"""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from tinynp import engine
from tinynp.adapter import TinyNp

from conformance import NumpyStyleAdapter, run
from conformance.engines.numpy_ops import numpy_ops
from conformance.runner.results import Status

ROOT = Path(__file__).resolve().parents[1]
ADAPTER = Path(__file__).resolve().parent / "tinynp" / "adapter.py"


def _code_lines(text: str) -> int:
    return sum(1 for line in text.splitlines() if line.strip())


def test_the_adapter_is_about_60_lines_and_is_the_one_docs_show() -> None:
    text = ADAPTER.read_text()
    assert _code_lines(text) <= 70, f"{ADAPTER.name}: {_code_lines(text)} non-blank lines"
    doc = (ROOT / "docs" / "adapters.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", doc, flags=re.DOTALL)
    assert text in blocks, "docs/adapters.md must show tests/tinynp/adapter.py verbatim"


def test_the_harness_passes_a_correct_numpy_engine() -> None:
    """Every cell it can ask passes but the one expect.toml records; rules without a capability are not-applicable."""
    rr = run(TinyNp(), profile="quick", ops=["add", "sum", "softmax"], seed=0, corpus=False,
             expect=ADAPTER.parent / "expect.toml")
    by = {(r.op, r.property, r.dtype): r for r in rr.results}
    bad = [f"{r.op} {r.property} {r.dtype}: {r.status.name} {r.message}" for r in rr.results
           if r.status in (Status.FAILED, Status.ERROR)]
    assert not bad and rr.conformant
    for prop in ("forward", "grad_vs_numerical", "grad_vs_torch", "vjp", "grad_dtype_shape", "retain_graph_twice",
                 "stability"):
        assert by[("softmax", prop, "float32")].status is Status.PASSED, prop
    for prop in ("leaf_rule", "accumulation", "freezing", "detach", "implicit_nonscalar"):
        assert by[("*", prop, "float64")].status is Status.PASSED, prop
    # tinynp keeps graphs alive: a second backward without retain_graph does not raise, as expect.toml says
    assert by[("*", "second_backward", "float64")].status is Status.EXPECTED_FAILURE
    na = by[("add", "higher_order", "float64")]
    assert na.status is Status.NOT_APPLICABLE and "functional_grad" in (na.message or "")


class WrongTanh(TinyNp):
    """tanh' = 1 - tanh(x) (not squared): a wrong derivative, through ``engine_ops``."""

    def engine_ops(self):
        def tanh(i, p):
            x = i[0]
            return engine.Tensor(np.tanh(x.data), parents=[x], grads=lambda g: [g * (1 - np.tanh(x.data))], op="tanh")
        return {"tanh": tanh}


def test_a_wrong_derivative_fails_and_engine_ops_replace_the_table() -> None:
    rr = run(WrongTanh(), profile="quick", ops=["tanh"], properties=["forward", "grad_vs_numerical"],
             dtypes=["float64"], seed=0, corpus=False)
    status = {r.property: r.status for r in rr.results}
    assert status == {"forward": Status.PASSED, "grad_vs_numerical": Status.FAILED}


def test_ops_the_module_lacks_are_left_out() -> None:
    A = TinyNp()
    assert A.has_op("add") and A.has_op("transpose") and A.has_op("cross_entropy")  # swapaxes; composite + indexing
    assert not A.has_op("sqrt") and not A.has_op("relu") and not A.has_op("var")  # no sqrt, maximum, var

    class NoMax(TinyNp):  # the composite log_softmax needs max: without it no softmax, the rest stays
        def __init__(self) -> None:
            self.xp = type("xp", (), {n: getattr(engine, n) for n in ("add", "exp", "log", "sum", "subtract")})

    assert NoMax().has_op("add") and not NoMax().has_op("softmax") and not NoMax().has_op("log_softmax")


def test_numpy_conventions_are_translated() -> None:
    """dim of a 0-d input, a squeeze of a non-1 dim, expand's -1: torch's meaning, numpy's spelling."""
    ops = numpy_ops(np, None)
    x = np.arange(6.0).reshape(2, 3)
    assert ops["sum"]([np.array(2.0)], {"dim": 0, "keepdim": False}) == 2.0
    assert ops["squeeze"]([x], {"dim": 0}).shape == (2, 3)
    assert ops["expand"]([np.ones((3, 1))], {"shape": (2, -1, 4)}).shape == (2, 3, 4)
    assert ops["flatten"]([np.ones((2, 3, 4))], {"start_dim": 1, "end_dim": -1}).shape == (2, 12)


def test_a_subclass_that_forgets_a_hook_is_told_which() -> None:
    class NoXp(NumpyStyleAdapter):
        leaf = backward = is_leaf = requires_grad = grad_fn_name = lambda self, *a, **k: None

    with pytest.raises(NotImplementedError, match="must set self.xp"):
        NoXp().has_op("add")
    with pytest.raises(NotImplementedError, match="grad_tensor"):
        NoXp().grad_of(object())
