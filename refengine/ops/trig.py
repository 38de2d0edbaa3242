"""Trigonometric and hyperbolic ops: tan, asin, acos, atan, sinh, cosh, asinh, acosh, atanh,
and the binary atan2 and hypot.

Derivatives are torch's formulas (tools/autograd/derivatives.yaml), in the saved input
or output, written with ``dual`` helpers so they differentiate again.  Outside the
real domain (asin of 2, acosh of 0.5, atanh of 1) values and gradients are nan/inf
as in torch.
"""
from __future__ import annotations

import numpy as np

from refengine.ops.arith import where
from refengine.ops.common import data_of, dual, method
from refengine.ops.pointwise import make_binary, make_unary, register, require_tensors

_cosh = dual(np.cosh, "cosh")
_sinh = dual(np.sinh, "sinh")
_sqrt = dual(np.sqrt, "sqrt")

Tan = make_unary("tan", "TanBackward0", np.tan, lambda a, r: 1 + r * r)
Asin = make_unary("asin", "AsinBackward0", np.arcsin, lambda a, r: 1 / _sqrt(1 - a * a))
Acos = make_unary("acos", "AcosBackward0", np.arccos, lambda a, r: -1 / _sqrt(1 - a * a))
Atan = make_unary("atan", "AtanBackward0", np.arctan, lambda a, r: 1 / (a * a + 1))
Sinh = make_unary("sinh", "SinhBackward0", np.sinh, lambda a, r: _cosh(a))
Cosh = make_unary("cosh", "CoshBackward0", np.cosh, lambda a, r: _sinh(a))
Asinh = make_unary("asinh", "AsinhBackward0", np.arcsinh, lambda a, r: 1 / _sqrt(a * a + 1))
Acosh = make_unary("acosh", "AcoshBackward0", np.arccosh, lambda a, r: 1 / _sqrt(a * a - 1))
Atanh = make_unary("atanh", "AtanhBackward0", np.arctanh, lambda a, r: 1 / (1 - a * a))

for _name, _cls in [("tan", Tan), ("asin", Asin), ("acos", Acos), ("atan", Atan), ("sinh", Sinh),
                    ("cosh", Cosh), ("asinh", Asinh), ("acosh", Acosh), ("atanh", Atanh)]:
    register(globals(), _name, _cls)
arcsin, arccos, arctan = method("arcsin")(asin), method("arccos")(acos), method("arctan")(atan)  # noqa: F821
arcsinh, arccosh, arctanh = method("arcsinh")(asinh), method("arccosh")(acosh), method("arctanh")(atanh)  # noqa: F821


def _atan2_recip(a, b):
    # torch: recip = 1 / (a^2 + b^2), filled with 0 where it is inf, so at the origin both gradients
    # are 0 (not nan); the fill is literal, so the second derivative there is torch's nan too
    d = a * a + b * b
    r = 1 / d
    inf = np.isinf(data_of(r))
    return where(inf, 0.0, r) if np.any(inf) else r


Atan2 = make_binary("atan2", "Atan2Backward0", np.arctan2,
                    lambda g, a, b, r: g * (b * _atan2_recip(a, b)),
                    lambda g, a, b, r: g * (-a * _atan2_recip(a, b)))
Hypot = make_binary("hypot", "HypotBackward0", np.hypot,
                    lambda g, a, b, r: g * (a / r), lambda g, a, b, r: g * (b / r))


def _float_kernel(name, input, other):
    # torch has no integer kernel, but an integer operand with a floating one is promoted first
    if all(v.dtype.kind != "f" for v in (input, other)):
        raise NotImplementedError(f'"{name}_cpu" not implemented for \'Long\'')


@method()
def atan2(input, other):
    """The angle of (other, input): ``atan(input / other)`` in the right quadrant; broadcasts."""
    require_tensors("atan2", input, other)
    return Atan2.apply(input, other)


arctan2 = method("arctan2")(atan2)


@method()
def hypot(input, other):
    """``sqrt(input^2 + other^2)`` without overflow; gradients nan at (0, 0) as torch's."""
    require_tensors("hypot", input, other)
    _float_kernel("hypot", input, other)
    return Hypot.apply(input, other)
