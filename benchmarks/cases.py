"""The benchmark cases of issue 3, each a dict of same-work callables per engine.

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
from benchmarks import micrograd_baseline as mg

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
                            target="<= 0.5x torch; >= 5x faster than micrograd", ratio_of=("torch", "micrograd"),
                            limits={"torch": 0.5, "micrograd": 0.2}))
    return out


def kernel_cases(n=1_000_000):
    rng = np.random.default_rng(0)
    x = rng.standard_normal(n).astype(np.float32)
    g = rng.standard_normal(n).astype(np.float32)
    y = (1 / (1 + np.exp(-x))).astype(np.float32)
    t = np.tanh(x)
    tx, tg, ty, tt = map(torch.from_numpy, (x, g, y, t))
    rows = x.reshape(1000, -1)
    grows = g.reshape(1000, -1)
    srows = K.softmax_forward(rows, -1)
    trows, tgrows, tsrows = map(torch.from_numpy, (rows, grows, srows))
    b4 = 4 * n
    target = ">= 1.5x faster than numpy; faster than torch"
    cases = [
        ("sigmoid forward", lambda: K.sigmoid_forward(x), lambda: 1 / (1 + np.exp(-x)), lambda: torch.sigmoid(tx), 2),
        ("sigmoid backward", lambda: K.sigmoid_backward(g, y), lambda: g * y * (1 - y),
         lambda: torch.ops.aten.sigmoid_backward(tg, ty), 3),
        ("tanh backward", lambda: K.tanh_backward(g, t), lambda: g * (1 - t * t),
         lambda: torch.ops.aten.tanh_backward(tg, tt), 3),
        ("relu backward", lambda: K.relu_backward(g, x), lambda: g * (x > 0),
         lambda: torch.ops.aten.threshold_backward(tg, tx, 0), 3),
        ("clamp backward", lambda: K.clamp_backward(g, x, -1, 1), lambda: g * ((x >= -1) & (x <= 1)),
         lambda: tg * ((tx >= -1) & (tx <= 1)), 3),
        ("softmax backward (1000 rows)", lambda: K.softmax_backward(grows, srows, -1),
         lambda: srows * (grows - (grows * srows).sum(-1, keepdims=True)),
         lambda: torch._softmax_backward_data(tgrows, tsrows, -1, torch.float32), 3),
        ("log_softmax forward (1000 rows)", lambda: K.log_softmax_forward(rows, -1),
         lambda: _np_log_softmax(rows), lambda: torch.log_softmax(trows, -1), 2),
        ("sum_to_shape (1000x1000 -> 1000)", lambda: K.sum_to_shape(grows, (1000,)),
         lambda: grows.sum(0), lambda: tgrows.sum(0), 1),
    ]
    return [Case(f"kernel {name}, 1e6 float32", "kernel", {"refengine": r, "numpy": npf, "torch": th},
                 target=target, ratio_of=("numpy", "torch"), limits={"numpy": 1 / 1.5, "torch": 1.0}, bytes_moved=arrays * b4 + (4 * 1000 if arrays == 1 else b4))
            for name, r, npf, th, arrays in cases]


def _np_log_softmax(x):
    m = x.max(-1, keepdims=True)
    s = x - m
    return s - np.log(np.exp(s).sum(-1, keepdims=True))


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
                target="<= 2x torch", ratio_of=("torch", "numpy"), limits={"torch": 2.0},
                meta={"numpy": "refengine on the numpy twin kernels"})


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
                target="<= 1.5x torch", ratio_of=("torch", "numpy"), limits={"torch": 1.5},
                meta={"numpy": "hand-written numpy forward/backward"})


def all_cases():
    return graph_cases() + kernel_cases() + [conv_case(), mlp_case()]
