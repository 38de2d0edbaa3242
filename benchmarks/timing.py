"""Timing helpers: medians of repeated runs and a measured memory-copy bandwidth."""
from __future__ import annotations

import gc
import statistics
import time

import numpy as np


def median_time(fn, repeat: int = 7, warmup: int = 1, min_time: float = 0.0) -> float:
    """Median wall time of ``fn()`` in seconds (gc disabled while timing, as timeit does).

    Fast calls are looped until one sample lasts ``min_time`` so the clock's resolution
    does not dominate."""
    for _ in range(warmup):
        fn()
    loops = 1
    if min_time:
        t0 = time.perf_counter()
        fn()
        one = max(time.perf_counter() - t0, 1e-9)
        loops = max(1, int(min_time / one))
    samples = []
    enabled = gc.isenabled()
    gc.disable()
    try:
        for _ in range(repeat):
            t0 = time.perf_counter()
            for _ in range(loops):
                fn()
            samples.append((time.perf_counter() - t0) / loops)
    finally:
        if enabled:
            gc.enable()
    return statistics.median(samples)


def memcpy_bandwidth(nbytes: int = 64 << 20) -> float:
    """GB/s of ``np.copyto`` on a buffer far larger than the caches (read + write counted)."""
    src = np.ones(nbytes // 8)
    dst = np.empty_like(src)
    t = median_time(lambda: np.copyto(dst, src), repeat=9)
    return 2 * nbytes / t / 1e9
