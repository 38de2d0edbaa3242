"""The adapter for tinynp (tests/tinynp/engine.py): NumpyStyleAdapter does the ops and the reading.

Run it with ``conformance run --engine tinynp.adapter:TinyNp --expect tinynp/expect.toml`` from
tests/.  Capabilities: float64, float32, nd (the base's) and retain_graph: tinynp keeps every
graph alive, so backward can run twice -- and never raises for it, which expect.toml records.
Not declared: functional_grad / higher_order (no ``grad`` function), hooks, in-place, grad mode.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from conformance import ConfigError, NumpyStyleAdapter
from conformance.engines.adapter import RETAIN_GRAPH


class TinyNp(NumpyStyleAdapter):
    name = "tinynp"
    capabilities = NumpyStyleAdapter.capabilities | {RETAIN_GRAPH}

    def __init__(self) -> None:
        try:
            from tinynp import engine
        except ImportError as e:
            raise ConfigError(f"tinynp is not importable: {e}") from None
        self.xp = engine  # add, subtract, multiply, sum(x, axis=, keepdims=), swapaxes, ...

    def values(self, t: Any) -> Any:
        return t.data

    def leaf(self, value: np.ndarray, dtype: str, requires_grad: bool) -> Any:
        return self.xp.Tensor(np.array(value, dtype=dtype), requires_grad=requires_grad)

    def backward(self, out: Any, gradient: Any = None, retain_graph: bool | None = None,
                 create_graph: bool = False) -> None:
        out.backward(gradient)  # gradient: None, or a leaf made by leaf(..., requires_grad=False)

    def grad_tensor(self, t: Any) -> Any:
        return t.grad  # an ndarray, or None

    def is_leaf(self, t: Any) -> bool:
        return t.grads is None  # made by leaf(), or by an op on tensors that need no grad

    def requires_grad(self, t: Any) -> bool:
        return t.requires_grad

    def grad_fn_name(self, t: Any) -> str | None:
        return t.op

    def zero_grad(self, t: Any) -> None:
        t.grad = None

    def detach(self, t: Any) -> Any:
        return self.xp.Tensor(t.data.copy())

    def is_autograd_error(self, exc: BaseException) -> bool:
        return isinstance(exc, self.xp.BackwardError)  # tinynp's refusal: backward() of a non-scalar
