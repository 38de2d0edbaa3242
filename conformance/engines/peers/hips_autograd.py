"""``--engine autograd``: HIPS autograd (numpy-based, functional), through the recorded-program base.

Gradients are ``autograd.make_vjp`` / ``autograd.grad`` of the whole recorded function over a
tuple of leaves; ``create_graph`` records a VJP as a function, so second order is autograd's
own nesting.  ``detach`` is ``autograd.tracer.getval`` (unboxes a traced value: autograd's
way to stop a gradient).  sigmoid, relu, softmax are written with ``autograd.numpy``; logsumexp
is ``autograd.scipy.special.logsumexp``; erf, erfc, lgamma (``gammaln``), digamma are
``autograd.scipy.special``'s, and gelu is torch's definition with them (x Phi(x) = x (1 + erf(x / sqrt 2)) / 2,
or the tanh form for ``approximate='tanh'``).  No xlogy (autograd.scipy.special has none).
Variable-state capabilities are not declared.
"""
from __future__ import annotations

import math
import warnings
from typing import Any, Callable

import numpy as np

from conformance.engines.numpy_style import Op, axis_of
from conformance.engines.peers import require
from conformance.engines.peers._functional import FunctionalAdapter, Misuse
from conformance.spec.ops import decompositions


class AutogradAdapter(FunctionalAdapter):
    name = "autograd"

    def __init__(self) -> None:
        self.ag = require("autograd", "autograd")
        import autograd.numpy as anp
        from autograd.scipy.special import logsumexp
        from autograd.tracer import getval

        self.xp, self._getval, self._logsumexp = anp, getval, logsumexp

    def log_softmax(self, x: Any, axis: Any) -> Any:
        return x - self._logsumexp(x, axis=axis, keepdims=True)

    def engine_ops(self) -> dict[str, Op]:
        from autograd.scipy import special

        anp, logsumexp = self.xp, self._logsumexp

        def gelu(x: Any, approximate: str) -> Any:  # torch's definitions of both forms
            if approximate == "tanh":
                return 0.5 * x * (1.0 + anp.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x ** 3)))
            return 0.5 * x * (1.0 + special.erf(x / math.sqrt(2.0)))  # Python floats: float32 stays float32

        return {
            "sigmoid": lambda i, p: 1.0 / (1.0 + anp.exp(-i[0])),
            "logsumexp": lambda i, p: logsumexp(i[0], axis=axis_of(i[0], p["dim"]), keepdims=p["keepdim"]),
            "erf": lambda i, p: special.erf(i[0]), "erfc": lambda i, p: special.erfc(i[0]),
            "lgamma": lambda i, p: special.gammaln(i[0]), "digamma": lambda i, p: special.digamma(i[0]),
            "gelu": lambda i, p: gelu(i[0], p["approximate"]),
            # solve, eigh, svd: autograd.numpy.linalg's (qr left out: autograd 1.9 defines no VJP for it)
            **{k: f for k, f in decompositions.numpy_style_ops(
                anp, anp.linalg.solve, None, anp.linalg.eigh,
                lambda a: anp.linalg.svd(a, full_matrices=False)).items() if k != "qr"},
        }

    def version(self) -> str | None:
        from importlib.metadata import version
        return version("autograd")

    def array(self, value: np.ndarray, dtype: str) -> Any:
        return np.asarray(value, dtype=dtype)

    def vjp(self, f: Callable[..., Any], args: list[Any], cot: Any) -> list[Any]:
        with warnings.catch_warnings():  # "Output seems independent of input": autograd then returns zeros
            warnings.simplefilter("ignore", UserWarning)
            pullback, _ = self.ag.make_vjp(lambda a: f(*a))(tuple(args))
            return list(pullback(cot))

    def scalar_grad(self, f: Callable[..., Any], args: list[Any]) -> list[Any]:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            return list(self.ag.grad(lambda a: f(*a))(tuple(args)))

    def stop_gradient(self, x: Any) -> Any:
        return self._getval(x)

    def is_autograd_error(self, exc: BaseException) -> bool:
        # autograd.grad of a non-scalar raises TypeError; Misuse is the adapter's backward-of-a-constant
        return isinstance(exc, (TypeError, Misuse))
