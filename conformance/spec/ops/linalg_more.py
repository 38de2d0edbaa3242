"""More linear algebra (issue 16): products (dot, vdot, mv, outer, ger, cross, einsum), diagonals and
triangles (trace, diag, diagonal, tril, triu), and the decompositions (det, slogdet, inverse, cholesky).

det, slogdet and inverse are not differentiable (or not defined) at singular matrices, and near one
their derivatives grow like 1/sigma_min^k.  A kink on sigma_min is not enough: the op-independent
rules (hooks, detach, grad-mode) compare with torch without discarding kinks, and drawn simple
numbers (1, -1, 2, ...) make exactly singular matrices common, where torch.inverse raises and
torch.det's gradient is 0 there (wrong: the adjugate is not; torch 2.13).  So
their template builds a strictly diagonally dominant matrix, ``x0 + diag(x1)`` with x0 in
[-0.5, 0.5] and |x1| in [2.5, 3] of either sign: every row's diagonal beats the rest of the row by
at least 0.5, so sigma_min >= 0.5 and det takes both signs.
cholesky needs a symmetric positive definite input, which values drawn elementwise never
are: its template builds one, ``x0 x0^T + diag(x1)`` with x1 in [0.5, 2] (eigenvalues >= 0.5),
so the program differentiates through matmul, transpose and diag into cholesky.
"""
from __future__ import annotations

from typing import Any

import numpy as np
from hypothesis import strategies as st

from conformance.spec import shapes as S
from conformance.spec.opspec import Domain, OpSpec, Sample

FAMILY = "linalg_more"
VALS = Domain(-2.0, 2.0)
DIAG = Domain(0.5, 2.0)
OFFDIAG = Domain(-0.5, 0.5)
DOMINANT = Domain(-3.0, 3.0, avoid=(0.0,), margin=2.5)  # |x| in [2.5, 3]


def _n(draw: Any, lo: int = 1) -> int:
    return draw(st.integers(lo, 4))


# -- products ----------------------------------------------------------------------------
def _two_vectors(draw: Any) -> Sample:
    n = _n(draw)
    return Sample(((n,), (n,)))


def _mv(draw: Any) -> Sample:
    n, m = _n(draw), _n(draw)
    return Sample(((n, m), (m,)))


def _outer(draw: Any) -> Sample:
    return Sample(((_n(draw),), (_n(draw),)))


def _cross(draw: Any) -> Sample:
    shp = list(S.shape(draw, min_dims=1, max_dims=3, max_side=3))
    dim = S.dim_of(draw, len(shp))
    shp[dim] = 3
    return Sample((tuple(shp), tuple(shp)), {"dim": dim})


def _cross_ref(a: np.ndarray, b: np.ndarray, dim: int) -> np.ndarray:
    return np.cross(a, b, axisa=dim, axisb=dim, axisc=dim)


#: binary einsum equations: contractions, batch dims, outer products, a repeated index (a diagonal),
#: a full reduction, implicit output (alphabetical free indices)
EINSUM = ("ij,jk->ik", "bij,bjk->bik", "i,i->", "i,j->ij", "ij,ij->i", "ii,i->i", "ijk,k->ji", "ij,jk", "ab,cb->ca")


def _einsum_sample(draw: Any) -> Sample:
    eq = draw(st.sampled_from(EINSUM))
    size = {c: _n(draw) for c in sorted(set(eq) - set(",->"))}
    ins = eq.split("->")[0].split(",")
    return Sample(tuple(tuple(size[c] for c in term) for term in ins), {"equation": eq})


def _einsum_ref(a: np.ndarray, b: np.ndarray, equation: str) -> np.ndarray:
    return np.asarray(np.einsum(equation, a, b))


# -- diagonals and triangles -------------------------------------------------------------
def _matrix(draw: Any) -> Sample:
    return Sample(((_n(draw), _n(draw)),))


def _diag_sample(draw: Any) -> Sample:
    if draw(st.booleans()):
        return Sample(((_n(draw),),), {"diagonal": draw(st.integers(-2, 2))})
    n, m = _n(draw), _n(draw)
    return Sample(((n, m),), {"diagonal": draw(st.integers(-(n - 1), m - 1))})


def _diag_ref(x: np.ndarray, diagonal: int) -> np.ndarray:
    return np.diag(x, diagonal)


def _diagonal_sample(draw: Any) -> Sample:
    shp = S.shape(draw, min_dims=2, max_dims=4, max_side=3)
    nd = len(shp)
    d1, d2 = draw(st.lists(st.integers(0, nd - 1), min_size=2, max_size=2, unique=True))
    offset = draw(st.integers(-(shp[d1] - 1), shp[d2] - 1))
    neg = draw(st.booleans())
    return Sample((shp,), {"offset": offset, "dim1": d1 - nd if neg else d1, "dim2": d2})


def _diagonal_ref(x: np.ndarray, offset: int, dim1: int, dim2: int) -> np.ndarray:
    return np.diagonal(x, offset, dim1, dim2).copy()


def _tri_sample(draw: Any) -> Sample:
    shp = S.shape(draw, min_dims=2, max_dims=3)
    return Sample((shp,), {"diagonal": draw(st.integers(-3, 3))})


def _tri_ref(fn: Any) -> Any:
    def ref(x: np.ndarray, diagonal: int) -> np.ndarray:
        n, m = x.shape[-2:]
        keep = fn(np.ones((n, m), dtype=bool), diagonal)
        return np.where(keep, x, 0.0)
    return ref


# -- decompositions ----------------------------------------------------------------------
def _square(draw: Any) -> Sample:
    n = _n(draw)
    batch = tuple(draw(st.lists(st.integers(1, 3), max_size=1)))
    return Sample((batch + (n, n), (n,)))


def _dominant(a: np.ndarray, d: np.ndarray) -> np.ndarray:
    return a + np.diag(d)


def _slogdet_ref(a: np.ndarray, d: np.ndarray) -> np.ndarray:
    return np.asarray(np.linalg.slogdet(_dominant(a, d))[1])


def _chol_sample(draw: Any) -> Sample:
    n = _n(draw)
    batch = tuple(draw(st.lists(st.integers(1, 3), max_size=1)))
    return Sample((batch + (n, n), (n,)), {"upper": draw(st.booleans())})


def _chol_ref(a: np.ndarray, d: np.ndarray, upper: bool) -> np.ndarray:
    spd = a @ np.swapaxes(a, -1, -2) + np.diag(d)
    low = np.linalg.cholesky(spd)
    return np.swapaxes(low, -1, -2).copy() if upper else low


SPECS = [
    OpSpec(name="dot", family=FAMILY, arity=2, template="M.dot($x0, $x1)", sample=_two_vectors,
           reference=lambda a, b: np.asarray(np.dot(a, b)), domains=(VALS, VALS), torch_equivalent="torch.dot"),
    OpSpec(name="vdot", family=FAMILY, arity=2, template="M.vdot($x0, $x1)", sample=_two_vectors,
           reference=lambda a, b: np.asarray(np.vdot(a, b)), domains=(VALS, VALS), torch_equivalent="torch.vdot"),
    OpSpec(name="mv", family=FAMILY, arity=2, template="M.mv($x0, $x1)", sample=_mv, reference=np.matmul,
           domains=(VALS, VALS), torch_equivalent="torch.mv"),
    OpSpec(name="outer", family=FAMILY, arity=2, template="M.outer($x0, $x1)", sample=_outer, reference=np.outer,
           domains=(VALS, VALS), torch_equivalent="torch.outer"),
    OpSpec(name="ger", family=FAMILY, arity=2, template="M.ger($x0, $x1)", sample=_outer, reference=np.outer,
           domains=(VALS, VALS), torch_equivalent="torch.ger", notes="alias of outer"),
    OpSpec(name="cross", family=FAMILY, arity=2, template="M.cross($x0, $x1, dim=$dim)", sample=_cross,
           reference=_cross_ref, domains=(VALS, VALS), torch_equivalent="torch.cross"),
    OpSpec(name="einsum", family=FAMILY, arity=2, template="M.einsum($equation, $x0, $x1)", sample=_einsum_sample,
           reference=_einsum_ref, domains=(VALS, VALS), torch_equivalent="torch.einsum",
           notes="binary equations; one repeats an index within an operand (a diagonal)"),
    OpSpec(name="trace", family=FAMILY, arity=1, template="M.trace($x0)", sample=_matrix,
           reference=lambda x: np.asarray(np.trace(x)), torch_equivalent="torch.trace"),
    OpSpec(name="diag", family=FAMILY, arity=1, template="M.diag($x0, $diagonal)", sample=_diag_sample,
           reference=_diag_ref, torch_equivalent="torch.diag", notes="1-D: builds a matrix; 2-D: takes a diagonal"),
    OpSpec(name="diagonal", family=FAMILY, arity=1, template="M.diagonal($x0, $offset, $dim1, $dim2)",
           sample=_diagonal_sample, reference=_diagonal_ref, torch_equivalent="torch.diagonal"),
    OpSpec(name="tril", family=FAMILY, arity=1, template="M.tril($x0, $diagonal)", sample=_tri_sample,
           reference=_tri_ref(np.tril), torch_equivalent="torch.tril"),
    OpSpec(name="triu", family=FAMILY, arity=1, template="M.triu($x0, $diagonal)", sample=_tri_sample,
           reference=_tri_ref(np.triu), torch_equivalent="torch.triu"),
    OpSpec(name="det", family=FAMILY, arity=2, template="M.det($x0 + M.diag($x1))", sample=_square,
           reference=lambda a, d: np.asarray(np.linalg.det(_dominant(a, d))), domains=(OFFDIAG, DOMINANT),
           torch_equivalent="torch.det", notes="input x0 + diag(x1): strictly diagonally dominant"),
    OpSpec(name="slogdet", family=FAMILY, arity=2, template="M.slogdet($x0 + M.diag($x1))[1]", sample=_square,
           reference=_slogdet_ref, domains=(OFFDIAG, DOMINANT), torch_equivalent="torch.slogdet",
           notes="(sign, logabsdet); logabsdet used; input x0 + diag(x1), strictly diagonally dominant"),
    OpSpec(name="inverse", family=FAMILY, arity=2, template="M.inverse($x0 + M.diag($x1))", sample=_square,
           reference=lambda a, d: np.linalg.inv(_dominant(a, d)), domains=(OFFDIAG, DOMINANT),
           torch_equivalent="torch.inverse", notes="input x0 + diag(x1): strictly diagonally dominant"),
    OpSpec(name="cholesky", family=FAMILY, arity=2,
           template="M.cholesky(M.matmul($x0, $x0.transpose(-2, -1)) + M.diag($x1), upper=$upper)",
           sample=_chol_sample, reference=_chol_ref, domains=(VALS, DIAG), torch_equivalent="torch.cholesky",
           notes="input x0 x0^T + diag(x1), x1 in [0.5, 2]: symmetric positive definite by construction"),
]
