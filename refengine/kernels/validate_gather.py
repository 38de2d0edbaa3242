"""Argument checks and views shared by the gather/scatter kernels (``_gather.pyx``) and their
numpy twin (``gather_numpy.py``), in ``validate.py``'s manner: everything the unchecked loops
index is checked here first, and both implementations raise the same error for the same call.

Index values out of range raise the RuntimeError the public ops raise (torch's wording):
``index 5 is out of bounds for dimension 1 with size 3`` for gather / scatter_add, and
``INDICES element is out of DATA bounds, id=5 axis_dim=3`` for index_select / index_add,
naming the first bad value in C order.  Shape and dtype mistakes, which the ops catch first
with torch's messages, are ValueError / TypeError here.

Every operand is returned as a C-contiguous 3-D view ``(A, N, B)``: ``A`` the product of the
dims before ``dim``, ``N`` the length along it, ``B`` the product of the dims after it (a 0-d
array is one element, shape ``(1,)``).  A gather / scatter_add index may be smaller than the
array outside ``dim`` (torch allows it): only that corner of the array takes part, so the
corner is what gets viewed (a copy when it is not the whole array).
"""
from __future__ import annotations

import operator

import numpy as np

from refengine.kernels import validate

_MESSAGES = {
    "gather": "index {v} is out of bounds for dimension {dim} with size {n}",
    "select": "INDICES element is out of DATA bounds, id={v} axis_dim={n}",
}


def index_array(idx, name: str = "index") -> np.ndarray:
    """``idx`` as an integer ndarray (any width, signedness, strides or byte order), or TypeError."""
    idx = np.asarray(idx)
    if idx.dtype.kind not in "iu":
        raise TypeError(f"{name} must be integers, got {idx.dtype}")
    if idx.ndim > validate.MAX_NDIM:
        raise ValueError(f"{name} has {idx.ndim} dims; kernels support at most {validate.MAX_NDIM}")
    return idx


def check_range(idx: np.ndarray, n: int, dim: int, kind: str) -> None:
    """Every value of ``idx`` in ``[0, n)``, else the op's RuntimeError naming the first bad one.

    Compared in idx's own dtype, before any cast (a uint64 above 2**63 must not wrap)."""
    if idx.size == 0:
        return
    if idx.min() >= 0 and idx.max() < n:
        return
    flat = idx.reshape(-1)
    bad = flat[(flat < 0) | (flat >= n)]
    raise RuntimeError(_MESSAGES[kind].format(v=int(bad[0]), dim=dim, n=n))


def as_int64(idx: np.ndarray) -> np.ndarray:
    """C-contiguous, native, aligned int64 (values already range-checked): the kernels' typed view."""
    out = np.ascontiguousarray(idx, dtype=np.int64)
    return out if out.flags.aligned else np.array(out, copy=True)


def target(shape, base, src: np.ndarray) -> tuple:
    """A scatter's result shape (ints, non-negative) and its optional base array (same shape and
    dtype as src's)."""
    try:
        shape = tuple(operator.index(s) for s in shape)
    except TypeError:
        raise TypeError(f"shape must be a sequence of ints, got {shape!r}") from None
    if len(shape) > validate.MAX_NDIM or any(s < 0 for s in shape):
        raise ValueError(f"shape {shape}: expected at most {validate.MAX_NDIM} non-negative sizes")
    if base is not None:
        base = validate.float_array(base, "base")
        if base.shape != shape:
            raise ValueError(f"base has shape {base.shape} but the result has shape {shape}; expected equal")
        if base.dtype != src.dtype:
            raise TypeError(f"base is {base.dtype} but src is {src.dtype}; expected one dtype")
    return shape, base


def split(shape, ax: int) -> tuple[int, int]:
    """``(A, B)``: the products of the dims before and after ``ax``."""
    return int(np.prod(shape[:ax], dtype=np.int64)), int(np.prod(shape[ax + 1:], dtype=np.int64))


def _corner(shape, ax: int, full_dim: bool = True) -> tuple:
    """Slices selecting the first ``shape[d]`` entries of every dim (all of ``ax`` if full_dim)."""
    return tuple(slice(None) if d == ax and full_dim else slice(0, s) for d, s in enumerate(shape))


def _index_shape(idx_shape, shape, ax: int, src_shape=None) -> None:
    if len(idx_shape) != len(shape) or src_shape is not None and len(src_shape) != len(idx_shape):
        raise ValueError(f"index has shape {idx_shape}, input {shape}" + (f", src {src_shape}" if src_shape else "")
                         + "; expected the same number of dims")
    for d, k in enumerate(idx_shape):
        if d != ax and k > shape[d] or src_shape is not None and k > src_shape[d]:
            raise ValueError(f"index has shape {idx_shape}: expected it no larger than input {shape} outside "
                             f"dim {ax}" + (f" and no larger than src {src_shape}" if src_shape else ""))


def gather_operands(x, dim, idx) -> tuple:
    """``(x3, i3, out_shape)`` for ``out[a, k, b] = x3[a, i3[a, k, b], b]`` (torch.gather)."""
    x = validate.float_array(x, "input")
    ax = validate.axis(dim, x.ndim)
    idx = index_array(idx)
    xs, i1 = x.shape or (1,), idx.shape or (1,)
    _index_shape(i1, xs, ax)
    check_range(idx, xs[ax], ax, "gather")
    A, B = split(i1, ax)
    corner = x.reshape(xs)[_corner(i1, ax)]
    return np.ascontiguousarray(corner).reshape(A, xs[ax], B), as_int64(idx).reshape(A, i1[ax], B), idx.shape


def scatter_operands(shape, dim, idx, src, base) -> tuple:
    """``(out, o3, corner, i3, s3)`` for ``o3[a, i3[a, k, b], b] += s3[a, k, b]`` (torch.scatter_add):
    ``out`` the new result (zeros, or a copy of ``base``), ``o3`` the (A, N, B) view the loop adds
    into -- a copy of ``out[corner]`` to be written back when ``corner`` is not None."""
    src = validate.float_array(src, "src")
    shape, base = target(shape, base, src)
    ax = validate.axis(dim, len(shape))
    idx = index_array(idx)
    s1, i1, r1 = shape or (1,), idx.shape or (1,), src.shape or (1,)
    _index_shape(i1, s1, ax, r1)
    check_range(idx, s1[ax], ax, "gather")
    out = _result(shape, src.dtype, base, "scatter_add")
    A, B = split(i1, ax)
    o1 = out.reshape(s1)
    corner = None if all(k == s for d, (k, s) in enumerate(zip(i1, s1)) if d != ax) else _corner(i1, ax)
    o3 = (o1 if corner is None else np.ascontiguousarray(o1[corner])).reshape(A, s1[ax], B)
    s3 = np.ascontiguousarray(src.reshape(r1)[_corner(i1, ax, False)]).reshape(A, i1[ax], B)
    return out, o3, corner, as_int64(idx).reshape(A, i1[ax], B), s3


def write_back(out: np.ndarray, o3: np.ndarray, corner) -> np.ndarray:
    """``out`` with the corner the loop added into (a copy, when ``corner`` is not None) written back."""
    if corner is not None:
        view = out.reshape(out.shape or (1,))[corner]
        view[...] = o3.reshape(view.shape)
    return out


def _result(shape, dtype, base, what):
    if base is None:
        return validate.alloc(shape, dtype, what, zero=True)
    out = validate.alloc(shape, dtype, what)
    np.copyto(out, base)
    return out


def _vector(idx, n: int, ax: int) -> np.ndarray:
    idx = index_array(idx)
    if idx.ndim > 1:
        raise ValueError(f"index must be 0-d or 1-D, got shape {idx.shape}")
    check_range(idx, n, ax, "select")
    return as_int64(idx).reshape(-1)


def select_operands(x, dim, idx) -> tuple:
    """``(x3, i1, out_shape)`` for ``out[a, k, b] = x3[a, i1[k], b]`` (torch.index_select); a 0-d
    ``x`` gives idx's shape."""
    x = validate.float_array(x, "input")
    ax = validate.axis(dim, x.ndim)
    xs = x.shape or (1,)
    i1 = _vector(idx, xs[ax], ax)
    A, B = split(xs, ax)
    out_shape = np.shape(idx) if x.ndim == 0 else xs[:ax] + (len(i1),) + xs[ax + 1:]
    return np.ascontiguousarray(x).reshape(A, xs[ax], B), i1, out_shape


def index_add_operands(shape, dim, idx, src, base) -> tuple:
    """``(out, o3, i1, s3)`` for ``o3[a, i1[k], b] += s3[a, k, b]`` (torch.index_add): ``src`` has
    the result's shape with ``dim`` of length len(idx) (a 0-d result: shape (len(idx),))."""
    src = validate.float_array(src, "src")
    shape, base = target(shape, base, src)
    ax = validate.axis(dim, len(shape))
    s1 = shape or (1,)
    i1 = _vector(idx, s1[ax], ax)
    want = s1[:ax] + (len(i1),) + s1[ax + 1:]
    if (src.shape or (1,)) != want:
        raise ValueError(f"src has shape {src.shape}; expected {want} (the result's shape {shape} with dim {ax} "
                         f"of length len(index) = {len(i1)})")
    out = _result(shape, src.dtype, base, "index_add")
    A, B = split(s1, ax)
    return out, out.reshape(A, s1[ax], B), i1, np.ascontiguousarray(src).reshape(A, len(i1), B)
