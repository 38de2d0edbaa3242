"""A factory for elementwise unary ops whose derivative is a formula in the input (and output).

Each op made here is an ``ArrayFunction`` with torch's node name whose backward is
``g * derivative(x, y)``; ``derivative`` is written with the ``dual`` helpers of
``common`` (or plain operators), so under create_graph it is built from
differentiable ops and the op can be differentiated again.  Integer and bool
inputs are computed in float32, torch's default dtype, as torch's floating
unary ops do.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from refengine.function import ArrayFunction
from refengine.ops.common import method

__all__ = ["as_float", "make_unary", "register"]


def as_float(a):
    """``a`` itself when floating, else float32 (torch promotes integer inputs of floating ops to
    its default dtype; numpy would pick float64)."""
    return a if a.dtype.kind in "fc" else a.astype(np.float32)


def make_unary(name: str, node_name: str, forward: Callable, derivative: Callable | None,
               doc: str = "") -> type:
    """An ArrayFunction computing ``forward(x)``; backward ``g * derivative(x, y)``, or zeros of
    ``g``'s shape when ``derivative`` is None (piecewise-constant ops: sign, floor, ...)."""

    def fwd(ctx, a):
        x = as_float(a)
        with np.errstate(all="ignore"):  # domain errors give nan/inf as in torch, silently
            r = np.asarray(forward(x), x.dtype)
        if derivative is not None:
            ctx.save_for_backward(a, r)  # ``a`` (not ``x``) so an input Variable is resolved
        return r

    def bwd(ctx, g):
        if derivative is None:
            return g * 0  # torch answers zeros (not None): the second derivative is zero too
        a, r = ctx.saved_tensors
        with np.errstate(all="ignore"):
            return g * derivative(a, r)

    cls = type(name.capitalize(), (ArrayFunction,), {
        "node_name": node_name, "forward": staticmethod(fwd), "backward": staticmethod(bwd),
        "__doc__": doc or f"Elementwise {name} (torch.{name})."})
    return cls


def register(namespace: dict, name: str, cls: type, doc: str = "") -> Callable:
    """Define ``namespace[name](input)`` applying ``cls``, also as a Variable method."""
    def op(input):
        return cls.apply(input)
    op.__name__ = op.__qualname__ = name
    op.__doc__ = doc or cls.__doc__
    namespace[name] = method()(op)
    return op
