"""Scans, sorting and more reductions (issue 16): cumsum, cumprod, cummax, cummin, sort, msort, topk,
kthvalue, median, std, norm.

Selections (sort, topk, kthvalue, median, cummax, cummin) route each output's gradient to one input
element; where two competing values tie, which one gets it flips, so ties are kinks: the kink
distance is the smallest gap between two values of a slice along the dim (conservative: any two
values, not only the competing ones).  cumprod keeps |x| in [0.5, 1.5] like prod (no zero factor);
std keeps the reduced count above the correction, and is not differentiable where a slice is
constant (its kink is the smallest spread); norm with p=1 has kinks at zeros, and every norm at 0.
"""
from __future__ import annotations

from typing import Any

import numpy as np
from hypothesis import strategies as st

from conformance.spec import shapes as S
from conformance.spec.ops.reduce import variance_sample
from conformance.spec.opspec import Domain, OpSpec, Sample

FAMILY = "scans"
SMALL = Domain(-1.5, 1.5, avoid=(0.0,), margin=0.5)


def _slices(x: np.ndarray, dim: Any) -> np.ndarray:
    """``x`` as rows, one per slice along ``dim`` (None: all elements one slice)."""
    if x.ndim == 0:
        return x.reshape(1, 1)
    if dim is None:
        return x.reshape(1, -1)
    return np.moveaxis(x, dim, -1).reshape(-1, x.shape[dim])


def pair_gap(x: np.ndarray, dim: Any) -> float:
    """The smallest gap between two values of a slice along ``dim`` (ties of a selection are kinks)."""
    if x.size == 0:
        return float("inf")
    rows = np.sort(_slices(x, dim), axis=1)
    if rows.shape[1] < 2:
        return float("inf")
    return float(np.min(np.diff(rows, axis=1)))


def _gap_kink(xs: list[np.ndarray], p: dict) -> float:
    return pair_gap(xs[0], p.get("dim"))


# -- scans ---------------------------------------------------------------------------------
def _scan_sample(draw: Any, max_side: int = S.MAX_SIDE) -> Sample:
    shp = S.shape(draw, max_side=max_side)
    return Sample((shp,), {"dim": S.dim_of(draw, len(shp))})


def _scan_ref(fn: Any) -> Any:
    def ref(x: np.ndarray, dim: int) -> np.ndarray:
        if x.ndim == 0:
            return x.copy()
        return fn(x, axis=dim)
    return ref


def _cumprod_sample(draw: Any) -> Sample:
    return _scan_sample(draw, max_side=3)


# -- sorting ---------------------------------------------------------------------------------
def _sort_sample(draw: Any) -> Sample:
    shp = S.shape(draw)
    return Sample((shp,), {"dim": S.dim_of(draw, len(shp)), "descending": draw(st.booleans())})


def _sort_ref(x: np.ndarray, dim: int, descending: bool) -> np.ndarray:
    if x.ndim == 0:
        return x.copy()
    s = np.sort(x, axis=dim)
    return np.flip(s, axis=dim) if descending else s


def _k_along_dim(draw: Any) -> tuple[tuple[int, ...], dict[str, Any]]:
    """A shape, a dim of it and a k in 1..size of that dim (topk, kthvalue)."""
    shp = S.shape(draw)
    dim = S.dim_of(draw, len(shp))
    return shp, {"k": draw(st.integers(1, shp[dim] if shp else 1)), "dim": dim}


def _topk_sample(draw: Any) -> Sample:
    shp, params = _k_along_dim(draw)
    return Sample((shp,), {**params, "largest": draw(st.booleans())})


def _topk_ref(x: np.ndarray, k: int, dim: int, largest: bool) -> np.ndarray:
    if x.ndim == 0:
        return x.copy()
    s = np.sort(x, axis=dim)
    if largest:
        s = np.flip(s, axis=dim)
    return np.take(s, np.arange(k), axis=dim)


def _kth_sample(draw: Any) -> Sample:
    shp, params = _k_along_dim(draw)
    return Sample((shp,), {**params, "keepdim": draw(st.booleans())})


def _kth_ref(x: np.ndarray, k: int, dim: int, keepdim: bool) -> np.ndarray:
    if x.ndim == 0:
        return x.copy()
    r = np.take(np.sort(x, axis=dim), [k - 1], axis=dim)
    return r if keepdim else np.squeeze(r, axis=dim)


def _median_sample(draw: Any) -> Sample:
    shp = S.shape(draw)
    if draw(st.booleans()) and draw(st.booleans()):
        return Sample((shp,), {"dim": None, "keepdim": False})
    return Sample((shp,), {"dim": S.dim_of(draw, len(shp)), "keepdim": draw(st.booleans())})


def _median_ref(x: np.ndarray, dim: Any, keepdim: bool) -> np.ndarray:
    """The lower median, as torch."""
    if dim is None:
        flat = np.sort(x.reshape(-1))
        return np.asarray(flat[(flat.size - 1) // 2])
    if x.ndim == 0:
        return x.copy()
    n = x.shape[dim]
    r = np.take(np.sort(x, axis=dim), [(n - 1) // 2], axis=dim)
    return r if keepdim else np.squeeze(r, axis=dim)


def _median_tpl(p: dict) -> str:
    return "M.median($x0)" if p["dim"] is None else "M.median($x0, dim=$dim, keepdim=$keepdim)[0]"


# -- std, norm -------------------------------------------------------------------------------
_std_sample = variance_sample  # std draws what var draws: dims, a correction that fits them, keepdim


def _axes_or_none(x: np.ndarray, dim: Any) -> Any:
    return S.axes(dim, x.ndim) if x.ndim else None


def _std_ref(x: np.ndarray, dim: Any, correction: int, keepdim: bool) -> np.ndarray:
    return np.asarray(np.std(x, axis=_axes_or_none(x, dim), ddof=correction, keepdims=keepdim))


def _std_kink(xs: list[np.ndarray], p: dict) -> float:
    """std is not differentiable where a reduced slice is constant: distance ~ its spread."""
    x = xs[0]
    if x.size == 0:
        return float("inf")
    ax = _axes_or_none(x, p["dim"])
    return float(np.min(np.std(x, axis=ax)))


def _std_scale(xs: list[np.ndarray], p: dict) -> float:
    """std's gradient is v (x - mean) / ((n - c) std): terms of size |x| cancel to x - mean, then are divided by
    (n - c) std.  Where std is small beside |x| the rounding of x - mean dominates the gradient's error; and
    for two elements the Jacobian of the gradient is 0 along it (the gradient is +-v / sqrt(2) whatever x), so
    the bound's |H_v| |x| term does not count it."""
    x = xs[0]
    if x.size == 0:
        return 0.0
    ax = _axes_or_none(x, p["dim"])
    n = x.size // max(1, np.size(np.sum(x, axis=ax)))
    with np.errstate(all="ignore"):
        s = np.max(np.abs(x), axis=ax) / ((n - p["correction"]) * np.std(x, axis=ax, ddof=p["correction"]))
    s = np.asarray(s)[np.isfinite(s)]
    return float(np.max(s)) if s.size else 0.0


def _norm_sample(draw: Any) -> Sample:
    shp = S.shape(draw)
    dim = S.reduce_dims(draw, len(shp))
    return Sample((shp,), {"p": draw(st.sampled_from([2, 1, 3.0])), "dim": dim, "keepdim": draw(st.booleans())})


def _norm_ref(x: np.ndarray, p: float, dim: Any, keepdim: bool) -> np.ndarray:
    ax = _axes_or_none(x, dim)
    return np.asarray(np.sum(np.abs(x) ** p, axis=ax, keepdims=keepdim) ** (1.0 / p))


def _norm_kink(xs: list[np.ndarray], p: dict) -> float:
    """|x| is not differentiable at 0 for p=1; every p-norm is not at the zero vector."""
    x = xs[0]
    if x.size == 0:
        return float("inf")
    d = float(np.min(_norm_ref(x, 2.0, p["dim"], False)))
    return min(d, float(np.min(np.abs(x)))) if p["p"] == 1 else d


SPECS = [
    OpSpec(name="cumsum", family=FAMILY, arity=1, template="M.cumsum($x0, dim=$dim)", sample=_scan_sample,
           reference=_scan_ref(np.cumsum), torch_equivalent="torch.cumsum"),
    OpSpec(name="cumprod", family=FAMILY, arity=1, template="M.cumprod($x0, dim=$dim)", sample=_cumprod_sample,
           reference=_scan_ref(np.cumprod), domains=(SMALL,), torch_equivalent="torch.cumprod",
           notes="|x| in [0.5, 1.5]: no zero factor (the zero case has its own backward path)"),
    OpSpec(name="cummax", family=FAMILY, arity=1, template="M.cummax($x0, dim=$dim)[0]", sample=_scan_sample,
           reference=_scan_ref(np.maximum.accumulate), kink=_gap_kink, torch_equivalent="torch.cummax",
           notes="(values, indices); values used"),
    OpSpec(name="cummin", family=FAMILY, arity=1, template="M.cummin($x0, dim=$dim)[0]", sample=_scan_sample,
           reference=_scan_ref(np.minimum.accumulate), kink=_gap_kink, torch_equivalent="torch.cummin"),
    OpSpec(name="sort", family=FAMILY, arity=1, template="M.sort($x0, dim=$dim, descending=$descending)[0]",
           sample=_sort_sample, reference=_sort_ref, kink=_gap_kink, torch_equivalent="torch.sort"),
    OpSpec(name="msort", family=FAMILY, arity=1, template="M.msort($x0)",
           sample=lambda draw: Sample((S.shape(draw, min_dims=1),)), reference=lambda x: np.sort(x, axis=0),
           kink=lambda xs, p: pair_gap(xs[0], 0), torch_equivalent="torch.msort", notes="sort along dim 0"),
    OpSpec(name="topk", family=FAMILY, arity=1, template="M.topk($x0, $k, dim=$dim, largest=$largest)[0]",
           sample=_topk_sample, reference=_topk_ref, kink=_gap_kink, torch_equivalent="torch.topk"),
    OpSpec(name="kthvalue", family=FAMILY, arity=1, template="M.kthvalue($x0, $k, dim=$dim, keepdim=$keepdim)[0]",
           sample=_kth_sample, reference=_kth_ref, kink=_gap_kink, torch_equivalent="torch.kthvalue"),
    OpSpec(name="median", family=FAMILY, arity=1, template=_median_tpl, sample=_median_sample,
           reference=_median_ref, kink=_gap_kink, torch_equivalent="torch.median",
           notes="the lower median; dim=None: of all elements"),
    OpSpec(name="std", family=FAMILY, arity=1,
           template="M.std($x0, dim=$dim, correction=$correction, keepdim=$keepdim)", sample=_std_sample,
           reference=_std_ref, kink=_std_kink, formula_scale=_std_scale, forward_scale=lambda xs, p: 1.0,
           torch_equivalent="torch.std"),
    OpSpec(name="norm", family=FAMILY, arity=1, template="M.norm($x0, p=$p, dim=$dim, keepdim=$keepdim)",
           sample=_norm_sample, reference=_norm_ref, kink=_norm_kink, torch_equivalent="torch.norm"),
]
