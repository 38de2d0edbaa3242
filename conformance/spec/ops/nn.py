"""nn ops through ``M.nn.functional``: softmax, log_softmax, losses, conv2d, pooling.

Numpy references are written out naively (explicit windows) so they are easy to
trust; inputs are tiny, so speed does not matter.
"""
from __future__ import annotations

from typing import Any

import numpy as np
from hypothesis import strategies as st
from numpy.lib.stride_tricks import sliding_window_view

from conformance.spec import shapes as S
from conformance.spec.opspec import Domain, OpSpec, Sample

F = "M.nn.functional"
#: logits where exp overflows (1e3) or underflows (-1e3) unless the max is subtracted first: spread wide, and
#: all large with an O(1) spread (the answer is not one-hot there); used by softmax, log_softmax,
#: cross_entropy and reduce.logsumexp (the `stability` property)
LOGITS_STABLE = ((Domain(-1e3, 1e3),), (Domain(990.0, 1e3),), (Domain(-1e3, -990.0),))


def _softmax_sample(draw: Any) -> Sample:
    shp = S.shape(draw, min_dims=1)
    return Sample((shp,), {"dim": S.dim_of(draw, len(shp))})


def _log_softmax(x: np.ndarray, dim: int) -> np.ndarray:
    m = np.max(x, axis=dim, keepdims=True)
    return x - m - np.log(np.sum(np.exp(x - m), axis=dim, keepdims=True))


def _loss_sample(draw: Any) -> Sample:
    n, c = draw(st.integers(1, 4)), draw(st.integers(2, 5))
    target = np.array(draw(st.lists(st.integers(0, c - 1), min_size=n, max_size=n)), dtype=np.int64)
    return Sample(((n, c),), {"target": target, "reduction": draw(st.sampled_from(["mean", "sum", "none"]))})


def _reduce(v: np.ndarray, reduction: str) -> np.ndarray:
    return np.asarray(v.mean() if reduction == "mean" else v.sum() if reduction == "sum" else v)


def _cross_entropy(x: np.ndarray, target: np.ndarray, reduction: str) -> np.ndarray:
    return _reduce(-_log_softmax(x, 1)[np.arange(len(target)), target], reduction)


def _nll(x: np.ndarray, target: np.ndarray, reduction: str) -> np.ndarray:
    return _reduce(-x[np.arange(len(target)), target], reduction)


def _mse_sample(draw: Any) -> Sample:
    shp = S.shape(draw)
    return Sample((shp, shp), {"reduction": draw(st.sampled_from(["mean", "sum", "none"]))})


def _conv_sample(draw: Any) -> Sample:
    n, c, o = draw(st.integers(1, 2)), draw(st.integers(1, 3)), draw(st.integers(1, 3))
    kh, kw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    pad = draw(st.integers(0, 1))
    stride = draw(st.integers(1, 2))
    h, w = draw(st.integers(max(kh - 2 * pad, 1), 5)), draw(st.integers(max(kw - 2 * pad, 1), 5))
    return Sample(((n, c, h, w), (o, c, kh, kw), (o,)), {"stride": stride, "padding": pad})


def _conv2d(x: np.ndarray, w: np.ndarray, b: np.ndarray, stride: int, padding: int) -> np.ndarray:
    xp = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    win = sliding_window_view(xp, w.shape[2:], axis=(2, 3))[:, :, ::stride, ::stride]
    return np.einsum("nchwij,ocij->nohw", win, w) + b[None, :, None, None]


def _pool_sample(draw: Any) -> Sample:
    n, c = draw(st.integers(1, 2)), draw(st.integers(1, 2))
    k = draw(st.integers(1, 3))
    stride = draw(st.integers(1, k))
    h, w = draw(st.integers(k, 5)), draw(st.integers(k, 5))
    return Sample(((n, c, h, w),), {"kernel_size": k, "stride": stride})


def _windows(x: np.ndarray, k: int, stride: int) -> np.ndarray:
    return sliding_window_view(x, (k, k), axis=(2, 3))[:, :, ::stride, ::stride]


def _pool_gap(xs: list[np.ndarray], p: dict) -> float:
    win = _windows(xs[0], p["kernel_size"], p["stride"])
    flat = np.sort(win.reshape(win.shape[:4] + (-1,)), axis=-1)
    return float(np.min(flat[..., -1] - flat[..., -2])) if flat.shape[-1] > 1 else float("inf")


SPECS = [
    OpSpec(name="softmax", family="nn", arity=1, template=f"{F}.softmax($x0, dim=$dim)", sample=_softmax_sample,
           reference=lambda x, dim: np.exp(_log_softmax(x, dim)), torch_equivalent="torch.nn.functional.softmax",
           stable=LOGITS_STABLE),
    OpSpec(name="log_softmax", family="nn", arity=1, template=f"{F}.log_softmax($x0, dim=$dim)",
           sample=_softmax_sample, reference=_log_softmax, torch_equivalent="torch.nn.functional.log_softmax",
           stable=LOGITS_STABLE),
    OpSpec(name="cross_entropy", family="nn", arity=1,
           template=f"{F}.cross_entropy($x0, $target, reduction=$reduction)", sample=_loss_sample,
           reference=_cross_entropy, torch_equivalent="torch.nn.functional.cross_entropy", stable=LOGITS_STABLE),
    OpSpec(name="nll_loss", family="nn", arity=1, template=f"{F}.nll_loss($x0, $target, reduction=$reduction)",
           sample=_loss_sample, reference=_nll, torch_equivalent="torch.nn.functional.nll_loss"),
    OpSpec(name="mse_loss", family="nn", arity=2, template=f"{F}.mse_loss($x0, $x1, reduction=$reduction)",
           sample=_mse_sample, reference=lambda a, b, reduction: _reduce((a - b) ** 2, reduction),
           torch_equivalent="torch.nn.functional.mse_loss"),
    OpSpec(name="conv2d", family="nn", arity=3,
           template=f"{F}.conv2d($x0, $x1, $x2, stride=$stride, padding=$padding)", sample=_conv_sample,
           reference=_conv2d, torch_equivalent="torch.nn.functional.conv2d", notes="with bias"),
    OpSpec(name="max_pool2d", family="nn", arity=1, template=f"{F}.max_pool2d($x0, $kernel_size, $stride)",
           sample=_pool_sample,
           reference=lambda x, kernel_size, stride: _windows(x, kernel_size, stride).max(axis=(-2, -1)),
           kink=_pool_gap, torch_equivalent="torch.nn.functional.max_pool2d"),
    OpSpec(name="avg_pool2d", family="nn", arity=1, template=f"{F}.avg_pool2d($x0, $kernel_size, $stride)",
           sample=_pool_sample,
           reference=lambda x, kernel_size, stride: _windows(x, kernel_size, stride).mean(axis=(-2, -1)),
           torch_equivalent="torch.nn.functional.avg_pool2d"),
]
