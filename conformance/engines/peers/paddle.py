"""``--engine paddle``: PaddlePaddle 3.x on CPU (eager "dygraph" mode), float64 and float32.

``pip install 'autograd-conformance[paddle]'`` (the CPU wheel, ~870 MB installed).

Ops are Paddle's own functions with Paddle's argument names, a data table in ``paddle_ops``
(which says what is translated from torch's conventions and which registry ops Paddle has no
function for).  A leaf is ``paddle.to_tensor(value, dtype, stop_gradient=not requires_grad)``.

Paddle's names for the autograd API, handled here (not in the properties):

* ``requires_grad`` is ``not stop_gradient``;
* the cotangent of ``backward`` is ``Tensor.backward(grad_tensor=..., retain_graph=...)``;
  ``create_graph`` exists only on ``paddle.grad`` (``Adapter.grad``), which is what the harness uses;
* ``retain_grad()`` is ``Tensor.retain_grads()``;
* ``.grad = None`` resets a gradient (``clear_grad()`` would set it to zeros);
* the version counter is ``Tensor.inplace_version``; in-place ops are ``add_`` / ``multiply_``;
* ``grad_fn`` is read as Paddle reports it (``Tensor.grad_fn.name()``), leaves included.

Capabilities: everything Paddle's dygraph autograd has -- float64, float32, nd,
functional_grad and higher_order (``paddle.grad(create_graph=True)``), hooks
(``register_hook``), inplace (``inplace_version``; backward raises on a stale saved tensor),
retain_grad, no_grad + decorator (``paddle.no_grad``, ``enable_grad``, ``set_grad_enabled``,
``is_grad_enabled``), retain_graph (a freed graph raises).  Autograd misuse is raised as
``RuntimeError`` (PermissionDenied, PreconditionNotMet) or ``SystemError`` (Fatal, e.g. a
second backward through a freed graph): both are the autograd-error category.

Process-wide state: ``paddle.set_device("cpu")``.
"""
from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from typing import Any

import numpy as np

from conformance.engines.adapter import (
    FLOAT32,
    FLOAT64,
    FUNCTIONAL_GRAD,
    GRAD_MODE_DECORATOR,
    HIGHER_ORDER,
    HOOKS,
    INPLACE,
    ND,
    NO_GRAD,
    RETAIN_GRAD,
    RETAIN_GRAPH,
    Adapter,
    ConfigError,
)
from conformance.engines.peers import paddle_ops

HINT = "pip install 'autograd-conformance[paddle]'"


class PaddleAdapter(Adapter):
    name = "paddle"
    capabilities = frozenset({FLOAT64, FLOAT32, ND, FUNCTIONAL_GRAD, HIGHER_ORDER, HOOKS, INPLACE, RETAIN_GRAD,
                              NO_GRAD, GRAD_MODE_DECORATOR, RETAIN_GRAPH})

    def __init__(self) -> None:
        try:
            import paddle
        except ImportError as e:
            raise ConfigError(f"--engine paddle needs the 'paddlepaddle' package ({HINT}): {e}") from None
        self.paddle = paddle
        paddle.set_device("cpu")
        self.ops = paddle_ops.ops(paddle)

    def version(self) -> str | None:
        return str(self.paddle.__version__)

    def has_op(self, op: str) -> bool:
        return op in self.ops

    # -- building ----------------------------------------------------------------------
    def _p(self, v: Any) -> Any:
        """Params: index arrays, masks and targets become Paddle tensors (inside tuples too)."""
        if isinstance(v, np.ndarray):
            return self.paddle.to_tensor(v)
        if isinstance(v, tuple):
            return tuple(self._p(x) for x in v)
        return v

    def leaf(self, value: np.ndarray, dtype: str, requires_grad: bool) -> Any:
        return self.paddle.to_tensor(np.array(value, dtype=dtype), dtype=dtype, stop_gradient=not requires_grad)

    def apply(self, op: str, inputs: Sequence[Any], params: dict[str, Any]) -> Any:
        return self.ops[op](list(inputs), {k: self._p(v) for k, v in params.items()})

    def apply_inplace(self, op: str, target: Any, other: Any) -> Any:
        if not isinstance(other, self.paddle.Tensor):
            other = self.paddle.to_tensor(other, dtype=target.dtype)
        return target.add_(other) if op == "add" else target.multiply_(other)

    # -- differentiation -----------------------------------------------------------------
    def backward(self, out: Any, gradient: Any = None, retain_graph: bool | None = None,
                 create_graph: bool = False) -> None:
        if create_graph:  # the harness takes higher derivatives through grad(); Tensor.backward has no create_graph
            raise NotImplementedError("Paddle's Tensor.backward has no create_graph: use paddle.grad (Adapter.grad)")
        out.backward(grad_tensor=gradient, retain_graph=bool(retain_graph))

    def grad(self, outputs: Sequence[Any], inputs: Sequence[Any], grad_outputs: Sequence[Any],
             retain_graph: bool | None = None, create_graph: bool = False,
             allow_unused: bool = False) -> list[Any]:
        gos = None if all(g is None for g in grad_outputs) else list(grad_outputs)
        return list(self.paddle.grad(list(outputs), list(inputs), grad_outputs=gos, retain_graph=retain_graph,
                                     create_graph=create_graph, allow_unused=allow_unused))

    # -- reading -------------------------------------------------------------------------
    def to_numpy(self, t: Any) -> np.ndarray:
        return np.array(t.numpy(), copy=True)

    def grad_tensor(self, t: Any) -> Any:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return t.grad

    def grad_of(self, t: Any) -> np.ndarray | None:
        g = self.grad_tensor(t)
        return None if g is None else self.to_numpy(g)

    def dtype_of(self, t: Any) -> str:
        return str(t.dtype).replace("paddle.", "")

    def is_leaf(self, t: Any) -> bool:
        return bool(t.is_leaf)

    def requires_grad(self, t: Any) -> bool:
        return not t.stop_gradient

    def grad_fn_name(self, t: Any) -> str | None:
        gf = t.grad_fn
        return None if gf is None else str(gf.name())

    def set_requires_grad(self, t: Any, flag: bool) -> None:
        t.stop_gradient = not flag

    def zero_grad(self, t: Any) -> None:
        t.grad = None

    def retain_grad(self, t: Any) -> None:
        t.retain_grads()

    def detach(self, t: Any) -> Any:
        return t.detach()

    def register_hook(self, t: Any, fn: Callable[[Any], Any]) -> Any:
        return t.register_hook(fn)

    def version_counter(self, t: Any) -> int | None:
        return int(t.inplace_version)

    # -- grad mode -----------------------------------------------------------------------
    def no_grad(self) -> AbstractContextManager[Any]:
        return self.paddle.no_grad()

    def enable_grad(self) -> AbstractContextManager[Any]:
        return self.paddle.enable_grad()

    def set_grad_enabled(self, flag: bool) -> AbstractContextManager[Any]:
        return self.paddle.set_grad_enabled(flag)

    def is_grad_enabled(self) -> bool:
        return bool(self.paddle.is_grad_enabled())

    def no_grad_decorator(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        return self.paddle.no_grad()(fn)

    def is_autograd_error(self, exc: BaseException) -> bool:
        return isinstance(exc, (RuntimeError, SystemError))
