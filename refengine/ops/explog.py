"""Exponentials, logarithms and powers: log1p, expm1, log2, log10, exp2, rsqrt, reciprocal,
square, and the binary logaddexp and xlogy.

Derivatives follow torch's derivatives.yaml (in the output where torch uses the
result: expm1, exp2, rsqrt, reciprocal), written with ``dual`` helpers so they
differentiate again.  ``square`` is ``pow(x, 2)``, as in torch (node PowBackward0).
"""
from __future__ import annotations

import math

import numpy as np

from refengine.ops.arith import pow as _pow, where
from refengine.ops.common import data_of, dual, is_var, method
from refengine.ops.pointwise import make_binary, make_unary, register, require_tensors

_exp = dual(np.exp, "exp")

Log1p = make_unary("log1p", "Log1PBackward0", np.log1p, lambda a, r: 1 / (a + 1))
Expm1 = make_unary("expm1", "Expm1Backward0", np.expm1, lambda a, r: r + 1)
Log2 = make_unary("log2", "Log2Backward0", np.log2, lambda a, r: 1 / (a * math.log(2)))
Log10 = make_unary("log10", "Log10Backward0", np.log10, lambda a, r: 1 / (a * math.log(10)))
Exp2 = make_unary("exp2", "Exp2Backward0", np.exp2, lambda a, r: r * math.log(2))
Rsqrt = make_unary("rsqrt", "RsqrtBackward0", lambda x: 1 / np.sqrt(x), lambda a, r: -0.5 * (r * r * r))
Reciprocal = make_unary("reciprocal", "ReciprocalBackward0", lambda x: 1 / x, lambda a, r: -(r * r))

for _name, _cls in [("log1p", Log1p), ("expm1", Expm1), ("log2", Log2), ("log10", Log10), ("exp2", Exp2),
                    ("rsqrt", Rsqrt), ("reciprocal", Reciprocal)]:
    register(globals(), _name, _cls)


@method()
def square(input):
    """``input ** 2`` (torch.square is pow(input, 2): node PowBackward0, integers stay integers)."""
    return _pow(input, 2)


Logaddexp = make_binary(
    "logaddexp", "LogaddexpBackward0", np.logaddexp,
    # torch: grad / (1 + exp(other - self)) and grad / (1 + exp(self - other))
    lambda g, a, b, r: g / (1 + _exp(b - a)), lambda g, a, b, r: g / (1 + _exp(a - b)))


@method()
def logaddexp(input, other):
    """``log(exp(input) + exp(other))`` without overflow; broadcasts."""
    require_tensors("logaddexp", input, other)
    # torch has no integer kernel, but an integer operand with a floating one is promoted first
    if all(v.dtype.kind != "f" for v in (input, other)):
        raise NotImplementedError("\"logaddexp_cpu\" not implemented for 'Long'")
    return Logaddexp.apply(input, other)


def _np_xlogy(x, y):
    """torch's xlogy: nan where y is nan, else 0 where x == 0, else x * log(y)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.where(np.asarray(x) == 0, 0.0, x * np.log(y))
    return np.where(np.isnan(y), np.nan, r)


def _xlogy_grad_self(g, a, b, r):
    # torch: xlogy(grad, other).masked_fill((self == 0) & (other <= 0), 0): log(other) times grad,
    # even at self == 0, except where other <= 0 there; under create_graph the masked entries keep
    # torch's nan from d/dother xlogy(grad, other) = grad / other at other == 0
    inner = xlogy(g, b) if is_var(g) or is_var(b) else _np_xlogy(g, b)
    mask = (np.asarray(data_of(a)) == 0) & (np.asarray(data_of(b)) <= 0)
    return where(mask, 0.0, inner) if np.any(mask) else inner


Xlogy = make_binary("xlogy", "XlogyBackward0", _np_xlogy, _xlogy_grad_self,
                    lambda g, a, b, r: (g * a) / b)
XlogyScalarSelf = type("XlogyScalarSelf", (Xlogy,), {"node_name": "XlogyBackward1"})
XlogyScalarOther = type("XlogyScalarOther", (Xlogy,), {"node_name": "XlogyBackward2"})


@method()
def xlogy(input, other):
    """``input * log(other)``, 0 where input == 0 (unless other is nan); either may be a number."""
    from refengine.variable import Variable
    if not isinstance(input, (Variable, np.ndarray)):
        return XlogyScalarSelf.apply(input, other)
    if not isinstance(other, (Variable, np.ndarray)):
        return XlogyScalarOther.apply(input, other)
    return Xlogy.apply(input, other)
