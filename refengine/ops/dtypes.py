"""torch's type promotion and broadcasting errors, where numpy's differ.

numpy 2 promotes a 0-d float64 array with a float32 array to float64 and an
int64 array with a float32 array to float64; torch keeps float32 in both cases
(a dimensioned operand's dtype wins over a 0-d one of the same category, and an
integer tensor never widens a float one).  Python scalars are "weak" in both.
"""
from __future__ import annotations

import numpy as np

_CATEGORY = {"b": 0, "u": 1, "i": 1, "f": 2}


def _category(dt) -> int:
    return _CATEGORY.get(dt.kind, 3)


def result_dtype(a, b):
    """torch's result dtype for ``a op b`` when it differs from numpy's, else None (fast path)."""
    da = getattr(a, "dtype", None)
    db = getattr(b, "dtype", None)
    if da is None or db is None or da == db:
        return None
    ca, cb = _category(da), _category(db)
    za, zb = np.ndim(a) == 0, np.ndim(b) == 0
    if za != zb:  # one 0-d operand: it only matters if its category is higher
        zero_dt, zero_cat, dim_dt, dim_cat = (da, ca, db, cb) if za else (db, cb, da, ca)
        # torch: the dimensioned operand's dtype, unless the 0-d one is of a higher category
        # (float 0-d with an int array): then the 0-d one's dtype -- numpy would widen
        # float32 + int64 to float64
        return dim_dt if zero_cat <= dim_cat else zero_dt
    if ca != cb:  # int/bool with float: the float's dtype (numpy would widen float32 to float64)
        return da if ca > cb else db
    return None


def broadcast_shape(sa: tuple, sb: tuple) -> tuple:
    """The broadcast shape, or torch's RuntimeError naming the first mismatching dim."""
    try:
        return np.broadcast_shapes(sa, sb)
    except ValueError:
        n = max(len(sa), len(sb))
        pa, pb = (1,) * (n - len(sa)) + tuple(sa), (1,) * (n - len(sb)) + tuple(sb)
        for i in range(n - 1, -1, -1):
            if pa[i] != pb[i] and 1 not in (pa[i], pb[i]):
                raise RuntimeError(
                    f"The size of tensor a ({pa[i]}) must match the size of tensor b ({pb[i]}) at "
                    f"non-singleton dimension {i}") from None
        raise


def binary(ufunc, a, b):
    """``ufunc(a, b)`` with torch's dtype and broadcasting error."""
    tb = type(b)
    if tb is float or tb is int:  # the common case (x * 0.5): numpy's weak scalars already agree
        return ufunc(a, b)
    dt = result_dtype(a, b)
    try:
        return ufunc(a, b) if dt is None else ufunc(a, b, dtype=dt)
    except ValueError:
        broadcast_shape(np.shape(a), np.shape(b))
        raise
