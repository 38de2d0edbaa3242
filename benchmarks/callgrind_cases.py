"""Workloads for instruction counts (valgrind --tool=callgrind), where wall time is too noisy:

    valgrind --tool=callgrind --callgrind-out-file=/dev/null \\
        .venv/bin/python benchmarks/callgrind_cases.py ROOT CASE K

runs CASE K times after one warm-up call (none when K = 0) with refengine imported from the
tree at ROOT (so two versions of a kernel can be compared); the instructions of one call are
(count(K=2) - count(K=0)) / 3.  CASE: log (the bench's |x| + 0.1), sum_to_shape (1000x1000 -> 1000), sigmoid, silu, silu_b, softplus_b, gelu, gelu_b, softmax, log_softmax, lsm_b
(log_softmax backward), maxpool, conv (fwd+bwd), chainN (an N-op chain, forward and backward; per op:
(count(chainN) - count(chain0)) / (3N) with K = 2) or dagN (the benchmark's wide DAG of N ops: N/2 scaled
copies of one leaf summed by a balanced tree; per op: (count(dagN) - count(dag0)) / (3N))."""
import sys

sys.path.insert(0, sys.argv[1])
import numpy as np  # noqa: E402

import refengine as re  # noqa: E402
import refengine.nn.functional as F  # noqa: E402
from refengine import kernels as K  # noqa: E402


def workload(case):
    rng = np.random.default_rng(0)
    x = rng.standard_normal(1_000_000).astype(np.float32)
    rows = x.reshape(1000, -1)
    g = rng.standard_normal((1000, 1000)).astype(np.float32)
    if case.startswith("chain"):
        n, x0 = int(case[5:]), np.linspace(0.5, 1.5, 1)

        def chain():
            y = re.tensor(x0, requires_grad=True)
            for _ in range(n // 2):
                y = y * 0.999
                y = y + 0.001
            y.sum().backward()
        return chain
    if case.startswith("dag"):
        n, x0 = int(case[3:]), np.linspace(0.5, 1.5, 1)

        def dag():
            x = re.tensor(x0, requires_grad=True)
            level = [x * (1.0 + 1e-4 * i) for i in range(n // 2)]
            if not level:  # dag0: the per-call baseline
                return
            while len(level) > 1:
                level = [level[i] + level[i + 1] if i + 1 < len(level) else level[i] for i in range(0, len(level), 2)]
            level[0].sum().backward()
        return dag
    if case == "conv":
        r2 = np.random.default_rng(1)
        x0 = r2.standard_normal((32, 16, 32, 32)).astype(np.float32)
        w0 = (r2.standard_normal((32, 16, 3, 3)) * 0.1).astype(np.float32)
        g0 = r2.standard_normal((32, 32, 32, 32)).astype(np.float32)

        def conv():
            a, w = re.tensor(x0, requires_grad=True), re.tensor(w0, requires_grad=True)
            F.conv2d(a, w, padding=1).backward(g0)
        return conv
    if case == "maxpool":
        p = np.random.default_rng(3).standard_normal((32, 32, 32, 32)).astype(np.float32)
        return lambda: K.max_pool2d(p, 2, 2)
    if case == "lsm_b":
        y = K.log_softmax_forward(rows, -1)
        return lambda: K.log_softmax_backward(g, y, -1)
    g1 = g.reshape(-1)
    pos = np.abs(x) + np.float32(0.1)
    return {"log": lambda: K.log_forward(pos), "sum_to_shape": lambda: K.sum_to_shape(g, (1000,)),
            "sigmoid": lambda: K.sigmoid_forward(x), "log_softmax": lambda: K.log_softmax_forward(rows, -1),
            "softmax": lambda: K.softmax_forward(rows, -1), "silu": lambda: K.silu_forward(x),
            "silu_b": lambda: K.silu_backward(g1, x), "softplus_b": lambda: K.softplus_backward(g1, x),
            "gelu": lambda: K.gelu_forward(x), "gelu_b": lambda: K.gelu_backward(g1, x)}[case]


if __name__ == "__main__":
    f, k = workload(sys.argv[2]), int(sys.argv[3])
    if k:
        f()
    for _ in range(k):
        f()
