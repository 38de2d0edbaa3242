"""Spectral decompositions: eigh / eigvalsh and svd / svdvals.

Eigen- and singular vectors are defined only up to sign (and rotation within
repeated values), so only gauge-invariant functions of them are comparable across
engines; the backwards are torch's (linalg_eig_backward for the Hermitian case,
svd_backward), which assume distinct eigen/singular values.  Both are written with
refengine ops on the saved outputs, so they differentiate again.
"""
from __future__ import annotations

import numpy as np

from refengine.function import ArrayFunction
from refengine.ops.common import data_of, is_var, shape_of
from refengine.ops.decomp import EighResult, SVDResult, _square, _unsq, mm, mT


def _unused(g):
    """A materialised zero gradient of an output nothing used (torch leaves it undefined): all zeros
    and, under create_graph, not depending on anything."""
    return not np.any(data_of(g)) and not getattr(g, "requires_grad", False)


def _diag_embed(v):
    """(..., n) -> (..., n, n) with v on the diagonal (differentiable: v broadcast times eye)."""
    n = shape_of(v)[-1]
    return _unsq(v, -2) * np.eye(n, dtype=data_of(v).dtype)


class Eigh(ArrayFunction):
    node_name = "LinalgEighBackward0"

    @staticmethod
    def forward(ctx, a, UPLO="L"):
        w, v = np.linalg.eigh(a, UPLO=UPLO)
        ctx.save_for_backward(w, v)
        return w, v

    @staticmethod
    def backward(ctx, gl, gv):
        # gA = V (skew(V^T gV) / 2 / E + diag(gL)) V^T, E_ij = L_j - L_i (1 on the diagonal)
        w, v = ctx.saved_tensors
        if _unused(gv):  # eigenvalues only (torch's undefined gV): no 1 / (L_j - L_i) terms
            return mm(v * _unsq(gl, -2), mT(v))
        n = shape_of(w)[-1]
        eye = np.eye(n, dtype=data_of(w).dtype)
        vgv = mm(mT(v), gv)
        skew = 0.5 * (vgv - mT(vgv))
        e = _unsq(w, -2) - _unsq(w, -1) + eye
        inner = (skew / e) * (1 - eye) + _diag_embed(gl)
        return mm(v, mm(inner, mT(v)))


class Eigvalsh(ArrayFunction):
    """Eigenvalues only: gA = V diag(gL) V^T."""

    node_name = "LinalgEighBackward0"

    @staticmethod
    def forward(ctx, a, UPLO="L"):
        w, v = np.linalg.eigh(a, UPLO=UPLO)
        ctx.v, ctx.uplo = v, UPLO
        ctx.save_for_backward(a)
        return w

    @staticmethod
    def backward(ctx, gl):
        v = ctx.v
        if is_var(gl):  # create_graph: V must depend on A, so decompose again as a node
            (a,) = ctx.saved_tensors
            v = Eigh.apply(a, UPLO=ctx.uplo)[1]
        return mm(v * _unsq(gl, -2), mT(v))


def eigh(A, UPLO="L"):
    """(eigenvalues ascending, eigenvectors as columns) of symmetric A, reading its ``UPLO`` triangle."""
    _square(A, "linalg.eigh")
    if UPLO not in ("L", "U"):
        raise RuntimeError(f"Expected UPLO argument to be 'L' or 'U', but got {UPLO}")
    return EighResult(*Eigh.apply(A, UPLO=UPLO))


def eigvalsh(A, UPLO="L"):
    """The eigenvalues (ascending) of symmetric A."""
    _square(A, "linalg.eigvalsh")
    return Eigvalsh.apply(A, UPLO=UPLO)


def _svd_backward(gu, gs, gvh, u, s, vh):
    """torch's svd_backward for the reduced SVD A = U diag(S) Vh (U: m x k, Vh: k x n)."""
    m, n = shape_of(u)[-2], shape_of(vh)[-1]
    if _unused(gu) and _unused(gvh):  # torch's undefined gU, gVh: S only
        return mm(u * _unsq(gs, -2), vh)
    k = shape_of(s)[-1]
    eye = np.eye(k, dtype=data_of(s).dtype)
    s2 = s * s
    e = _unsq(s2, -2) - _unsq(s2, -1) + eye                     # E_jk = S_k^2 - S_j^2, 1 on the diagonal
    uhgu = mm(mT(u), gu)
    uhgu = uhgu - mT(uhgu)
    vhgv = mm(vh, mT(gvh))
    vhgv = vhgv - mT(vhgv)
    ga = (uhgu * _unsq(s, -2) + _unsq(s, -1) * vhgv) / e * (1 - eye) + _diag_embed(gs)
    if m > k:   # the part of gU outside U's column space: (I - U U^T) gU S^{-1}
        gus = gu / _unsq(s, -2)
        ga = mm(mm(u, ga) + gus - mm(u, mm(mT(u), gus)), vh)
    elif n > k:  # and of gVh outside Vh's row space: S^{-1} gVh (I - V Vh)
        sgv = gvh / _unsq(s, -1)
        ga = mm(u, mm(ga, vh) + sgv - mm(mm(sgv, mT(vh)), vh))
    else:
        ga = mm(u, mm(ga, vh))
    return ga


class SVD(ArrayFunction):
    node_name = "LinalgSvdBackward0"

    @staticmethod
    def forward(ctx, a, full_matrices=True):
        u, s, vh = np.linalg.svd(a, full_matrices=full_matrices)
        ctx.k = s.shape[-1]
        ctx.save_for_backward(u, s, vh)
        return u, s, vh

    @staticmethod
    def backward(ctx, gu, gs, gvh):
        u, s, vh = ctx.saved_tensors
        k = ctx.k
        # full_matrices: as torch, only the first k columns of U (rows of Vh) carry gradient
        return _svd_backward(gu[..., :, :k], gs, gvh[..., :k, :], u[..., :, :k], s, vh[..., :k, :])


class Svdvals(ArrayFunction):
    node_name = "LinalgSvdBackward0"

    @staticmethod
    def forward(ctx, a):
        u, s, vh = np.linalg.svd(a, full_matrices=False)
        ctx.u, ctx.vh = u, vh
        ctx.save_for_backward(a)
        return s

    @staticmethod
    def backward(ctx, gs):
        u, vh = ctx.u, ctx.vh
        if is_var(gs):  # create_graph: U and Vh must depend on A, so decompose again as a node
            (a,) = ctx.saved_tensors
            u, _, vh = SVD.apply(a, full_matrices=False)
        return mm(u * _unsq(gs, -2), vh)


def _matrix(A, name):
    if len(shape_of(A)) < 2:
        raise RuntimeError(f"{name}: The input tensor A must have at least 2 dimensions.")
    if A.dtype.kind != "f":
        raise RuntimeError(f"{name}: Expected a floating point or complex tensor as input. Got {A.dtype}")


def svd(A, full_matrices=True):
    """(U, S, Vh) with A = U diag(S) Vh, S descending."""
    _matrix(A, "linalg.svd")
    return SVDResult(*SVD.apply(A, full_matrices=full_matrices))


def svdvals(A):
    """The singular values, descending."""
    _matrix(A, "linalg.svdvals")
    return Svdvals.apply(A)
