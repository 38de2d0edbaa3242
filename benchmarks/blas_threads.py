"""conv2d fwd+bwd as a user runs it -- no thread variables set -- with refengine's BLAS pool
(``refengine/kernels/blas.py``) and, for comparison, with OpenBLAS at its own default:

    env -u OPENBLAS_NUM_THREADS -u OMP_NUM_THREADS .venv/bin/python benchmarks/blas_threads.py

Both settings are timed in this one process, alternating, so the ratio is side by side.
torch runs at its own default thread count too (what the user gets)."""
import statistics
import time

import numpy as np
import torch

import refengine as re
import refengine.nn.functional as F
from refengine.kernels import blas


def main():
    rng = np.random.default_rng(1)
    x0 = rng.standard_normal((32, 16, 32, 32)).astype(np.float32)
    w0 = (rng.standard_normal((32, 16, 3, 3)) * 0.1).astype(np.float32)
    g0 = rng.standard_normal((32, 32, 32, 32)).astype(np.float32)

    def run():
        x, w = re.tensor(x0, requires_grad=True), re.tensor(w0, requires_grad=True)
        F.conv2d(x, w, padding=1).backward(g0)

    tx, tw, tg = map(torch.from_numpy, (x0, w0, g0))

    def th():
        x, w = tx.clone().requires_grad_(), tw.clone().requires_grad_()
        torch.nn.functional.conv2d(x, w, padding=1).backward(tg)

    import os
    default = os.cpu_count()  # OpenBLAS's own default: one thread per CPU
    mine = blas.applied or 1
    times = {f"refengine, BLAS {mine} thread (refengine's)": [], f"refengine, BLAS {default} threads (OpenBLAS default)": [],
             f"torch, {torch.get_num_threads()} threads (its default)": []}
    keys = list(times)
    for _ in range(5):
        for key, n, fn in ((keys[0], mine, run), (keys[1], default, run), (keys[2], None, th)):
            if n:
                blas.set_threads(n)
            fn()
            t0 = time.perf_counter()
            for _ in range(3):
                fn()
            times[key].append((time.perf_counter() - t0) / 3)
    blas.set_threads(mine)
    for key, ts in times.items():
        print(f"{key:48s} {statistics.median(ts) * 1e3:8.1f} ms")


if __name__ == "__main__":
    main()
