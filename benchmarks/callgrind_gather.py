"""Instruction counts of the gather / scatter op cases (benchmarks/op_cases.py, fwd+bwd through
the public op), for valgrind --tool=callgrind where wall time is too noisy:

    valgrind --tool=callgrind --callgrind-out-file=/dev/null \\
        .venv/bin/python benchmarks/callgrind_gather.py ROOT CASE K [cython|numpy]

as benchmarks/callgrind_cases.py: CASE (gather, gather0 (along dim 0), scatter_add, index_add, index_select) runs K times
after one warm-up call (none when K = 0) with refengine imported from the tree at ROOT and the
kernels of the given backend (default cython); one call is (count(K=2) - count(K=0)) / 3."""
import sys

sys.path.insert(0, sys.argv[1])
import numpy as np  # noqa: E402

import refengine as re  # noqa: E402
from refengine import kernels  # noqa: E402


def workload(case):
    rng = np.random.default_rng(4)
    f32 = np.float32
    x = rng.standard_normal((1000, 1000)).astype(f32)
    g = rng.standard_normal((1000, 1000)).astype(f32)
    idx = rng.integers(0, 1000, (1000, 1000))
    rows = rng.integers(0, 1000, 500)
    src_rows = rng.standard_normal((500, 1000)).astype(f32)
    leaf = lambda a: re.tensor(a, requires_grad=True)  # noqa: E731
    return {
        "gather": lambda: re.gather(leaf(x), 1, idx).backward(g),
        "gather0": lambda: re.gather(leaf(x), 0, idx).backward(g),   # dim 0: rows of B = 1000
        "scatter_add": lambda: re.scatter_add(leaf(x), 1, idx, leaf(g)).backward(g),
        "index_add": lambda: re.index_add(leaf(x), 0, rows, leaf(src_rows)).backward(g),
        "index_select": lambda: re.index_select(leaf(x), 0, rows).backward(src_rows),
    }[case]


if __name__ == "__main__":
    if len(sys.argv) > 4:
        kernels.use(sys.argv[4])
    f, k = workload(sys.argv[2]), int(sys.argv[3])
    if k:
        f()
    for _ in range(k):
        f()
