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
from conformance.spec.opspec import OpSpec, Sample

F = "M.nn.functional"


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
    OpSpec("softmax", "nn", 1, f"{F}.softmax($x0, dim=$dim)", _softmax_sample,
           lambda x, dim: np.exp(_log_softmax(x, dim)), torch_equivalent="torch.nn.functional.softmax"),
    OpSpec("log_softmax", "nn", 1, f"{F}.log_softmax($x0, dim=$dim)", _softmax_sample, _log_softmax,
           torch_equivalent="torch.nn.functional.log_softmax"),
    OpSpec("cross_entropy", "nn", 1, f"{F}.cross_entropy($x0, $target, reduction=$reduction)", _loss_sample,
           _cross_entropy, torch_equivalent="torch.nn.functional.cross_entropy"),
    OpSpec("nll_loss", "nn", 1, f"{F}.nll_loss($x0, $target, reduction=$reduction)", _loss_sample, _nll,
           torch_equivalent="torch.nn.functional.nll_loss"),
    OpSpec("mse_loss", "nn", 2, f"{F}.mse_loss($x0, $x1, reduction=$reduction)", _mse_sample,
           lambda a, b, reduction: _reduce((a - b) ** 2, reduction), torch_equivalent="torch.nn.functional.mse_loss"),
    OpSpec("conv2d", "nn", 3, f"{F}.conv2d($x0, $x1, $x2, stride=$stride, padding=$padding)", _conv_sample,
           _conv2d, torch_equivalent="torch.nn.functional.conv2d", notes="with bias"),
    OpSpec("max_pool2d", "nn", 1, f"{F}.max_pool2d($x0, $kernel_size, $stride)", _pool_sample,
           lambda x, kernel_size, stride: _windows(x, kernel_size, stride).max(axis=(-2, -1)), kink=_pool_gap,
           torch_equivalent="torch.nn.functional.max_pool2d"),
    OpSpec("avg_pool2d", "nn", 1, f"{F}.avg_pool2d($x0, $kernel_size, $stride)", _pool_sample,
           lambda x, kernel_size, stride: _windows(x, kernel_size, stride).mean(axis=(-2, -1)),
           torch_equivalent="torch.nn.functional.avg_pool2d"),
]
