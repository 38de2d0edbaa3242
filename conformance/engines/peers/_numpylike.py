"""Moved to :mod:`conformance.engines.numpy_ops` (public: the op table of ``NumpyStyleAdapter``).

Kept so that adapters importing ``conformance.engines.peers._numpylike`` (tensorflow's) keep working.
"""
from __future__ import annotations

from conformance.engines.numpy_ops import Op, axis_of, numpy_ops

__all__ = ["Op", "axis_of", "numpy_ops"]
