"""Benchmarks: refengine vs torch (CPU, one thread) vs numpy / a pure-Python scalar engine,
run side by side by ``python -m benchmarks`` (``make bench``).  Not tests: nothing here asserts
on a time; the targets of issue 17 are printed next to the measured ratios (met/MISS).

No thread variables are set here: numpy's BLAS runs on the pool refengine sizes itself at
import (``refengine/kernels/blas.py``: 1 thread unless the user chose), as a user gets it,
and torch is pinned with ``torch.set_num_threads(1)``, so the comparison is single thread
against single thread.  ``reports/benchmarks.json`` records the BLAS pool read back from
the library.
"""
