"""The benchmark cases (targets of issue 17), each a dict of same-work callables per engine.

A case is ``Case(name, group, runs, target, ratio_of)``: ``runs`` maps an engine label
("refengine", "torch", "numpy", "micrograd") to a zero-argument callable doing one full
iteration (forward + backward where there is a graph); ``target`` is the issue's goal as
text and ``ratio_of`` names the engine refengine's time is divided by for that goal.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

import refengine as re
import refengine.nn.functional as F
from refengine import kernels as K
from benchmarks import kernel_cases as KC
from benchmarks import micrograd_baseline as mg
from benchmarks import op_cases as OC

CHAIN = 10_000


@dataclass
class Case:
    name: str
    group: str
    runs: dict
    target: str = ""
    ratio_of: tuple = ()
    limits: dict = field(default_factory=dict)  # other engine -> largest refengine/other ratio that meets the target
    bytes_moved: int = 0          # per call, for the kernel cases' GB/s
    meta: dict = field(default_factory=dict)


def _chain(mod_tensor, x0):
    """10,000 ops: alternate y * 0.999 and y + 0.001, then sum and backward."""
    def run():
        x = mod_tensor(x0)
        y = x
        for _ in range(CHAIN // 2):
            y = y * 0.999
            y = y + 0.001
        y.sum().backward()
    return run


def _dag(mod_tensor, x0):
    """A wide DAG of ~10,000 ops: 5,000 scaled copies of x summed by a balanced tree."""
    def run():
        x = mod_tensor(x0)
        level = [x * (1.0 + 1e-4 * i) for i in range(CHAIN // 2)]
        while len(level) > 1:
            level = [level[i] + level[i + 1] if i + 1 < len(level) else level[i] for i in range(0, len(level), 2)]
        level[0].sum().backward()
    return run


def _mg_chain(x0):
    def run():
        for v in mg.vector(x0):
            y = v
            for _ in range(CHAIN // 2):
                y = y * 0.999
                y = y + 0.001
            y.backward()
    return run


def _mg_dag(x0):
    def run():
        for v in mg.vector(x0):
            level = [v * (1.0 + 1e-4 * i) for i in range(CHAIN // 2)]
            while len(level) > 1:
                level = [level[i] + level[i + 1] if i + 1 < len(level) else level[i] for i in range(0, len(level), 2)]
            level[0].backward()
    return run


def graph_cases():
    out = []
    for n in (1, 16):
        x0 = np.linspace(0.5, 1.5, n)
        re_t = lambda a: re.tensor(a, requires_grad=True)
        th_t = lambda a: torch.tensor(a, requires_grad=True)
        for kind, build, mg_build in (("chain", _chain, _mg_chain), ("wide DAG", _dag, _mg_dag)):
            out.append(Case(f"graph {kind} 10k ops, {n} elem", "graph",
                            {"refengine": build(re_t, x0), "torch": build(th_t, x0), "micrograd": mg_build(x0)},
                            target="<= 0.35x torch", ratio_of=("torch", "micrograd"),
                            limits={"torch": 0.35}))
    return out


def linearity_runs():
    """Chains of 1k, 10k and 100k ops on 1 element: the time per op should not grow with the
    graph (target: every size within +-20 % of the 10k figure).  {ops: callable}."""
    x0 = np.linspace(0.5, 1.5, 1)

    def chain(n):
        def run():
            y = x = re.tensor(x0, requires_grad=True)
            for _ in range(n // 2):
                y = y * 0.999
                y = y + 0.001
            y.sum().backward()
        return run
    return {n: chain(n) for n in (1_000, 10_000, 100_000)}


def kernel_cases():
    return [Case(f"kernel {name}, 1e6 float32", "kernel", {"refengine": r, "numpy": npf, "torch": th},
                 target=KC.TARGET, ratio_of=("numpy", "torch"), limits=dict(KC.LIMITS),
                 bytes_moved=arrays * 4 * KC.N)
            for name, r, npf, th, arrays in KC.cases()]


def _with_backend(backend, fn):
    def run():
        prev = K.current()
        K.use(backend)
        try:
            fn()
        finally:
            K.use(prev)
    return run


def conv_case():
    rng = np.random.default_rng(1)
    x0 = rng.standard_normal((32, 16, 32, 32)).astype(np.float32)
    w0 = (rng.standard_normal((32, 16, 3, 3)) * 0.1).astype(np.float32)
    b0 = np.zeros(32, np.float32)
    g0 = rng.standard_normal((32, 32, 32, 32)).astype(np.float32)

    def re_run():
        x, w, b = (re.tensor(a, requires_grad=True) for a in (x0, w0, b0))
        F.conv2d(x, w, b, padding=1).backward(g0)

    tx0, tw0, tb0, tg0 = map(torch.from_numpy, (x0, w0, b0, g0))

    def th_run():
        x, w, b = (a.clone().requires_grad_() for a in (tx0, tw0, tb0))
        torch.nn.functional.conv2d(x, w, b, padding=1).backward(tg0)

    return Case("conv2d fwd+bwd N32 C16 32x32 F32 3x3 pad1", "model",
                {"refengine": re_run, "torch": th_run, "numpy": _with_backend("numpy", re_run)},
                target="<= 1.5x torch", ratio_of=("torch", "numpy"), limits={"torch": 1.5},
                meta={"numpy": "refengine on the numpy twin kernels"})


def pool_cases():
    """max/avg pooling 2x2 stride 2 forward+backward on the conv case's activation shape."""
    rng = np.random.default_rng(3)
    x0 = rng.standard_normal((32, 32, 32, 32)).astype(np.float32)
    g0 = rng.standard_normal((32, 32, 16, 16)).astype(np.float32)
    tx0, tg0 = torch.from_numpy(x0), torch.from_numpy(g0)
    out = []
    for name, rf, tf in (("max_pool2d", F.max_pool2d, torch.nn.functional.max_pool2d),
                         ("avg_pool2d", F.avg_pool2d, torch.nn.functional.avg_pool2d)):
        def re_run(rf=rf):
            x = re.tensor(x0, requires_grad=True)
            rf(x, 2).backward(g0)

        def th_run(tf=tf):
            x = tx0.clone().requires_grad_()
            tf(x, 2).backward(tg0)
        out.append(Case(f"{name} 2x2 fwd+bwd N32 C32 32x32", "model",
                        {"refengine": re_run, "torch": th_run, "numpy": _with_backend("numpy", re_run)},
                        target="<= 1.2x torch", ratio_of=("torch", "numpy"), limits={"torch": 1.2},
                        meta={"numpy": "refengine on the numpy twin kernels"}))
    return out


def mlp_case(lr=0.01):
    rng = np.random.default_rng(2)
    X = rng.standard_normal((64, 784)).astype(np.float32)
    Y = rng.integers(0, 10, 64)
    init = [(rng.standard_normal(s) * 0.05).astype(np.float32) for s in ((784, 256), (256,), (256, 10), (10,))]
    rp = [re.tensor(a.copy(), requires_grad=True) for a in init]
    tp = [torch.tensor(a.copy(), requires_grad=True) for a in init]
    npp = [a.copy() for a in init]
    TY = torch.from_numpy(Y)
    TX = torch.from_numpy(X)

    def re_step():
        W1, b1, W2, b2 = rp
        loss = F.cross_entropy(F.relu(X @ W1 + b1) @ W2 + b2, Y)
        loss.backward()
        for p in rp:
            p.data -= lr * p.grad.data
            p.grad = None

    def th_step():
        W1, b1, W2, b2 = tp
        loss = torch.nn.functional.cross_entropy(torch.relu(TX @ W1 + b1) @ W2 + b2, TY)
        loss.backward()
        with torch.no_grad():
            for p in tp:
                p -= lr * p.grad
                p.grad = None

    def np_step():
        W1, b1, W2, b2 = npp
        z = X @ W1 + b1
        h = np.maximum(z, 0)
        logits = h @ W2 + b2
        p = np.exp(logits - logits.max(1, keepdims=True))
        p /= p.sum(1, keepdims=True)
        p[np.arange(64), Y] -= 1
        dl = p / 64
        gW2, gb2 = h.T @ dl, dl.sum(0)
        dz = (dl @ W2.T) * (z > 0)
        gW1, gb1 = X.T @ dz, dz.sum(0)
        for q, gq in zip(npp, (gW1, gb1, gW2, gb2)):
            q -= lr * gq

    return Case("MLP 784-256-10 batch 64 cross_entropy step", "model",
                {"refengine": re_step, "torch": th_step, "numpy": np_step},
                target="<= 0.8x torch", ratio_of=("torch", "numpy"), limits={"torch": 0.8},
                meta={"numpy": "hand-written numpy forward/backward"})


def op_cases():
    """Issue 16's ops forward+backward; the numpy column is the same op on the numpy twin kernels."""
    return [Case(name, "op", {"refengine": r, "torch": th, "numpy": _with_backend("numpy", r)},
                 target=OC.TARGET, ratio_of=("torch", "numpy"), limits=dict(OC.LIMITS),
                 meta={"numpy": "refengine on the numpy twin kernels"})
            for name, r, th in OC.cases()]


def all_cases():
    return graph_cases() + kernel_cases() + [conv_case()] + pool_cases() + [mlp_case()] + op_cases()
