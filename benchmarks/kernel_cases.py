"""Kernel cases: one op's forward or backward on 1e6 float32 elements (1000 rows of 1000 for
the row-wise ops), refengine vs numpy's plain expression vs torch's own kernel.

The refengine column runs what refengine's op runs for that pass: the public op under
``no_grad`` for a forward (so a forward still on numpy's ufunc, like tanh, is measured as
such), and the function the op's plain backward calls for a backward (a fused kernel, or
the op's numpy formula where there is none).  torch's backward column calls the ATen
backward kernel autograd would run (``sigmoid_backward``, ``_softmax_backward_data``, ...).
"""
from __future__ import annotations

import numpy as np
import torch

import refengine as re
import refengine.nn.functional as F
from refengine import kernels as K

N = 1_000_000
TARGET = "<= 1.2x torch; faster than numpy"
LIMITS = {"torch": 1.2, "numpy": 1.0}


def _no_grad(fn, *arrays):
    """The public op on Variables, without recording a graph (forward cost only)."""
    vs = [re.tensor(a) for a in arrays]

    def run():
        with re.no_grad():
            fn(*vs)
    return run


def _np_log_softmax(x):
    s = x - x.max(-1, keepdims=True)
    return s - np.log(np.exp(s).sum(-1, keepdims=True))


def _np_softmax(x):
    e = np.exp(x - x.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def _np_logsumexp(x):
    m = x.max(-1, keepdims=True)
    return (np.log(np.exp(x - m).sum(-1, keepdims=True)) + m)[:, 0]


def _np_sigmoid(x):
    return 1 / (1 + np.exp(-x))


def _erf_np():
    """numpy has no erf: gelu's numpy column uses the best numpy-only route available (none is
    vectorised), so it is informative only; the torch ratio carries the target."""
    import math
    return np.frompyfunc(math.erf, 1, 1)


def cases():
    rng = np.random.default_rng(0)
    x = rng.standard_normal(N).astype(np.float32)
    g = rng.standard_normal(N).astype(np.float32)
    pos = np.abs(x) + np.float32(0.1)
    rows, grows = x.reshape(1000, -1), g.reshape(1000, -1)
    y_exp, y_tanh, y_sig = np.exp(x), np.tanh(x), _np_sigmoid(x).astype(np.float32)
    s_rows, ls_rows = K.softmax_forward(rows, -1), K.log_softmax_forward(rows, -1)
    lse, g1 = K.logsumexp_forward(rows, -1), grows[:, 0].copy()
    T = lambda *a: [torch.from_numpy(np.ascontiguousarray(v)) for v in a]  # noqa: E731
    tx, tg, tpos, tye, tyt, tys = T(x, g, pos, y_exp, y_tanh, y_sig)
    trows, tgrows, tsr, tlsr, tlse, tg1 = T(rows, grows, s_rows, ls_rows, lse, g1)
    aten = torch.ops.aten
    erf = _erf_np()
    # name, refengine, numpy, torch, arrays touched (for GB/s)
    out = [
        ("exp forward", _no_grad(re.exp, x), lambda: np.exp(x), lambda: torch.exp(tx), 2),
        ("exp backward", lambda: K.exp_backward(g, y_exp), lambda: g * y_exp, lambda: tg * tye, 3),
        ("log forward", _no_grad(re.log, pos), lambda: np.log(pos), lambda: torch.log(tpos), 2),
        ("log backward", lambda: K.log_backward(g, pos), lambda: g / pos, lambda: tg / tpos, 3),
        ("tanh forward", _no_grad(re.tanh, x), lambda: np.tanh(x), lambda: torch.tanh(tx), 2),
        ("tanh backward", lambda: K.tanh_backward(g, y_tanh), lambda: g * (1 - y_tanh * y_tanh),
         lambda: aten.tanh_backward(tg, tyt), 3),
        ("sigmoid forward", _no_grad(re.sigmoid, x), lambda: _np_sigmoid(x), lambda: torch.sigmoid(tx), 2),
        ("sigmoid backward", lambda: K.sigmoid_backward(g, y_sig), lambda: g * y_sig * (1 - y_sig),
         lambda: aten.sigmoid_backward(tg, tys), 3),
        ("softmax forward (1000 rows)", _no_grad(lambda v: F.softmax(v, -1), rows), lambda: _np_softmax(rows),
         lambda: torch.softmax(trows, -1), 2),
        ("softmax backward (1000 rows)", lambda: K.softmax_backward(grows, s_rows, -1),
         lambda: s_rows * (grows - (grows * s_rows).sum(-1, keepdims=True)),
         lambda: torch._softmax_backward_data(tgrows, tsr, -1, torch.float32), 3),
        ("log_softmax forward (1000 rows)", _no_grad(lambda v: F.log_softmax(v, -1), rows),
         lambda: _np_log_softmax(rows), lambda: torch.log_softmax(trows, -1), 2),
        ("log_softmax backward (1000 rows)", lambda: K.log_softmax_backward(grows, ls_rows, -1),
         lambda: grows - np.exp(ls_rows) * grows.sum(-1, keepdims=True),
         lambda: torch._log_softmax_backward_data(tgrows, tlsr, -1, torch.float32), 3),
        ("logsumexp forward (1000 rows)", _no_grad(lambda v: re.logsumexp(v, -1), rows),
         lambda: _np_logsumexp(rows), lambda: torch.logsumexp(trows, -1), 1),
        ("logsumexp backward (1000 rows)", lambda: K.logsumexp_backward(g1, rows, lse, -1),
         lambda: g1[:, None] * np.exp(rows - lse[:, None]),
         lambda: tg1[:, None] * torch.exp(trows - tlse[:, None]), 2),
    ]
    out += _activation_cases(x, g, tx, tg, erf)
    out += [
        ("relu backward", lambda: K.relu_backward(g, x), lambda: g * (x > 0),
         lambda: aten.threshold_backward(tg, tx, 0), 3),
        ("clamp backward", lambda: K.clamp_backward(g, x, -1, 1), lambda: g * ((x >= -1) & (x <= 1)),
         lambda: tg * ((tx >= -1) & (tx <= 1)), 3),
        ("sum_to_shape (1000x1000 -> 1000)", lambda: K.sum_to_shape(grows, (1000,)),
         lambda: grows.sum(0), lambda: tgrows.sum(0), 1),
    ]
    return out


def _activation_cases(x, g, tx, tg, erf):
    """softplus, gelu, silu: through the public ops (forward) and their backward functions."""
    try:
        from refengine.nn import activation as A
    except ImportError:  # the activations are newer than the kernels; skip them if absent
        return []
    aten = torch.ops.aten
    sig = _np_sigmoid

    def op_backward(cls, *arrays, **attrs):
        """The op's plain backward (kernel or numpy formula) on arrays, with a stand-in ctx."""
        class Ctx:
            saved_tensors = arrays
        ctx = Ctx()
        for k, v in attrs.items():
            setattr(ctx, k, v)
        return lambda: cls.backward(ctx, g)

    return [
        ("softplus forward", _no_grad(F.softplus, x), lambda: np.log1p(np.exp(x)),
         lambda: torch.nn.functional.softplus(tx), 2),
        ("softplus backward", op_backward(A.Softplus, x, beta=1.0, threshold=20.0), lambda: g * sig(x),
         lambda: aten.softplus_backward(tg, tx, 1.0, 20.0), 3),
        ("gelu forward", _no_grad(F.gelu, x), lambda: x * 0.5 * (1 + erf(x * np.float32(0.70710677)).astype(np.float32)),
         lambda: torch.nn.functional.gelu(tx), 2),
        ("gelu backward", op_backward(A.Gelu, x, approximate="none"),
         lambda: g * (0.5 * (1 + erf(x * np.float32(0.70710677)).astype(np.float32))
                      + x * np.exp(-0.5 * x * x) * np.float32(0.3989423)),
         lambda: aten.gelu_backward(tg, tx), 3),
        ("silu forward", _no_grad(F.silu, x), lambda: x * sig(x), lambda: torch.nn.functional.silu(tx), 2),
        ("silu backward", op_backward(A.Silu, x), lambda: g * (sig(x) * (1 + x * (1 - sig(x)))),
         lambda: aten.silu_backward(tg, tx), 3),
    ]
