"""``refengine.linalg``: torch.linalg's names over the ops of ``refengine.ops`` (decompositions in
``ops.decomp`` and ``ops.spectral``, norms in ``ops.norms``)."""
from __future__ import annotations

from refengine.ops.decomp import LinAlgError, cholesky, det, inv, qr, slogdet, solve
from refengine.ops.norms import vector_norm
from refengine.ops.products import linalg_cross as cross
from refengine.ops.spectral import eigh, eigvalsh, svd, svdvals


def matrix_norm(A, ord="fro", dim=(-2, -1), keepdim=False, *, dtype=None):
    """'fro' and the induced 1 / inf norms (max column / row abs sum, and their minima for -1 /
    -inf), composed as torch composes them (vector norms, then amax/amin)."""
    from refengine import ops
    if dtype is not None:
        A = A.to(dtype)
    if A.ndim < 2:
        raise RuntimeError("linalg.matrix_norm: The input tensor A must have at least 2 dimensions.")
    d0, d1 = (d % A.ndim for d in dim)
    if ord == "fro":
        return vector_norm(A, 2, (d0, d1), keepdim)
    if ord in (1, -1, float("inf"), float("-inf")):
        col = ord in (1, -1)
        inner, outer = (d0, d1) if col else (d1, d0)
        sums = vector_norm(A, 1, inner, keepdim)
        if not keepdim and outer > inner:
            outer -= 1
        return (ops.amax if ord > 0 else ops.amin)(sums, outer, keepdim)
    if ord in (2, -2, "nuc"):  # from the singular values, composed as torch (amax / amin / sum)
        from refengine.ops import movedim
        s = svdvals(movedim(A, (d0, d1), (-2, -1)))
        red = ops.sum if ord == "nuc" else ops.amax if ord == 2 else ops.amin
        if not keepdim:
            return red(s, -1)
        # as torch: reduce keeping the dim, add the other back and move both to (d0, d1)
        return movedim(ops.unsqueeze(red(s, -1, keepdim=True), -1), (-2, -1), (d0, d1))
    raise RuntimeError(f"linalg.matrix_norm: Order {ord} not supported.")


def norm(A, ord=None, dim=None, keepdim=False, *, dtype=None):
    """torch.linalg.norm: the 2-norm of all elements when ``ord`` and ``dim`` are None, a vector
    norm for a 1-D input or an int ``dim``, else a matrix norm over two dims."""
    if ord is None:
        return vector_norm(A, 2, dim, keepdim, dtype=dtype)
    if isinstance(dim, int) or (dim is None and A.ndim == 1) or (isinstance(dim, (tuple, list)) and len(dim) == 1):
        if isinstance(ord, str):
            raise RuntimeError(f"linalg.norm: If dim is specified, it mut be of length 2. Got {dim}")
        return vector_norm(A, ord, dim, keepdim, dtype=dtype)
    return matrix_norm(A, ord, (-2, -1) if dim is None else tuple(dim), keepdim, dtype=dtype)


__all__ = ["vector_norm", "matrix_norm", "norm", "det", "slogdet", "inv", "solve", "cholesky", "qr", "eigh",
           "eigvalsh", "svd", "svdvals", "cross", "LinAlgError"]
