"""Op cases (issue 16 item 2): scans, gather/scatter, normalisation and padding, forward and
backward through the public op, refengine vs torch vs refengine on the numpy twin kernels.

Each of these ops was written in numpy first; the numpy column runs the same refengine op
with ``kernels.use("numpy")``, so refengine / numpy is what its Cython kernel buys (the
issue's bar: a kernel is kept where the twin is >= 1.5x slower).  An op with no kernel of
its own runs the same code in both columns (ratio ~1).  Sizes are what a user meets: 1e6
elements for the scans, gathers and pads, batch 64 x 512 for layer_norm, and a 64-image
batch of 32 channels for group_norm / batch_norm.
"""
from __future__ import annotations

import numpy as np
import torch

import refengine as re
import refengine.nn.functional as F

TARGET = "<= 0.67x numpy twin (kernel pays 1.5x)"
LIMITS = {"numpy": 1 / 1.5}


def _pair(re_fn, th_fn, arrays, g):
    """fwd+bwd callables: float arrays become leaves that need a gradient, int arrays stay indices."""
    tg = torch.from_numpy(g)

    def re_run():
        re_fn(*[re.tensor(a, requires_grad=True) if a.dtype.kind == "f" else a for a in arrays]).backward(g)

    def th_run():
        th_fn(*[torch.from_numpy(a).requires_grad_() if a.dtype.kind == "f" else torch.from_numpy(a)
                for a in arrays]).backward(tg)
    return re_run, th_run


def cases():
    """[(name, refengine fwd+bwd, torch fwd+bwd)]"""
    rng = np.random.default_rng(4)
    f32 = np.float32
    x = rng.standard_normal((1000, 1000)).astype(f32)
    g = rng.standard_normal((1000, 1000)).astype(f32)
    near1 = rng.uniform(0.999, 1.001, (1000, 1000)).astype(f32)   # a product of 1000 stays finite
    idx = rng.integers(0, 1000, (1000, 1000))
    rows = rng.integers(0, 1000, 500)
    src_rows = rng.standard_normal((500, 1000)).astype(f32)
    ln, gln = rng.standard_normal((64, 512)).astype(f32), rng.standard_normal((64, 512)).astype(f32)
    w512, b512 = rng.standard_normal(512).astype(f32), rng.standard_normal(512).astype(f32)
    img, gimg = rng.standard_normal((64, 32, 16, 16)).astype(f32), rng.standard_normal((64, 32, 16, 16)).astype(f32)
    w32, b32 = rng.standard_normal(32).astype(f32), rng.standard_normal(32).astype(f32)
    act = rng.standard_normal((32, 32, 32, 32)).astype(f32)
    gpad = rng.standard_normal((32, 32, 36, 36)).astype(f32)
    tF = torch.nn.functional
    out = [
        ("cumsum dim -1 1000x1000", lambda v: re.cumsum(v, -1), lambda v: torch.cumsum(v, -1), [x], g),
        ("cumsum dim 0 1000x1000", lambda v: re.cumsum(v, 0), lambda v: torch.cumsum(v, 0), [x], g),
        ("cumprod dim -1 1000x1000", lambda v: re.cumprod(v, -1), lambda v: torch.cumprod(v, -1), [near1], g),
        ("gather dim 1 1000x1000", lambda v, i: re.gather(v, 1, i), lambda v, i: torch.gather(v, 1, i),
         [x, idx], g),
        ("scatter_add dim 1 1000x1000", lambda v, s, i: re.scatter_add(v, 1, i, s),
         lambda v, s, i: torch.scatter_add(v, 1, i, s), [x, g, idx], g),
        ("index_add dim 0 500 rows of 1000", lambda v, s, i: re.index_add(v, 0, i, s),
         lambda v, s, i: torch.index_add(v, 0, i, s), [x, src_rows, rows], g),
        ("layer_norm 64x512", lambda v, w, b: F.layer_norm(v, (512,), w, b),
         lambda v, w, b: tF.layer_norm(v, (512,), w, b), [ln, w512, b512], gln),
        ("group_norm 8 groups 64x32x16x16", lambda v, w, b: F.group_norm(v, 8, w, b),
         lambda v, w, b: tF.group_norm(v, 8, w, b), [img, w32, b32], gimg),
        ("batch_norm training 64x32x16x16", lambda v, w, b: F.batch_norm(v, None, None, w, b, training=True),
         lambda v, w, b: tF.batch_norm(v, None, None, w, b, training=True), [img, w32, b32], gimg),
    ]
    for mode in ("reflect", "replicate"):
        out.append((f"pad {mode} 2 32x32x32x32", lambda v, m=mode: F.pad(v, (2, 2, 2, 2), mode=m),
                    lambda v, m=mode: tF.pad(v, (2, 2, 2, 2), mode=m), [act], gpad))
    return [(f"op {name} fwd+bwd float32", *_pair(r, t, arrays, grad)) for name, r, t, arrays, grad in out]
