"""Shared checks for the tests/test_ops_*.py files: refengine vs numpy (forward) and vs torch
float64 (first and second derivatives) on the same inputs and cotangents.

Inputs come from hypothesis as (shape, seed) pairs turned into arrays by numpy's
generator: hypothesis explores shapes (0-d, zero-size, broadcasting) and shrinks,
numpy fills values fast.
"""
from __future__ import annotations

import numpy as np
import torch
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import refengine as re

torch.set_num_threads(1)
FAST = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])

seeds = st.integers(0, 2**32 - 1)
shapes = hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=4)
nonempty_shapes = hnp.array_shapes(min_dims=0, max_dims=3, min_side=1, max_side=4)
pair_shapes = hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3, min_side=0, max_side=4)


def arrays(seed: int, *shapes, low=-2.0, high=2.0, dtype=np.float64):
    """One array per shape, uniform in [low, high), reproducible from ``seed``."""
    rng = np.random.default_rng(seed)
    return [rng.uniform(low, high, s).astype(dtype) for s in shapes]


def close(actual, expected, rtol=1e-7, atol=1e-9, what=""):
    a = np.asarray(actual)
    e = np.asarray(expected)
    assert a.shape == e.shape, f"{what}: shape {a.shape} != expected {e.shape}"
    np.testing.assert_allclose(a, e, rtol=rtol, atol=atol, err_msg=what)


def _tensor_grads(tg, shapes):
    # torch may answer a ZeroTensor (e.g. the second derivative of abs), which needs force=True
    return [np.zeros(s) if g is None else g.detach().numpy(force=True) for g, s in zip(tg, shapes)]


def _re_grads(rg, shapes):
    return [np.zeros(s) if g is None else g.data for g, s in zip(rg, shapes)]


def check(re_fn, torch_fn, inputs, *, np_fn=None, second=False, seed=0, rtol=1e-7, atol=1e-9):
    """Forward vs numpy (``np_fn``, else torch) and gradients vs torch float64.

    ``inputs`` are float64 arrays that require grad (non-differentiable arguments are
    closed over by the functions).  With ``second``, the gradient of a random linear
    function of the first gradients is compared too (create_graph in both engines).
    """
    xs = [re.tensor(a, requires_grad=True) for a in inputs]
    ts = [torch.tensor(a, requires_grad=True) for a in inputs]
    out, tout = re_fn(*xs), torch_fn(*ts)
    expected = np_fn(*inputs) if np_fn is not None else tout.detach().numpy()
    close(out.data, expected, rtol, atol, "forward")
    assert out.dtype == np.float64, f"forward dtype {out.dtype}"
    rng = np.random.default_rng(seed)
    cot = rng.standard_normal(out.shape)
    shapes_in = [a.shape for a in inputs]
    rg = re.grad(out, xs, grad_outputs=re.tensor(cot), allow_unused=True, retain_graph=True,
                 create_graph=second)
    tg = torch.autograd.grad(tout, ts, torch.tensor(cot), allow_unused=True, retain_graph=True,
                             create_graph=second)
    for i, (a, e) in enumerate(zip(_re_grads(rg, shapes_in), _tensor_grads(tg, shapes_in))):
        close(a, e, rtol, atol, f"grad of input {i}")
    if not second:
        return
    ws = [rng.standard_normal(s) for s in shapes_in]
    pairs = [(g, w) for g, w in zip(rg, ws) if g is not None and g.requires_grad]
    tpairs = [(g, w) for g, w in zip(tg, ws) if g is not None and g.requires_grad]
    # a first gradient that is constant in one engine (e.g. abs: g * sign(x)) has a zero
    # second derivative: it must then be zero in the other engine too
    rg2 = re.grad(sum((g * re.tensor(w)).sum() for g, w in pairs), xs, allow_unused=True) \
        if pairs else [None] * len(xs)
    tg2 = torch.autograd.grad(sum((g * torch.tensor(w)).sum() for g, w in tpairs), ts, allow_unused=True) \
        if tpairs else [None] * len(ts)
    for i, (a, e) in enumerate(zip(_re_grads(rg2, shapes_in), _tensor_grads(tg2, shapes_in))):
        close(a, e, rtol, atol, f"second derivative wrt input {i}")


@st.composite
def pool_windows(draw, min_side: int = 1, max_side: int = 7):
    """A pooling/im2col geometry and an NCHW input shape it fits: ``(shape, (kernel, stride,
    padding, dilation))``.  Spatial sides run from the smallest the window allows (at least
    ``min_side``; 0 reaches empty outputs) to ``max_side``; batch and channels may be 0."""
    k = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    s = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    p = (draw(st.integers(0, k[0] // 2)), draw(st.integers(0, k[1] // 2)))
    d = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    h = draw(st.integers(max(d[0] * (k[0] - 1) + 1 - 2 * p[0], min_side), max_side))
    w = draw(st.integers(max(d[1] * (k[1] - 1) + 1 - 2 * p[1], min_side), max_side))
    return (draw(st.integers(0, 2)), draw(st.integers(0, 3)), h, w), (k, s, p, d)
