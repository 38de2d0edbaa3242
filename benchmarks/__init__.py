"""Benchmarks: refengine vs torch (CPU, one thread) vs numpy / a pure-Python scalar engine,
run side by side by ``python -m benchmarks`` (``make bench``).  Not tests: nothing here asserts
on a time; the targets of issue 3 are printed next to the measured ratios.

BLAS runs on one thread on every side (OPENBLAS/OMP/MKL_NUM_THREADS=1 before numpy loads,
``torch.set_num_threads(1)``) so the comparison is single-thread against single-thread.
"""
import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")
