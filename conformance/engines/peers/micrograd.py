"""``--engine micrograd``: Karpathy's micrograd 0.1.0, a scalar ``Value`` engine.

Scalars only (ND not declared), float64 only (Python floats).  Ops it has: ``+ - * /``,
``neg``, ``relu``, ``**`` with a constant exponent; ``sum``/``mean`` of a 0-d value (the
harness builds programs with them) are that value, recorded as ``x * 1.0``.  A leaf that
does not require grad is a plain Python float, micrograd's own way to write a constant.
A cotangent ``c`` is applied as ``(out * c).backward()`` (micrograd's backward takes no
argument).  micrograd never frees a graph, so RETAIN_GRAPH is declared: backward can be
called again on the same graph.  It never raises an autograd error of its own.

Samples it cannot express (n-d values, an op or a Value exponent it lacks) are rejected as
hypothesis examples: the harness does not yet restrict programs to an adapter's ND / has_op
(docs/findings.md, harness limitation H1).  Deep graphs (~1000 nodes) hit micrograd's
recursive topological sort; harness programs are far smaller.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from conformance.engines.adapter import FLOAT64, RETAIN_GRAPH, Adapter
from conformance.engines.peers import require
from conformance.engines.peers._functional import Misuse

OPS = {"add": lambda a, b: a + b, "sub": lambda a, b: a - b, "mul": lambda a, b: a * b, "div": lambda a, b: a / b,
       "neg": lambda a: -a, "relu": lambda a: a.relu(), "pow": lambda a, b: a ** b,
       "sum": lambda a: a * 1.0, "mean": lambda a: a * 1.0}


def _unsupported() -> None:
    from hypothesis import reject
    reject()


class MicrogradAdapter(Adapter):
    name = "micrograd"
    capabilities = frozenset({FLOAT64, RETAIN_GRAPH})

    def __init__(self) -> None:
        self.Value = require("micrograd.engine", "micrograd").Value

    def version(self) -> str | None:
        from importlib.metadata import version
        return version("micrograd")

    def has_op(self, op: str) -> bool:
        return op in OPS

    def leaf(self, value: np.ndarray, dtype: str, requires_grad: bool) -> Any:
        if np.ndim(value) != 0 or dtype != "float64":
            _unsupported()
        return self.Value(float(value)) if requires_grad else float(value)

    def apply(self, op: str, inputs: Sequence[Any], params: dict[str, Any]) -> Any:
        if op not in OPS or (op == "pow" and isinstance(inputs[1], self.Value)):
            _unsupported()
        if op == "relu" and not isinstance(inputs[0], self.Value):
            return self.Value(inputs[0]).relu()
        return OPS[op](*inputs)

    def backward(self, out: Any, gradient: Any = None, retain_graph: bool | None = None,
                 create_graph: bool = False) -> None:
        if not isinstance(out, self.Value):
            raise Misuse("backward of a constant")
        (out if gradient is None else out * float(gradient)).backward()

    def to_numpy(self, t: Any) -> np.ndarray:
        return np.array(float(t.data if isinstance(t, self.Value) else t))

    def grad_tensor(self, t: Any) -> Any:
        return t.grad if isinstance(t, self.Value) else None

    def grad_of(self, t: Any) -> np.ndarray | None:
        g = self.grad_tensor(t)
        return None if g is None else np.array(float(g))

    def dtype_of(self, t: Any) -> str:
        return "float64" if isinstance(t, (float, self.Value)) else type(t).__name__

    def is_leaf(self, t: Any) -> bool:
        return not isinstance(t, self.Value) or not t._prev

    def requires_grad(self, t: Any) -> bool:
        return isinstance(t, self.Value)

    def grad_fn_name(self, t: Any) -> str | None:
        return None if self.is_leaf(t) else t._op

    def detach(self, t: Any) -> Any:
        return float(t.data) if isinstance(t, self.Value) else t  # micrograd's idiom: use .data

    def is_autograd_error(self, exc: BaseException) -> bool:
        return isinstance(exc, Misuse)
