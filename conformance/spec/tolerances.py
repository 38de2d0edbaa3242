"""Oracles and their tolerances: the one table of how close an engine's numbers must be.

Every comparison names the oracle its expected values come from; the pair (oracle, dtype)
picks the tolerance here, and an OpSpec may override a pair for its op (``OpSpec.tol``).
No check holds a tolerance of its own.

A comparison passes where ``|observed - expected| <= atol * scale + rtol * |expected|``,
with ``scale = max(1, max |expected|)`` over the whole comparison (see
``conformance.checks.oracles.compare``): atol is relative to the size of the answer, so
large gradients are not failed for rounding that is small next to them.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np


class Tol(NamedTuple):
    atol: float  # absolute part, multiplied by max(1, max |expected|)
    rtol: float  # relative part, multiplied by |expected| elementwise


#: oracle name -> where its expected values come from (the names results and messages show)
ORACLES: dict[str, str] = {
    "numerical": "central differences of the op's float64 numpy forward",
    "numerical-2nd-order": "Hessian-vector products by a four-point stencil of the float64 forward",
    "torch-float64": "PyTorch in float64 running the same program",
    "torch-float64-lockstep": "PyTorch in float64 driven step by step alongside the engine",
    "numpy": "the op's float64 numpy forward reference",
    "analytic": "a closed-form gradient written out in the check",
    "mpmath": "closed-form derivatives in 50-digit arithmetic (OpSpec.extreme)",
    "torch-promoted": "PyTorch on the same operands (mixed, integer or bool dtypes): its result dtype (torch.result_type) and values",
    "torch-same-dtype": "PyTorch in the cell's own (half) dtype on the same inputs: its error against float64 is the bar",
    "rounding-bound": "float64 values at the dtype-rounded inputs, within a bound derived from the dtype's unit "
                      "roundoff and the op's conditioning there (conformance/checks/rounding.py)",
    "rule": "a semantic rule of autograd stated in the check (no numbers compared)",
    "rule-repeat": "the engine's own gradients of one backward pass, doubled (two identical passes)",
    "rule-frozen": "the engine's own gradients of the same program with every leaf requiring grad",
    "rule-zero": "exact zeros (a zero cotangent)",
}

#: oracles whose values come from PyTorch: a property using one cannot judge an op without a torch equivalent
TORCH_ORACLES = frozenset({"torch-float64", "torch-float64-lockstep", "torch-promoted", "torch-same-dtype"})

EPS64 = float(np.finfo(np.float64).eps)

TOLERANCES: dict[tuple[str, str], Tol] = {
    # finite differences carry truncation and cancellation error ~1e-8 relative in float64
    ("numerical", "float64"): Tol(1e-6, 1e-6),
    ("numerical", "float32"): Tol(2e-3, 2e-3),
    ("numerical-2nd-order", "float64"): Tol(1e-4, 1e-4),  # the stencil divides by h^2
    # two analytic gradients in float64 agree to rounding, so small systematic errors show
    ("torch-float64", "float64"): Tol(1e-10, 1e-10),
    ("torch-float64", "float32"): Tol(1e-5, 1e-5),
    ("torch-float64-lockstep", "float64"): Tol(1e-10, 1e-10),
    # one op on the same operands in the same result dtype: both round once or a few times
    ("torch-promoted", "float64"): Tol(1e-10, 1e-10),
    ("torch-promoted", "float32"): Tol(1e-5, 1e-5),
    # forward values: the same formula in float64; float32 engines round every step
    ("numpy", "float64"): Tol(1e-12, 1e-12),
    ("numpy", "float32"): Tol(2e-3, 2e-3),
    ("analytic", "float64"): Tol(1e-6, 1e-6),
    ("analytic", "float32"): Tol(2e-3, 2e-3),
    # mpmath: a relative bound only, max(rtol, MPMATH_TORCH_FACTOR x torch's own relative error)
    ("mpmath", "float64"): Tol(0.0, 4 * EPS64),
    # doubling is exact in floating point, so two identical passes agree to rounding of the sum
    ("rule-repeat", "float64"): Tol(1e-12, 1e-12),
    ("rule-repeat", "float32"): Tol(1e-12, 1e-6),
    # freezing a leaf changes the graph torch-style engines build, not the maths
    ("rule-frozen", "float64"): Tol(1e-10, 1e-10),
    ("rule-frozen", "float32"): Tol(1e-5, 1e-5),
    ("rule-zero", "float64"): Tol(0.0, 0.0),
    ("rule-zero", "float32"): Tol(0.0, 0.0),
}

#: the mpmath check's bar is PyTorch's own accuracy: an engine as good as torch passes
MPMATH_TORCH_FACTOR = 2.0

# Half precision (float16, bfloat16) has no row above: its bounds are derived per example from the dtype's unit
# roundoff u and the op's conditioning at the drawn inputs (conformance/checks/rounding.py), in units of:
#: roundings an op may make in its own dtype: the output's, and a few of a short formula evaluated in the dtype
#: (torch computes most half ops in float32 and rounds once; a composite rounds each step)
HALF_ROUNDINGS = 4.0
#: a reduction of a long half input may lose at most this many times torch's own error (torch accumulates in float32)
ACCUMULATION_TORCH_FACTOR = 4.0


def tolerance(oracle: str, dtype: str) -> Tol:
    """The table's tolerance for comparing ``dtype`` results with ``oracle`` (KeyError naming both)."""
    try:
        return TOLERANCES[(oracle, dtype)]
    except KeyError:
        raise KeyError(f"no tolerance for oracle {oracle!r} at {dtype} in conformance.spec.tolerances") from None


def difference(got, exp, atol, rtol):  # copied verbatim into reproducer scripts: no annotations
    """None when observation ``got`` matches ``exp``, else what differs (arrays: shape, dtype, values).

    conformance.spec.tolerances' rule for one observation, as trace replays and reproducer scripts apply it."""
    got = got.item() if isinstance(got, np.generic) else got
    if isinstance(got, np.ndarray) and isinstance(exp, np.ndarray):
        if got.shape != exp.shape:
            return f"got shape {got.shape}, expected shape {exp.shape}"
        if got.dtype != exp.dtype:
            return f"got dtype {got.dtype}, expected {exp.dtype}"
        g, e = got.astype(np.float64), exp.astype(np.float64)
        finite = np.abs(e[np.isfinite(e)])
        scale = max(1.0, float(finite.max())) if finite.size else 1.0
        close = (np.abs(g - e) <= atol * scale + rtol * np.abs(e)) | (g == e) | (np.isnan(g) & np.isnan(e))
        return None if close.all() else f"got {got.tolist()}, expected {exp.tolist()}"
    if isinstance(got, np.ndarray) or isinstance(exp, np.ndarray) or type(got) is not type(exp) or got != exp:
        show = [v.tolist() if isinstance(v, np.ndarray) else v for v in (got, exp)]
        return f"got {show[0]!r}, expected {show[1]!r}"
    return None
