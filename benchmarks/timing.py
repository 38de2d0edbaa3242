"""Timing helpers: medians of repeated runs and a measured memory-copy bandwidth.

The clock is the process's CPU time (``time.process_time``: every thread of the process), not
wall time: on the shared development box other processes take the cores for tens of
milliseconds at a time, which wall time charges to whichever engine happened to be running,
while every engine here runs on one thread (torch.set_num_threads(1), refengine's BLAS pool of
1), so CPU time is the work each did.  ``median_times`` also interleaves the engines, one
sample of each in turn, so a change in load falls on all of them alike."""
from __future__ import annotations

import gc
import statistics
import time

import numpy as np


CLOCK = time.process_time
CLOCK_NAME = "process CPU time"


def median_time(fn, repeat: int = 7, warmup: int = 1, min_time: float = 0.0) -> float:
    """Median CPU time of ``fn()`` in seconds (gc disabled while timing, as timeit does).

    Fast calls are looped until one sample lasts ``min_time`` so the clock's resolution
    does not dominate."""
    for _ in range(warmup):
        fn()
    loops = 1
    if min_time:
        t0 = CLOCK()
        fn()
        one = max(CLOCK() - t0, 1e-9)
        loops = max(1, int(min_time / one))
    samples = []
    enabled = gc.isenabled()
    gc.disable()
    try:
        for _ in range(repeat):
            t0 = CLOCK()
            for _ in range(loops):
                fn()
            samples.append((CLOCK() - t0) / loops)
    finally:
        if enabled:
            gc.enable()
    return statistics.median(samples)


def median_times(fns: dict, repeat: int = 7, warmup: int = 1, min_time: float = 0.0) -> dict:
    """``median_time`` of several functions ({name: fn} -> {name: seconds}), their samples
    interleaved: repeat x (one sample of each function in turn)."""
    loops = {}
    for name, fn in fns.items():
        for _ in range(warmup):
            fn()
        loops[name] = 1
        if min_time:
            t0 = CLOCK()
            fn()
            loops[name] = max(1, int(min_time / max(CLOCK() - t0, 1e-9)))
    samples = {name: [] for name in fns}
    enabled = gc.isenabled()
    gc.disable()
    try:
        for _ in range(repeat):
            for name, fn in fns.items():
                t0 = CLOCK()
                for _ in range(loops[name]):
                    fn()
                samples[name].append((CLOCK() - t0) / loops[name])
    finally:
        if enabled:
            gc.enable()
    return {name: statistics.median(v) for name, v in samples.items()}


def memcpy_bandwidth(nbytes: int = 64 << 20) -> float:
    """GB/s of ``np.copyto`` on a buffer far larger than the caches (read + write counted)."""
    src = np.ones(nbytes // 8)
    dst = np.empty_like(src)
    t = median_time(lambda: np.copyto(dst, src), repeat=9)
    return 2 * nbytes / t / 1e9
