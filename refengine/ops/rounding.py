"""Piecewise-constant ops and remainders: sign, floor, ceil, round (``decimals``), trunc,
fmod, remainder.

sign/floor/ceil/round/trunc have zero gradients everywhere (torch's choice at the jumps
too) and keep integer dtypes.  fmod and remainder pass the gradient to the
dividend; the divisor gets ``-grad * trunc(a / b)`` (fmod) or ``-grad * floor(a / b)``
(remainder), constants in the inputs, so second derivatives are zero.
"""
from __future__ import annotations

import numpy as np

from refengine.function import ArrayFunction
from refengine.ops.common import data_of, method
from refengine.ops.pointwise import make_binary


class _Flat(ArrayFunction):
    """Zero-gradient elementwise op; integer and bool inputs keep their dtype (torch)."""

    np_fn = None

    @classmethod
    def forward(cls, ctx, a, **kw):
        if a.dtype.kind in "biu":
            return cls.np_int(a, **kw)
        return np.asarray(cls.np_fn(a, **kw), a.dtype)

    @staticmethod
    def np_int(a, **kw):
        return a.copy()

    @staticmethod
    def backward(ctx, g):
        return g * 0  # zeros_like(grad) in torch: no gradient flows, second derivative zero too


class Sign(_Flat):
    node_name = "SignBackward0"
    np_fn = staticmethod(np.sign)
    np_int = staticmethod(lambda a: np.sign(a).astype(a.dtype) if a.dtype.kind != "b" else a.copy())


class Floor(_Flat):
    node_name = "FloorBackward0"
    np_fn = staticmethod(np.floor)


class Ceil(_Flat):
    node_name = "CeilBackward0"
    np_fn = staticmethod(np.ceil)


class Trunc(_Flat):
    node_name = "TruncBackward0"
    np_fn = staticmethod(np.trunc)


class Round(_Flat):
    """Round half to even, as torch (and numpy)."""

    node_name = "RoundBackward0"
    np_fn = staticmethod(np.rint)


class RoundDecimals(_Flat):
    """torch's round(decimals=d): nearbyint(x * 10^d) / 10^d (or / and * for d < 0), as numpy."""

    node_name = "RoundBackward1"
    np_fn = staticmethod(lambda a, decimals=0: np.round(a, decimals))


def _unary(cls, name):
    def op(input):
        return cls.apply(input)
    op.__name__ = op.__qualname__ = name
    op.__doc__ = f"Elementwise {name} (torch.{name}); zero gradient everywhere."
    return method()(op)


sign = _unary(Sign, "sign")
floor = _unary(Floor, "floor")
ceil = _unary(Ceil, "ceil")
trunc = _unary(Trunc, "trunc")
fix = method("fix")(trunc)


@method()
def round(input, *, decimals=0):  # noqa: A001  (torch.round)
    """Round half to even; with ``decimals`` to that many decimal places (negative: tens, ...)."""
    if decimals == 0:
        return Round.apply(input)
    if input.dtype.kind != "f":
        raise NotImplementedError("\"round_cpu\" not implemented for 'Long'")
    return RoundDecimals.apply(input, decimals=int(decimals))


def _int_zero_division(b):
    bd = np.asarray(data_of(b))
    if bd.dtype.kind in "biu" and np.any(bd == 0):
        raise RuntimeError("ZeroDivisionError")


Fmod = make_binary("fmod", "FmodBackward1", np.fmod, lambda g, a, b, r: g,
                   lambda g, a, b, r: -g * np.trunc(np.asarray(data_of(a)) / data_of(b)), floating=False)
FmodScalar = type("FmodScalar", (Fmod,), {"node_name": "FmodBackward0"})
Remainder = make_binary("remainder", "RemainderBackward1", np.remainder, lambda g, a, b, r: g,
                        lambda g, a, b, r: -g * np.floor(np.asarray(data_of(a)) / data_of(b)), floating=False)
RemainderScalar = type("RemainderScalar", (Remainder,), {"node_name": "RemainderBackward0"})


@method()
def fmod(input, other):
    """C's fmod: the remainder of truncated division (sign of the dividend)."""
    from refengine.variable import Variable
    if not isinstance(input, Variable):
        raise TypeError(f"fmod(): argument 'input' (position 1) must be Tensor, not {type(input).__name__}")
    _int_zero_division(other)
    return (Fmod if isinstance(other, Variable) else FmodScalar).apply(input, other)


@method()
def remainder(input, other):
    """Python's modulus: the remainder of floor division (sign of the divisor)."""
    from refengine.variable import Variable
    _int_zero_division(other)
    return (Remainder if isinstance(other, Variable) else RemainderScalar).apply(input, other)
