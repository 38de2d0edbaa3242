"""Reductions with dim (None / int / negative / tuple) and keepdim, in every form torch accepts:
tuples wherever torch takes them (not max/min/prod, whose dim is one int), dim=None for amax/amin
too (logsumexp requires a dim).

max/min/amax/amin are non-differentiable at ties, so the kink distance is the
smallest gap between the two extreme values of a reduced slice.  var keeps the
reduced count above the correction (no division by zero); prod keeps |x| in
[0.5, 1.5] so products stay moderate and no factor is 0.
"""
from __future__ import annotations

from typing import Any

import numpy as np
from hypothesis import strategies as st

from conformance.spec import shapes as S
from conformance.spec.opspec import Domain, OpSpec, Sample
from conformance.spec.ops.nn import LOGITS_STABLE


def _reduce_sample(allow_tuple: bool = True, allow_none: bool = True, max_side: int = S.MAX_SIDE) -> Any:
    def sample(draw: Any) -> Sample:
        shp = S.shape(draw, max_side=max_side)
        dim = S.reduce_dims(draw, len(shp), allow_tuple=allow_tuple, allow_none=allow_none)
        # the full-reduction forms of max/min/prod take no keepdim
        keepdim = draw(st.booleans()) if (dim is not None or allow_tuple) else False
        return Sample((shp,), {"dim": dim, "keepdim": keepdim})
    return sample


def _dim_tpl(fn: str, full: str | None = None) -> Any:
    def tpl(p: dict) -> str:
        if p["dim"] is None and full is not None:
            return full
        return f"M.{fn}($x0, dim=$dim, keepdim=$keepdim)"
    return tpl


def _np_reduce(fn: Any) -> Any:
    def ref(x: np.ndarray, dim: Any, keepdim: bool) -> np.ndarray:
        ax = S.axes(dim, x.ndim) if x.ndim else None
        return np.asarray(fn(x, axis=ax, keepdims=keepdim) if x.ndim else fn(x))
    return ref


def _gap(sign: float) -> Any:
    return lambda xs, p: S.top2_gap(sign * xs[0], p["dim"])


def _logsumexp(x: np.ndarray, axis: Any = None, keepdims: bool = False) -> np.ndarray:
    m = np.max(x, axis=axis, keepdims=True)
    r = np.log(np.sum(np.exp(x - m), axis=axis, keepdims=True)) + m
    return r if keepdims else (np.squeeze(r, axis=axis) if axis is not None else r.reshape(()))


def variance_sample(draw: Any) -> Sample:
    """var and std: reduced dims, a correction the reduced count allows, keepdim."""
    shp = S.shape(draw)
    dim = S.reduce_dims(draw, len(shp))
    n = S.reduced_count(shp, dim)
    correction = draw(st.sampled_from([0, 1])) if n >= 2 else 0
    return Sample((shp,), {"dim": dim, "correction": correction, "keepdim": draw(st.booleans())})


def _var_ref(x: np.ndarray, dim: Any, correction: int, keepdim: bool) -> np.ndarray:
    ax = S.axes(dim, x.ndim) if x.ndim else None
    return np.asarray(np.var(x, axis=ax, ddof=correction, keepdims=keepdim))


def _maxmin_tpl(fn: str) -> Any:
    return lambda p: f"M.{fn}($x0)" if p["dim"] is None else f"M.{fn}($x0, dim=$dim, keepdim=$keepdim)[0]"


SMALL = Domain(-1.5, 1.5, avoid=(0.0,), margin=0.5)

SPECS = [
    OpSpec(name="sum", family="reduce", arity=1, template="M.sum($x0, dim=$dim, keepdim=$keepdim)",
           sample=_reduce_sample(), reference=_np_reduce(np.sum), torch_equivalent="torch.sum"),
    OpSpec(name="mean", family="reduce", arity=1, template="M.mean($x0, dim=$dim, keepdim=$keepdim)",
           sample=_reduce_sample(), reference=_np_reduce(np.mean), torch_equivalent="torch.mean"),
    OpSpec(name="max", family="reduce", arity=1, template=_maxmin_tpl("max"),
           sample=_reduce_sample(allow_tuple=False), reference=_np_reduce(np.max), kink=_gap(1.0),
           torch_equivalent="torch.max", notes="dim form returns (values, indices); values used"),
    OpSpec(name="min", family="reduce", arity=1, template=_maxmin_tpl("min"),
           sample=_reduce_sample(allow_tuple=False), reference=_np_reduce(np.min), kink=_gap(-1.0),
           torch_equivalent="torch.min"),
    OpSpec(name="amax", family="reduce", arity=1, template="M.amax($x0, dim=$dim, keepdim=$keepdim)",
           sample=_reduce_sample(), reference=_np_reduce(np.max), kink=_gap(1.0),
           torch_equivalent="torch.amax"),
    OpSpec(name="amin", family="reduce", arity=1, template="M.amin($x0, dim=$dim, keepdim=$keepdim)",
           sample=_reduce_sample(), reference=_np_reduce(np.min), kink=_gap(-1.0),
           torch_equivalent="torch.amin"),
    OpSpec(name="logsumexp", family="reduce", arity=1, template="M.logsumexp($x0, dim=$dim, keepdim=$keepdim)",
           sample=_reduce_sample(allow_none=False), reference=_np_reduce(_logsumexp),
           torch_equivalent="torch.logsumexp", stable=LOGITS_STABLE),
    OpSpec(name="var", family="reduce", arity=1,
           template="M.var($x0, dim=$dim, correction=$correction, keepdim=$keepdim)", sample=variance_sample,
           reference=_var_ref, torch_equivalent="torch.var"),
    OpSpec(name="prod", family="reduce", arity=1, template=_dim_tpl("prod", full="M.prod($x0)"),
           sample=_reduce_sample(allow_tuple=False, max_side=3), reference=_np_reduce(np.prod), domains=(SMALL,),
           torch_equivalent="torch.prod"),
]
