"""Matrix functions and decompositions: det, slogdet, inv, solve, cholesky, qr (eigh and svd: spectral.py).

numpy's LAPACK calls do the forward (the same routines as torch's CPU backend, so
signs of Q, R and singular/eigen vectors agree in practice, though only
gauge-invariant functions of them are defined).  Each backward is torch's formula
(tools/autograd/FunctionsManual.cpp) written with refengine ops — matmul,
transpose, solve, tril, ... — so under create_graph it is differentiated again.
Batches of matrices (leading dims) are supported throughout.
"""
from __future__ import annotations

from collections import namedtuple

import numpy as np

from refengine.function import ArrayFunction
from refengine.ops.common import data_of, is_var, method, shape_of, sum_to_shape


class LinAlgError(RuntimeError):
    """torch.linalg.LinAlgError (a RuntimeError): singular or not positive-definite input."""


SlogdetResult = namedtuple("return_types", ["sign", "logabsdet"])
QRResult = namedtuple("return_types", ["Q", "R"])
EighResult = namedtuple("return_types", ["eigenvalues", "eigenvectors"])
SVDResult = namedtuple("return_types", ["U", "S", "Vh"])


# ----- helpers that take arrays or Variables --------------------------------------------------
def mT(x):
    if is_var(x):
        from refengine.ops import transpose
        return transpose(x, -1, -2)
    return np.swapaxes(x, -1, -2)


def mm(a, b):
    if is_var(a) or is_var(b):
        from refengine.ops import matmul
        return matmul(a, b)
    return np.matmul(a, b)


def _inv(x):
    return Inv.apply(x) if is_var(x) else np.linalg.inv(x)


def _solve(a, b):
    """``a^{-1} b`` for matrix ``b`` (batched)."""
    return Solve.apply(a, b) if is_var(a) or is_var(b) else np.linalg.solve(a, b)


def _tril(x, k=0):
    if is_var(x):
        from refengine.ops.products import tril
        return tril(x, k)
    return np.tril(x, k)


def _triu(x, k=0):
    if is_var(x):
        from refengine.ops.products import triu
        return triu(x, k)
    return np.triu(x, k)


def _unsq(x, axis):
    if is_var(x):
        from refengine.ops import unsqueeze
        return unsqueeze(x, axis)
    return np.expand_dims(x, axis)


def _square(A, name):
    s = shape_of(A)
    if len(s) < 2:
        raise RuntimeError(f"{name}: The input tensor A must have at least 2 dimensions.")
    if s[-1] != s[-2]:
        raise RuntimeError(f"{name}: A must be batches of square matrices, but they are {s[-2]} by {s[-1]} matrices")
    if A.dtype.kind != "f":
        raise RuntimeError(f"{name}: Expected a floating point or complex tensor as input. Got {A.dtype}")


# ----- det, slogdet, inv, solve -----------------------------------------------------------------
class Det(ArrayFunction):
    node_name = "LinalgDetBackward0"

    @staticmethod
    def forward(ctx, a):
        r = np.asarray(np.linalg.det(a), a.dtype)
        ctx.save_for_backward(a, r)
        return r

    @staticmethod
    def backward(ctx, g):
        a, r = ctx.saved_tensors
        ad = data_of(a)
        if ad.shape[-1] == 0:
            return _unsq(_unsq(g, -1), -1) * np.zeros(ad.shape, ad.dtype)
        singular = data_of(r) == 0
        if not np.any(singular):  # d det / dA = det A^{-T}
            return _unsq(_unsq(g * r, -1), -1) * mT(_inv(a))
        # the cofactor matrix through the SVD, defined for singular A: det(U) det(V) U diag(prod_{j!=i} s_j) V^T
        # (torch 2.13 answers zeros here).  It is a constant: under create_graph the second derivative
        # at an exactly singular matrix is taken as zero, as torch's
        u, s, vh = np.linalg.svd(ad)
        n = s.shape[-1]
        others = np.stack([np.prod(np.delete(s, i, axis=-1), axis=-1) for i in range(n)], -1)
        sign = np.linalg.det(u) * np.linalg.det(vh)
        cof = (u * others[..., None, :]) @ vh * sign[..., None, None]
        return _unsq(_unsq(g, -1), -1) * cof


class Slogdet(ArrayFunction):
    node_name = "LinalgSlogdetBackward0"

    @staticmethod
    def forward(ctx, a):
        sign, logabs = np.linalg.slogdet(a)
        sign, logabs = np.asarray(sign, a.dtype), np.asarray(logabs, a.dtype)
        ctx.mark_non_differentiable(sign)
        ctx.save_for_backward(a)
        return sign, logabs

    @staticmethod
    def backward(ctx, _gsign, g):
        (a,) = ctx.saved_tensors
        return _unsq(_unsq(g, -1), -1) * mT(_inv(a))


class Inv(ArrayFunction):
    node_name = "LinalgInvExBackward0"

    @staticmethod
    def forward(ctx, a):
        try:
            r = np.linalg.inv(a)
        except np.linalg.LinAlgError:
            raise LinAlgError("linalg.inv: The diagonal element is zero, the inversion could not be completed "
                              "because the input matrix is singular.") from None
        ctx.save_for_backward(r)
        return r

    @staticmethod
    def backward(ctx, g):
        (r,) = ctx.saved_tensors
        rt = mT(r)
        return -mm(rt, mm(g, rt))


class Solve(ArrayFunction):
    """X = A^{-1} B; with ``vector`` B (and X) are (batches of) vectors."""

    node_name = "LinalgSolveExBackward0"

    @staticmethod
    def forward(ctx, a, b, vector=False):
        ctx.vector = vector
        try:
            x = np.linalg.solve(a, b[..., None])[..., 0] if vector else np.linalg.solve(a, b)
        except np.linalg.LinAlgError:
            raise LinAlgError("torch.linalg.solve: The solver failed because the input matrix is singular.") from None
        ctx.save_for_backward(a, b, x)
        return x

    @staticmethod
    def backward(ctx, g):
        a, b, x = ctx.saved_tensors
        if ctx.vector:  # as one-column matrices
            g, x = _unsq(g, -1), _unsq(x, -1)
        gb = _solve(mT(a), g)                                  # A^{-T} G
        ga = -mm(gb, mT(x)) if ctx.needs_input_grad[0] else None
        if ctx.vector:
            gb = gb[..., 0]
        return (sum_to_shape(ga, shape_of(a)) if ga is not None else None,
                sum_to_shape(gb, shape_of(b)) if ctx.needs_input_grad[1] else None)


def det(A):
    """Determinant of (batches of) square matrices."""
    _square(A, "linalg.det")
    return Det.apply(A)


def slogdet(A):
    """(sign, log|det|) of square matrices; sign carries no gradient."""
    _square(A, "linalg.slogdet")
    return SlogdetResult(*Slogdet.apply(A))


def inv(A):
    """The inverse of square matrices; torch.linalg.LinAlgError (a RuntimeError) if singular."""
    _square(A, "linalg.inv")
    return Inv.apply(A)


def solve(A, B, *, left=True):
    """X with A X = B (``left=False``: X A = B); B may be a vector or batch of vectors."""
    _square(A, "linalg.solve")
    if not left:
        return mT(solve(mT(A), mT(B)))
    sa, sb = shape_of(A), shape_of(B)
    vector = len(sb) == 1 or (len(sb) == len(sa) - 1 and sb == sa[:-1])
    if vector:
        if sb[-1] != sa[-1]:
            raise RuntimeError(f"linalg.solve: Incompatible shapes of A and B for the equation AX = B "
                               f"({sa[-2]}x{sa[-1]} and {sb[-1]}x1)")
        return Solve.apply(A, B, vector=True)
    if sb[-2] != sa[-1]:
        raise RuntimeError(f"linalg.solve: Incompatible shapes of A and B for the equation AX = B "
                           f"({sa[-2]}x{sa[-1]} and {sb[-2]}x{sb[-1]})")
    if A.dtype != getattr(B, "dtype", A.dtype):
        raise RuntimeError(f"linalg.solve: Expected A and B to have the same dtype, but found A of type "
                           f"{A.dtype} and B of type {B.dtype} instead")
    return Solve.apply(A, B)


# ----- cholesky, qr ---------------------------------------------------------------------------
class Cholesky(ArrayFunction):
    """A = L L^T; torch's cholesky_backward (Murray 2016): gA = L^{-T} Phi(L^T gL) L^{-1} with
    Phi(X) = (tril(X) + tril(X, -1)^T) / 2, symmetric."""

    node_name = "LinalgCholeskyExBackward0"

    @staticmethod
    def forward(ctx, a, upper=False):
        try:
            low = np.linalg.cholesky(a)
        except np.linalg.LinAlgError:
            raise LinAlgError("linalg.cholesky: The factorization could not be completed because the input is not "
                              "positive-definite.") from None
        ctx.upper = upper
        r = np.swapaxes(low, -1, -2).copy() if upper else low
        ctx.save_for_backward(r)
        return r

    @staticmethod
    def backward(ctx, g):
        (r,) = ctx.saved_tensors
        low, gl = (mT(r), mT(g)) if ctx.upper else (r, g)
        x = _tril(mm(mT(low), gl))
        phi = 0.5 * (x + mT(_tril(x, -1)))
        linv = _inv(low)
        return mm(mT(linv), mm(phi, linv))


class CholeskyLegacy(Cholesky):
    node_name = "CholeskyBackward0"


def cholesky(A, *, upper=False):
    """The Cholesky factor (lower, or upper with ``upper=True``) of symmetric positive-definite A
    (only its lower triangle is read, as torch and LAPACK)."""
    _square(A, "linalg.cholesky")
    return Cholesky.apply(A, upper=upper)


def _qr_square_backward(gq, gr, q, r):
    """m >= n: gA = (gQ + Q copyltu(M)) R^{-T}, M = R gR^T - gQ^T Q, copyltu(M) = tril(M, -1) +
    tril(M, -1)^T + diag(M) (symmetric from M's lower triangle)."""
    m = mm(r, mT(gr)) - mm(mT(gq), q)
    low = _tril(m, -1)
    copyltu = low + mT(low) + (m - _tril(m, -1) - _triu(m, 1))
    b = gq + mm(q, copyltu)
    return mT(_solve(r, mT(b)))  # b R^{-T}


class QR(ArrayFunction):
    node_name = "LinalgQrBackward0"

    @staticmethod
    def forward(ctx, a, mode="reduced"):
        q, r = np.linalg.qr(a, mode="complete" if mode == "complete" else "reduced")
        ctx.mode = mode
        if mode == "r":
            q = np.zeros((0,), a.dtype)
        ctx.save_for_backward(a, q, r)
        return q, r

    @staticmethod
    def backward(ctx, gq, gr):
        a, q, r = ctx.saved_tensors
        m, n = shape_of(a)[-2:]
        if ctx.mode == "r":
            raise RuntimeError("The derivative of linalg.qr depends on Q, which is not computed when mode='r'. "
                               "Please use linalg.qr(A, mode='reduced') if you are going to differentiate through "
                               "linalg.qr.")
        if ctx.mode == "complete" and m > n:
            raise RuntimeError("The QR decomposition is not differentiable when mode='complete' and nrows > ncols.")
        if m >= n:
            return _qr_square_backward(gq, gr, q, r)
        # m < n: A = [X | Y], R = [U | V] with X = QU square; gY = Q gV, and X's gradient is the square
        # case with gQ + Y gV^T
        from refengine.ops import cat
        y = a[..., :, m:]  # X = a[..., :, :m] enters only through Q and U
        u, gu, gv = r[..., :, :m], gr[..., :, :m], gr[..., :, m:]
        gy = mm(q, gv)
        gx = _qr_square_backward(gq + mm(y, mT(gv)), gu, q, u)
        return cat([gx, gy], -1) if is_var(gx) else np.concatenate([gx, gy], -1)


def qr(A, mode="reduced"):
    """(Q, R) with A = QR; ``mode`` 'reduced', 'complete' or 'r' (Q empty, not differentiable)."""
    if mode not in ("reduced", "complete", "r"):
        raise RuntimeError(f"qr received unrecognized mode '{mode}' but expected one of 'reduced' (default), 'r', "
                           "or 'complete'")
    if len(shape_of(A)) < 2:
        raise RuntimeError("linalg.qr: The input tensor A must have at least 2 dimensions.")
    return QRResult(*QR.apply(A, mode=mode))


def _legacy_cholesky(input, upper=False):
    """torch.cholesky (deprecated in torch): node CholeskyBackward0."""
    _square(input, "cholesky")
    return CholeskyLegacy.apply(input, upper=upper)


# torch's Tensor methods of the same names
method("det")(det)
method("slogdet")(slogdet)
method("inverse")(inv)
method("cholesky")(_legacy_cholesky)
