"""Helpers shared by the op modules.

Built-in ops are ``ArrayFunction``s whose backward formulas run on ndarrays in a
plain backward and on Variables under ``create_graph=True``.  The helpers here
accept either, so each formula is written once: ``dual(np.cos, "cos")(x)`` is
``np.cos(x)`` for an array and the differentiable ``refengine.cos(x)`` for a
Variable.
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from refengine.variable import TENSOR_METHODS, Variable

__all__ = ["Variable", "is_var", "dual", "sum_to_shape", "method", "shape_of", "data_of"]


def accumulator(a: Any) -> Any:
    """The dtype a reduction of ``a`` accumulates in: float32 for float16 (as torch does: a float16
    accumulator loses a unit in the last place every few additions), else None (numpy's own)."""
    return np.float32 if a.dtype == np.float16 else None


def is_var(x: Any) -> bool:
    return isinstance(x, Variable)


def data_of(x: Any) -> Any:
    """The ndarray behind a Variable, or ``x`` itself."""
    return x.data if isinstance(x, Variable) else x


def shape_of(x: Any) -> tuple:
    """Shape of an array, Variable or Python scalar (``()``)."""
    if type(x) is np.ndarray or isinstance(x, Variable):
        return x.shape
    return np.shape(x)


def dual(np_fn: Callable, name: str) -> Callable:
    """A function that applies ``np_fn`` to arrays and the refengine op ``name`` to Variables."""
    def fn(x, *args, **kwargs):
        if isinstance(x, Variable):
            import refengine.ops as ops
            return getattr(ops, name)(x, *args, **kwargs)
        return np_fn(x, *args, **kwargs)
    fn.__name__ = name
    return fn


def sum_to_shape(g: Any, shape: tuple) -> Any:
    """Sum a broadcast gradient back down to ``shape`` (the unbroadcast of numpy broadcasting)."""
    gshape = g.shape
    if gshape == shape:
        return g
    shape = tuple(shape)
    lead = len(gshape) - len(shape)
    if lead < 0:
        raise RuntimeError(f"cannot sum gradient of shape {gshape} to larger shape {shape}")
    axes = tuple(range(lead)) + tuple(
        lead + i for i, s in enumerate(shape) if s == 1 and gshape[lead + i] != 1)
    if isinstance(g, Variable):
        import refengine.ops as ops
        r = ops.sum(g, dim=axes, keepdim=True) if axes else g
        return ops.reshape(r, tuple(shape))
    from refengine.kernels import sum_to_shape as kernel
    return kernel(g, tuple(shape))


def method(name: str | None = None) -> Callable:
    """Register a function as a Variable method too (``x.name(...)``)."""
    def deco(fn: Callable) -> Callable:
        TENSOR_METHODS[name or fn.__name__] = fn
        return fn
    return deco
