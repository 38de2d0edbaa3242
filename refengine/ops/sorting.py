"""Order statistics: sort, argsort, msort, topk, kthvalue, median.

All sort stably with NaN as the largest value, as torch's CPU sort does (ties keep
their input order, also when descending), and send the gradient to the selected
index (``selection.Selected``).  The full ``median()`` is the exception: torch splits
its gradient evenly among all elements equal to the median (NaNs when it is NaN).
Which of several tied elements median(dim)/kthvalue/topk report is unspecified in
torch (it uses nth_element); refengine picks the first in stable sorted order.
"""
from __future__ import annotations

from collections import namedtuple

import numpy as np

from refengine.function import ArrayFunction
from refengine.ops.common import data_of, method
from refengine.ops.selection import Selected, linear_index
from refengine.ops.reduce import expand_back, normalize_dims

SortResult = namedtuple("return_types", ["values", "indices"])


def _dim(dim, ndim: int) -> int:
    (d,) = normalize_dims(dim, ndim) or (0,)
    return d


def stable_argsort(a, d: int, descending: bool = False) -> np.ndarray:
    """Stable argsort along ``d``, NaN largest; descending keeps ties in input order too."""
    if not descending:
        return np.argsort(a, axis=d, kind="stable")
    n = a.shape[d]
    rev = np.argsort(np.flip(a, d), axis=d, kind="stable")
    return (n - 1 - np.flip(rev, d)).astype(np.int64)


class Sort(Selected):
    node_name = "SortBackward0"


class Topk(Selected):
    node_name = "TopkBackward0"


class Kthvalue(Selected):
    node_name = "KthvalueBackward0"


class MedianDim(Selected):
    node_name = "MedianBackward1"


def _select(cls, input, idx, d, keepdim=True):
    """Values of ``input`` at ``idx`` along ``d`` (differentiably), with the indices."""
    a = data_of(input)
    lin = linear_index(a.shape, idx, d) if a.ndim else np.zeros(idx.shape, np.int64)
    if not keepdim and a.ndim:
        lin, idx = np.squeeze(lin, d), np.squeeze(idx, d)
    values, indices = cls.apply(input, lin=lin, extra=idx)
    return SortResult(values, indices)


def _nonempty(a, d, name):
    if a.ndim and a.shape[d] == 0:
        raise IndexError(f"{name}(): Expected reduction dim {d} to have non-zero size.")


@method()
def sort(input, dim=-1, descending=False, stable=False):
    """(values, indices) sorted along ``dim``; stable either way (torch's CPU sort is)."""
    a = data_of(input)
    d = _dim(dim, a.ndim)
    idx = stable_argsort(a, d, descending) if a.ndim else np.zeros((), np.int64)
    return _select(Sort, input, idx.astype(np.int64), d)


@method()
def argsort(input, dim=-1, descending=False, *, stable=False):
    """The indices of ``sort`` (no gradient)."""
    from refengine.variable import Variable
    a = data_of(input)
    d = _dim(dim, a.ndim)
    return Variable(stable_argsort(a, d, descending).astype(np.int64) if a.ndim else np.zeros((), np.int64))


@method()
def msort(input):
    """Values sorted along dim 0."""
    return sort(input, 0).values


@method()
def topk(input, k, dim=-1, largest=True, sorted=True):  # noqa: A002  (torch's argument name)
    """The ``k`` largest (or smallest) along ``dim`` as (values, indices), in sorted order."""
    a = data_of(input)
    d = _dim(dim, a.ndim)
    n = a.shape[d] if a.ndim else 1
    if not 0 <= k <= n:
        raise RuntimeError("selected index k out of range")
    if a.ndim == 0:
        return _select(Topk, input, np.zeros((), np.int64), d)
    idx = np.take(stable_argsort(a, d, descending=largest), np.arange(k), axis=d)
    return _select(Topk, input, idx.astype(np.int64), d)


@method()
def kthvalue(input, k, dim=-1, keepdim=False):
    """The ``k``-th smallest (1-based) along ``dim`` as (values, indices); NaN counts as largest."""
    a = data_of(input)
    d = _dim(dim, a.ndim)
    n = a.shape[d] if a.ndim else 1
    if not 1 <= k <= n:
        raise RuntimeError(f"kthvalue(): selected number k out of range for dimension {d}")
    if a.ndim == 0:
        return _select(Kthvalue, input, np.zeros((), np.int64), d)
    idx = np.take(stable_argsort(a, d), [k - 1], axis=d)
    return _select(Kthvalue, input, idx.astype(np.int64), d, keepdim)


class Median(ArrayFunction):
    """median() of all elements: the lower median (NaN if any); the gradient is split evenly
    among the elements equal to it (among the NaNs when it is NaN), as torch."""

    node_name = "MedianBackward0"

    @staticmethod
    def forward(ctx, a):
        flat = a.reshape(-1)
        if flat.size == 0:
            r = np.asarray(np.nan, a.dtype)
        elif np.isnan(flat).any():
            r = np.asarray(np.nan, a.dtype)
        else:
            r = np.asarray(np.sort(flat, kind="stable")[(flat.size - 1) // 2], a.dtype)
        mask = np.isnan(a) if np.isnan(r) else a == r
        ctx.weight = (mask / max(int(mask.sum()), 1)).astype(a.dtype)
        ctx.shape = a.shape
        return r

    @staticmethod
    def backward(ctx, g):
        return expand_back(g, ctx.shape, tuple(range(len(ctx.shape))), False) * ctx.weight


@method()
def median(input, dim=None, keepdim=False):
    """``median(x)``: the lower median of all elements; ``median(x, dim)``: (values, indices) of
    the lower median along ``dim`` (NaN, at its first index, where the slice has a NaN)."""
    if dim is None:
        return Median.apply(input)
    a = data_of(input)
    d = _dim(dim, a.ndim)
    _nonempty(a, d, "median")
    if a.ndim == 0:
        return _select(MedianDim, input, np.zeros((), np.int64), d)
    n = a.shape[d]
    idx = np.take(stable_argsort(a, d), [(n - 1) // 2], axis=d)
    if a.dtype.kind == "f":
        nan = np.isnan(a)
        has_nan = nan.any(axis=d, keepdims=True)
        idx = np.where(has_nan, np.argmax(nan, axis=d, keepdims=True), idx)
    return _select(MedianDim, input, idx.astype(np.int64), d, keepdim)
