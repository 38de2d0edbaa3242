"""The Adapter protocol: the only door between the harness and an engine.

An adapter turns registry op names and autograd-rule calls into engine calls; it
holds no test logic.  Tensors are opaque to the harness: it only ever passes back
what the adapter returned.  Everything the harness reads out goes through
``to_numpy`` / ``grad`` (fresh numpy copies, so later engine mutations cannot
change evidence already taken).

Capabilities are declared, not probed: a property that needs a capability the
engine does not declare is reported ``not-applicable`` -- never ``passed``.  An op
the engine lacks (``has_op`` false) is not-applicable too, and so is a property that
calls one of the OPTIONAL_METHODS the adapter does not implement (``implements``).
"""
from __future__ import annotations

import abc
from contextlib import AbstractContextManager
from typing import Any, Callable, Sequence

import numpy as np

from conformance.errors import ConfigError  # re-exported: an adapter raises it when it cannot start

# Capability names (strings, so user adapters need not import anything to declare them).
FLOAT64 = "float64"
FLOAT32 = "float32"
FLOAT16 = "float16"  # IEEE half: the half-precision properties' float16 cells (half_forward, half_grad...)
BFLOAT16 = "bfloat16"  # 8 exponent bits, 8 significand bits: those properties' bfloat16 cells
ND = "nd"  # n-d arrays; an engine without it handles 0-d scalars only
HIGHER_ORDER = "higher_order"  # create_graph + functional grad of grads
FUNCTIONAL_GRAD = "functional_grad"  # autograd.grad(outputs, inputs, ...)
HOOKS = "hooks"  # tensor.register_hook
INPLACE = "inplace"  # in-place ops with a version counter check
RETAIN_GRAD = "retain_grad"
NO_GRAD = "no_grad"  # no_grad / enable_grad / set_grad_enabled / is_grad_enabled
GRAD_MODE_DECORATOR = "grad_mode_decorator"  # @no_grad() on functions
RETAIN_GRAPH = "retain_graph"  # backward(retain_graph=True) + error on a freed graph
COMPILES = "compiles"  # compiles per input shape: runs draw shapes from a small pool (--shapes, default 3)
FORWARD_AD = "forward_ad"  # forward-mode derivatives (Jacobian-vector products): the jvp method
SCALAR_OPERANDS = "scalar_operands"  # apply takes a Python float/int where a binary op takes a tensor (x * 2.0)

ALL_CAPABILITIES = frozenset({FLOAT64, FLOAT32, FLOAT16, BFLOAT16, ND, HIGHER_ORDER, FUNCTIONAL_GRAD, HOOKS, INPLACE, RETAIN_GRAD,
                              NO_GRAD, GRAD_MODE_DECORATOR, RETAIN_GRAPH, COMPILES, FORWARD_AD,
                              SCALAR_OPERANDS})

Tensor = Any

#: methods an adapter may leave out: Adapter's own versions raise NotImplementedError (version_counter
#: returns None, shape_of reads to_numpy), and a property that declares it calls one is not-applicable for an
#: adapter without it
OPTIONAL_METHODS = frozenset({
    "apply_inplace", "grad", "grad_tensor", "set_requires_grad", "zero_grad", "retain_grad", "detach",
    "register_hook", "version_counter", "no_grad", "enable_grad", "set_grad_enabled", "is_grad_enabled",
    "no_grad_decorator", "jvp", "integer_leaf", "shape_of"})

#: the non-floating dtypes ``integer_leaf`` is asked for (numpy's names, as ``dtype_of`` answers them)
INTEGER_DTYPES = ("int64", "int32", "bool")


class Adapter(abc.ABC):
    """Subclass this to plug an engine in.  ``name`` appears in results; ``capabilities`` gate properties."""

    name: str = "engine"
    capabilities: frozenset[str] = frozenset()
    #: the --engine string that rebuilds this adapter (set by adapters.resolve); reproducers use it
    spec: str | None = None

    # -- identity --------------------------------------------------------------------
    def version(self) -> str | None:
        return None

    def has_op(self, op: str) -> bool:
        """Whether the engine implements registry op ``op``."""
        return False

    def implements(self, method: str) -> bool:
        """Whether this adapter provides optional method ``method``: its class overrides Adapter's.

        Looked up on the class, so an adapter that wraps another (``CheckedAdapter``) answers
        for the wrapped one by overriding this method.
        """
        if method not in OPTIONAL_METHODS:
            raise ValueError(f"{method!r} is not an optional Adapter method ({', '.join(sorted(OPTIONAL_METHODS))})")
        return getattr(type(self), method) is not getattr(Adapter, method)

    # -- building --------------------------------------------------------------------
    @abc.abstractmethod
    def leaf(self, value: np.ndarray, dtype: str, requires_grad: bool) -> Tensor:
        """A new leaf holding a copy of ``value`` converted to ``dtype``: "float64", "float32", and "float16" /
        "bfloat16" where the adapter declares them (``value`` is float64, exactly representable in ``dtype``)."""

    def integer_leaf(self, value: np.ndarray, dtype: str, requires_grad: bool = False) -> Tensor:
        """A new leaf holding ``value`` as integer or bool dtype ``dtype`` (one of INTEGER_DTYPES).

        Optional: the dtype properties (promotion with integer tensors, integer reductions, the
        rule that only floating tensors may require grad) are not-applicable without it.  With
        ``requires_grad=True`` the adapter asks the engine for exactly that and lets whatever the
        engine does happen (torch raises RuntimeError): it never raises on the engine's behalf.
        """
        raise NotImplementedError

    @abc.abstractmethod
    def apply(self, op: str, inputs: Sequence[Tensor], params: dict[str, Any]) -> Tensor:
        """Apply registry op ``op`` (see conformance.spec.ops) to engine tensors.

        With SCALAR_OPERANDS declared, an input of an elementwise op may also be a Python float
        or int (the promotion property: ``x * 2.0``); the adapter passes it to the engine as is.
        """

    def apply_inplace(self, op: str, target: Tensor, other: Tensor | float) -> Tensor:
        """In-place ``target.<op>_(other)`` for op in {"add", "mul"}; needs INPLACE."""
        raise NotImplementedError

    # -- differentiation -------------------------------------------------------------
    @abc.abstractmethod
    def backward(self, out: Tensor, gradient: Tensor | None = None, retain_graph: bool | None = None,
                 create_graph: bool = False) -> None:
        """``out.backward(gradient, retain_graph, create_graph)``: accumulate into leaves' ``.grad``."""

    def grad(self, outputs: Sequence[Tensor], inputs: Sequence[Tensor], grad_outputs: Sequence[Tensor | None],
             retain_graph: bool | None = None, create_graph: bool = False,
             allow_unused: bool = False) -> list[Tensor | None]:
        """Functional gradient (``autograd.grad``); needs FUNCTIONAL_GRAD (and HIGHER_ORDER for create_graph).

        With ``allow_unused`` an input that the outputs do not depend on gives None.
        """
        raise NotImplementedError

    def jvp(self, fn: Callable[[list[Tensor]], list[Tensor]], primals: Sequence[Tensor],
            tangents: Sequence[np.ndarray | None]) -> list[np.ndarray | None]:
        """Forward mode: the tangents of ``fn``'s outputs when ``primals`` carry ``tangents``; needs FORWARD_AD.

        ``primals`` are tensors made by ``leaf``; ``tangents[k]`` is a float64 array of
        ``primals[k]``'s shape, or None for a primal that carries no tangent (a constant).  The
        adapter attaches each tangent to its primal in the engine's forward mode (torch: dual
        tensors), calls ``fn`` once on the results -- ``fn`` builds the computation with ``apply``
        (and may call ``grad``, for forward-over-reverse) -- and returns the engine's tangent of each
        tensor ``fn`` returned: a fresh numpy copy, or None where the engine says the output carries
        no tangent (it does not depend on any tangent; the harness reads that as zero).  The engine
        runs every op in forward mode itself: nothing is derived from reverse mode here.
        """
        raise NotImplementedError

    # -- reading ---------------------------------------------------------------------
    @abc.abstractmethod
    def to_numpy(self, t: Tensor) -> np.ndarray:
        """A fresh numpy copy of the tensor's values (in its own dtype; bfloat16 as ``ml_dtypes.bfloat16``)."""

    def shape_of(self, t: Tensor) -> tuple[int, ...]:
        """``t``'s shape, without computing its values if the engine has not yet (a tracing or compiling engine).

        Optional: the adapter contract check asks it of every op's result and input, and without it reads
        ``to_numpy(t).shape``, which makes a lazy engine compute each op as it is applied.  The shape
        it answers is held to: reading the tensor's values later with another shape is an error.
        """
        return tuple(np.shape(self.to_numpy(t)))

    @abc.abstractmethod
    def grad_of(self, t: Tensor) -> np.ndarray | None:
        """A fresh numpy copy of ``t.grad``, or None when it is None."""

    def grad_tensor(self, t: Tensor) -> Tensor | None:
        """``t.grad`` itself (an engine tensor), for identity/alias checks."""
        raise NotImplementedError

    @abc.abstractmethod
    def dtype_of(self, t: Tensor) -> str:
        """"float64" / "float32" / "float16" / "bfloat16" (numpy's name for any other dtype: "int64", "bool"...)."""

    @abc.abstractmethod
    def is_leaf(self, t: Tensor) -> bool: ...

    @abc.abstractmethod
    def requires_grad(self, t: Tensor) -> bool: ...

    @abc.abstractmethod
    def grad_fn_name(self, t: Tensor) -> str | None:
        """Name of ``t.grad_fn`` (torch style, e.g. "MulBackward0"), None for leaves."""

    def set_requires_grad(self, t: Tensor, flag: bool) -> None:
        raise NotImplementedError

    def zero_grad(self, t: Tensor) -> None:
        """Set ``t.grad`` to None."""
        raise NotImplementedError

    def retain_grad(self, t: Tensor) -> None:
        raise NotImplementedError

    def detach(self, t: Tensor) -> Tensor:
        raise NotImplementedError

    def register_hook(self, t: Tensor, fn: Callable[[Tensor], Tensor | None]) -> Any:
        raise NotImplementedError

    def version_counter(self, t: Tensor) -> int | None:
        return None

    # -- grad mode -------------------------------------------------------------------
    def no_grad(self) -> AbstractContextManager[Any]:
        raise NotImplementedError

    def enable_grad(self) -> AbstractContextManager[Any]:
        raise NotImplementedError

    def set_grad_enabled(self, flag: bool) -> AbstractContextManager[Any]:
        raise NotImplementedError

    def is_grad_enabled(self) -> bool:
        raise NotImplementedError

    def no_grad_decorator(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        """``no_grad()`` used as a decorator (torch: ``@torch.no_grad()``)."""
        raise NotImplementedError

    # -- error mapping ---------------------------------------------------------------
    def is_autograd_error(self, exc: BaseException) -> bool:
        """Whether ``exc`` is the engine's error for a misuse of autograd (torch: RuntimeError).

        Messages are never compared: only the category matters.
        """
        return isinstance(exc, RuntimeError)


