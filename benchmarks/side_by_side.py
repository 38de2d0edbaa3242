"""Two versions of the kernels side by side in one process, with torch (medians of 11 x 5 calls):

    .venv/bin/python benchmarks/side_by_side.py OLD_ROOT

OLD_ROOT is a built checkout of an older tree (``git archive REV refengine setup.py | tar -x -C
DIR; cd DIR; python setup.py build_ext --inplace``).  Its extension modules are loaded under
another package name next to the current ones, so the machine's load and clock affect both
alike and the before/after ratio is a side-by-side one."""
import glob
import importlib.util
import statistics
import sys
import time

import numpy as np
import torch

import refengine.kernels as K


def _load(name, root, module):
    path = glob.glob(f"{root}/refengine/kernels/{module}*.so")[0]
    spec = importlib.util.spec_from_file_location(f"old.{module}", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _median(fn):
    fn()
    samples = []
    for _ in range(11):
        t0 = time.perf_counter()
        for _ in range(5):
            fn()
        samples.append((time.perf_counter() - t0) / 5)
    return statistics.median(samples)


def main(root):
    torch.set_num_threads(1)
    old_e, old_s, old_c = (_load(m, root, m) for m in ("_elementwise", "_softmax", "_conv"))
    rng = np.random.default_rng(0)
    x = rng.standard_normal(1_000_000).astype(np.float32)
    rows = x.reshape(1000, -1)
    g = rng.standard_normal((1000, 1000)).astype(np.float32)
    y = K.log_softmax_forward(rows, -1)
    p = np.random.default_rng(3).standard_normal((32, 32, 32, 32)).astype(np.float32)
    tx, trows, tg, ty, tp = map(torch.from_numpy, (x, rows, g, y, p))
    cases = [
        ("sigmoid forward", lambda: old_e.sigmoid_forward(x), lambda: K.sigmoid_forward(x),
         lambda: torch.sigmoid(tx)),
        ("softmax forward", lambda: old_s.softmax_forward(rows, -1), lambda: K.softmax_forward(rows, -1),
         lambda: torch.softmax(trows, -1)),
        ("log_softmax forward", lambda: old_s.log_softmax_forward(rows, -1),
         lambda: K.log_softmax_forward(rows, -1), lambda: torch.log_softmax(trows, -1)),
        ("log_softmax backward", lambda: old_s.log_softmax_backward(g, y, -1),
         lambda: K.log_softmax_backward(g, y, -1),
         lambda: torch._log_softmax_backward_data(tg, ty, -1, torch.float32)),
        ("max_pool2d forward 2x2", lambda: old_c.max_pool2d(p, 2, 2), lambda: K.max_pool2d(p, 2, 2),
         lambda: torch.nn.functional.max_pool2d(tp, 2)),
    ]
    print(f"{'kernel (1e6 float32)':26s} {'before':>10s} {'after':>10s} {'torch':>10s}  before/torch  after/torch")
    for name, before, after, th in cases:
        tb, ta, tt = _median(before), _median(after), _median(th)
        print(f"{name:26s} {tb * 1e3:8.3f}ms {ta * 1e3:8.3f}ms {tt * 1e3:8.3f}ms  {tb / tt:11.2f}x {ta / tt:11.2f}x")


if __name__ == "__main__":
    main(sys.argv[1])
