"""The floating dtypes the harness draws values in, by name, with the numbers their rounding is measured in.

``float64`` and ``float32`` are numpy's own; ``float16`` too; ``bfloat16`` (8 exponent bits, 8 significand
bits) comes from ``ml_dtypes``, a jax dependency: without it the name is simply absent and no bfloat16 value
is ever drawn.  Everything is read off ``numpy.finfo``, so the rounding bounds of the half-precision
properties (``conformance/checks/rounding.py``) hold no number of their own.
"""
from __future__ import annotations

from typing import Iterator, Mapping

import numpy as np


class _NumpyDtypes(Mapping[str, type]):
    """numpy's float64, float32 and float16, and ml_dtypes' bfloat16 where it is installed.

    ml_dtypes is imported when bfloat16 is first asked for (or the names are listed): its import
    takes ~0.8 s, in every process that imports the harness (the run, each worker's forkserver,
    every reproducer script), and only the half-precision cells need it."""

    def __init__(self) -> None:
        self._types: dict[str, type] = {"float64": np.float64, "float32": np.float32, "float16": np.float16}
        self._complete = False

    def _load(self) -> None:
        if self._complete:
            return
        self._complete = True
        try:  # pragma: no branch - present wherever jax is
            import ml_dtypes

            self._types["bfloat16"] = ml_dtypes.bfloat16
        except ImportError:  # no bfloat16 on the numpy side: the dtype cannot be drawn
            pass

    def __getitem__(self, name: str) -> type:
        if name not in self._types:
            self._load()
        return self._types[name]

    def __iter__(self) -> Iterator[str]:
        self._load()
        return iter(self._types)

    def __len__(self) -> int:
        self._load()
        return len(self._types)


#: dtype name -> numpy scalar type (values are drawn exactly representable in it)
NP_DTYPES: Mapping[str, type] = _NumpyDtypes()

#: the 16-bit floating dtypes: cells of their own (the half-precision properties), never in every property
HALF_DTYPES = ("float16", "bfloat16")


def unit_roundoff(dtype: str) -> float:
    """Half the distance from 1 to the next float: the largest relative error of one rounding to nearest
    (float16 2^-11, bfloat16 2^-8, float32 2^-24, float64 2^-53)."""
    return float(np.finfo(NP_DTYPES[dtype]).eps) / 2


def smallest_subnormal(dtype: str) -> float:
    """The spacing of the dtype's floats near zero: the absolute error one rounding of a tiny value may make."""
    return float(np.finfo(NP_DTYPES[dtype]).smallest_subnormal)


def largest(dtype: str) -> float:
    """The largest finite value of the dtype (float16: 65504)."""
    return float(np.finfo(NP_DTYPES[dtype]).max)


def rounded(x: np.ndarray | float, dtype: str) -> np.ndarray:
    """``x`` rounded to ``dtype`` (to nearest, ties to even), as float64."""
    return np.asarray(x, dtype=np.float64).astype(NP_DTYPES[dtype]).astype(np.float64)
