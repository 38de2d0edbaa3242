"""Factories for elementwise ops whose derivatives are formulas: ``make_unary`` (in the input and
output) and ``make_binary`` (two operands with broadcasting and torch's promotion).

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

__all__ = ["as_float", "make_unary", "register", "make_binary", "result_dtype", "fit_grad", "require_tensors"]


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

    # forward mode: the Jacobian is diagonal, so J t = J^T t -- backward applied to the tangent
    cls = type(name.capitalize(), (ArrayFunction,), {
        "node_name": node_name, "forward": staticmethod(fwd), "backward": staticmethod(bwd),
        "jvp": staticmethod(bwd), "__doc__": doc or f"Elementwise {name} (torch.{name})."})
    return cls


def register(namespace: dict, name: str, cls: type, doc: str = "") -> Callable:
    """Define ``namespace[name](input)`` applying ``cls``, also as a Variable method."""
    def op(input):
        return cls.apply(input)
    op.__name__ = op.__qualname__ = name
    op.__doc__ = doc or cls.__doc__
    namespace[name] = method()(op)
    return op


def result_dtype(a, b, floating: bool):
    """torch's result dtype of a binary op: numpy's (weak Python scalars) corrected by
    ``dtypes.result_dtype``; a floating op promotes integer results to float32."""
    from refengine.ops.dtypes import result_dtype as torch_rule
    dt = torch_rule(a, b)
    if dt is None:
        dt = np.result_type(a, b)
        if dt.kind == "f" and any(type(v) is float for v in (a, b)) and \
                not any(getattr(v, "dtype", np.dtype(int)).kind == "f" for v in (a, b)):
            dt = np.dtype(np.float32)  # int tensor with a Python float: torch's default dtype, not float64
    if floating and dt.kind not in "fc":
        dt = np.dtype(np.float32)
    return np.dtype(dt)


def fit_grad(g, like):
    """A gradient summed back to ``like``'s shape in ``like``'s dtype (a float32 operand keeps a
    float32 gradient next to a float64 0-d one)."""
    from refengine.ops.common import shape_of, sum_to_shape
    g = sum_to_shape(g, shape_of(like))
    dt = getattr(like, "dtype", None)
    if dt is not None and g.dtype != dt:
        from refengine.ops.misc import cast
        g = cast(g, dt) if hasattr(g, "grad_fn") else g.astype(dt)
    return g


def make_binary(name: str, node_name: str, forward: Callable, grad_a: Callable | None,
                grad_b: Callable | None, floating: bool = True, doc: str = "") -> type:
    """An ArrayFunction of two operands (arrays or Python scalars) with broadcasting and torch's
    promotion; ``grad_a(g, a, b, r)`` / ``grad_b(...)`` give the broadcast gradients (None: the
    operand gets none), written with dual helpers so they differentiate again."""
    from refengine.ops.dtypes import broadcast_shape

    def fwd(ctx, a, b):
        broadcast_shape(np.shape(a), np.shape(b))  # torch's message for non-broadcastable shapes
        dt = result_dtype(a, b, floating)
        x = a if type(a) in (int, float) else np.asarray(a, dt)
        y = b if type(b) in (int, float) else np.asarray(b, dt)
        with np.errstate(all="ignore"):
            r = np.asarray(forward(x, y)).astype(dt, copy=False)
        ctx.save_for_backward(a, b, r)
        return r

    def bwd(ctx, g):
        a, b, r = ctx.saved_tensors
        need = ctx.needs_input_grad
        # torch computes the partials in the result dtype: log(float32 y) for a float64 xlogy is taken
        # in float64, not in float32 and widened (fit_grad then casts each gradient to its input's dtype)
        x, y = _in_dtype(a, r), _in_dtype(b, r)
        with np.errstate(all="ignore"):
            ga = fit_grad(grad_a(g, x, y, r), a) if need[0] and grad_a is not None else None
            gb = fit_grad(grad_b(g, x, y, r), b) if need[1] and grad_b is not None else None
        return ga, gb

    def jvp(ctx, ta, tb):
        # forward mode: grad_a/grad_b are the elementwise partials times their first argument, so
        # J t = grad_a(ta) + grad_b(tb), broadcast to the output (nothing summed back)
        a, b, r = ctx.saved_tensors
        with np.errstate(all="ignore"):
            terms = [d(t, a, b, r) for d, t in ((grad_a, ta), (grad_b, tb)) if d is not None and t is not None]
        return sum(terms) if terms else None

    return type(name.capitalize(), (ArrayFunction,), {
        "node_name": node_name, "forward": staticmethod(fwd), "backward": staticmethod(bwd),
        "jvp": staticmethod(jvp), "__doc__": doc or f"Elementwise {name} (torch.{name})."})


def _in_dtype(v, r):
    """An operand saved for backward, in the result's dtype (a Variable through a differentiable cast, so
    double backward sees the same graph torch builds; Python numbers as they are)."""
    want = getattr(r, "dtype", None)
    if want is None or isinstance(v, (int, float)) or v.dtype == want:
        return v
    if isinstance(v, np.ndarray):
        return v.astype(want)
    from refengine.ops.misc import cast
    return cast(v, want)


def require_tensors(name: str, input, other):
    """torch's TypeError for ops without Scalar overloads (atan2, hypot, logaddexp)."""
    from refengine.variable import Variable
    for arg, pos, v in (("input", 1, input), ("other", 2, other)):
        if not isinstance(v, Variable):
            raise TypeError(f"{name}(): argument '{arg}' (position {pos}) must be Tensor, not {type(v).__name__}")
