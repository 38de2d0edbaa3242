"""``refengine.linalg``: torch.linalg's names over the ops of ``refengine.ops``."""
from __future__ import annotations

from refengine.ops.norms import vector_norm


def matrix_norm(A, ord="fro", dim=(-2, -1), keepdim=False, *, dtype=None):
    """'fro' and the induced 1 / inf norms (max column / row abs sum, and their minima for -1 /
    -inf), composed as torch composes them (vector norms, then amax/amin)."""
    from refengine import ops
    if dtype is not None:
        A = A.to(dtype)
    if A.ndim < 2:
        raise RuntimeError(f"linalg.matrix_norm: The input tensor A must have at least 2 dimensions.")
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
    raise NotImplementedError(f"linalg.matrix_norm: ord={ord!r} is not implemented in refengine")


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


__all__ = ["vector_norm", "matrix_norm", "norm"]
