"""The size of the BLAS thread pool refengine's matmuls and convolutions run on.

refengine's BLAS calls are small GEMMs (conv2d's im2col products have K = C*kh*kw, e.g.
144; an MLP layer is 64 x 784 x 256), for which a BLAS library's own thread pool costs
more in fork/join and spinning than it saves, and on a busy machine its threads fight
every other process for the cores: measured on the 2-core development box, conv2d
forward+backward took 111 ms with numpy's OpenBLAS at its default 2 threads against 41 ms
at 1 thread (benchmarks/README.md has the side-by-side figures).  Users do not know to set
``OPENBLAS_NUM_THREADS``, so refengine sets the pool itself when it is imported:

* ``REFENGINE_BLAS_THREADS=N`` in the environment: N threads;
* else, if the user set ``OPENBLAS_NUM_THREADS``, ``OMP_NUM_THREADS``, ``MKL_NUM_THREADS``
  or ``BLIS_NUM_THREADS``, their choice stands (nothing is changed);
* else 1 thread.

The limit applies to every BLAS library loaded in the process (numpy's included: refengine
computes with numpy, so the two cannot be told apart), through threadpoolctl;
``set_threads(n)`` changes it at run time and ``threads()`` reports it.  torch's own
intra-op pool is not a BLAS pool here and is left alone.
"""
from __future__ import annotations

import os
import warnings

_USER_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS")
#: the limit applied at import (None: left to the user's environment or not applied)
applied: int | None = None


def _controller():
    from threadpoolctl import ThreadpoolController  # imported lazily: a few ms of library scanning
    return ThreadpoolController()


def set_threads(n: int) -> None:
    """Run every loaded BLAS library on ``n`` threads (process-wide)."""
    global applied
    n = int(n)
    if n < 1:
        raise ValueError(f"BLAS threads must be >= 1, got {n}")
    _controller().select(user_api="blas").limit(limits=n)
    applied = n


def threads() -> dict:
    """{library file: number of threads} for every loaded BLAS library."""
    return {c.filepath: c.num_threads for c in _controller().select(user_api="blas").lib_controllers}


def configure() -> int | None:
    """Apply the import-time policy above; returns the thread count set, or None."""
    wanted = os.environ.get("REFENGINE_BLAS_THREADS")
    if wanted is None and any(os.environ.get(v) for v in _USER_VARS):
        return None
    try:
        n = int(wanted) if wanted is not None else 1
    except ValueError:
        raise ValueError(f"REFENGINE_BLAS_THREADS={wanted!r}; expected a positive integer") from None
    try:
        set_threads(n)
    except ImportError:  # threadpoolctl is a declared dependency; an odd install still imports
        warnings.warn("threadpoolctl is not installed: refengine cannot limit the BLAS thread pool "
                      "(set OPENBLAS_NUM_THREADS=1 for the same effect)", RuntimeWarning, stacklevel=2)
        return None
    return n
