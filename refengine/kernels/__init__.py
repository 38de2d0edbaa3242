"""Numeric kernels: each Cython kernel (``_name.pyx``) has a numpy twin (``name_numpy.py``)
with the same signature.  ``REFENGINE_KERNELS=numpy`` (or ``use("numpy")``) selects the twins.
"""
from __future__ import annotations

import os

from refengine.kernels import reduce_numpy

_BACKENDS = ("cython", "numpy")
_current = "numpy"


def _bind(backend: str) -> None:
    global sum_to_shape, _current
    if backend == "cython":
        from refengine.kernels import _reduce as impl_reduce  # noqa: F401  (built by setup.py)
    else:
        impl_reduce = reduce_numpy
    sum_to_shape = impl_reduce.sum_to_shape
    _current = backend


def use(backend: str) -> None:
    """Select the kernel implementation: ``"cython"`` (default) or ``"numpy"`` (the twins)."""
    if backend not in _BACKENDS:
        raise ValueError(f"unknown kernel backend {backend!r}; expected one of {_BACKENDS}")
    _bind(backend)


def current() -> str:
    return _current


_bind(os.environ.get("REFENGINE_KERNELS", "numpy"))
