"""More shape and indexing ops (issue 16): flip, roll, repeat, tile, narrow, chunk, unbind, movedim,
moveaxis, broadcast_to; gather, take_along_dim, scatter_add, index_select, index_add, masked_fill.

Their gradients are data movement: a wrong one is a permutation, a missed reduction (repeat, tile,
broadcast_to must sum back) or an overwrite where contributions must accumulate -- index arrays are
drawn with REPEATED entries often (gather, take_along_dim, index_select; scatter_add and index_add
add several sources into one place) and dims negative half the time.  Index params are int64 numpy
arrays (they become engine tensors), masks bool arrays.
"""
from __future__ import annotations

from typing import Any

import numpy as np
from hypothesis import strategies as st

from conformance.spec import shapes as S
from conformance.spec.opspec import OpSpec, Sample

FAMILY = "shape_more"


def _neg(draw: Any, d: int, ndim: int) -> int:
    """``d`` or its negative form, by a coin flip."""
    return d - ndim if draw(st.booleans()) else d


def _dims(draw: Any, ndim: int, min_size: int = 1) -> tuple[int, ...]:
    ds = draw(st.lists(st.integers(0, ndim - 1), min_size=min_size, max_size=ndim, unique=True))
    return tuple(_neg(draw, d, ndim) for d in ds)


def _indices(draw: Any, n: int, shape: tuple[int, ...]) -> np.ndarray:
    """Indices in [0, n) of ``shape``, repeated values made common."""
    size = int(np.prod(shape, dtype=int))
    vals = draw(st.lists(st.integers(0, n - 1), min_size=size, max_size=size))
    if size >= 2 and draw(st.booleans()):
        vals[1] = vals[0]
    return np.array(vals, dtype=np.int64).reshape(shape)


# -- layout ---------------------------------------------------------------------------------
def _flip(draw: Any) -> Sample:
    shp = S.shape(draw, min_dims=1)
    return Sample((shp,), {"dims": _dims(draw, len(shp))})


def _roll(draw: Any) -> Sample:
    shp = S.shape(draw, min_dims=1)
    if draw(st.booleans()) and draw(st.booleans()):  # no dims: roll the flattened tensor
        return Sample((shp,), {"shifts": draw(st.integers(-5, 5)), "dims": None})
    dims = _dims(draw, len(shp))
    shifts = tuple(draw(st.integers(-5, 5)) for _ in dims)
    if len(dims) == 1 and draw(st.booleans()):
        return Sample((shp,), {"shifts": shifts[0], "dims": dims[0]})
    return Sample((shp,), {"shifts": shifts, "dims": dims})


def _roll_ref(x: np.ndarray, shifts: Any, dims: Any) -> np.ndarray:
    return np.roll(x, shifts, axis=dims)


def _repeat(draw: Any) -> Sample:
    shp = S.shape(draw, max_dims=3, max_side=3)
    extra = draw(st.integers(0 if shp else 1, 1))
    return Sample((shp,), {"sizes": tuple(draw(st.integers(1, 3)) for _ in range(len(shp) + extra))})


def _tile(draw: Any) -> Sample:
    shp = S.shape(draw, max_dims=3, max_side=3)
    return Sample((shp,), {"dims": tuple(draw(st.lists(st.integers(1, 3), min_size=1, max_size=4)))})


def _narrow(draw: Any) -> Sample:
    shp = S.shape(draw, min_dims=1)
    dim = S.dim_of(draw, len(shp))
    n = shp[dim]
    start = draw(st.integers(0, n - 1))
    length = draw(st.integers(1, n - start))
    return Sample((shp,), {"dim": dim, "start": start - n if draw(st.booleans()) else start, "length": length})


def _narrow_ref(x: np.ndarray, dim: int, start: int, length: int) -> np.ndarray:
    s = start % x.shape[dim]
    return np.take(x, np.arange(s, s + length), axis=dim)


def _chunk(draw: Any) -> Sample:
    shp = S.shape(draw, min_dims=1)
    dim = S.dim_of(draw, len(shp))
    n = shp[dim]
    chunks = draw(st.integers(1, n + 1))
    size = -(-n // chunks)
    count = -(-n // size)
    return Sample((shp,), {"chunks": chunks, "dim": dim, "k": draw(st.integers(0, count - 1))})


def _chunk_ref(x: np.ndarray, chunks: int, dim: int, k: int) -> np.ndarray:
    n = x.shape[dim]
    size = -(-n // chunks)
    return np.take(x, np.arange(k * size, min((k + 1) * size, n)), axis=dim)


def _unbind(draw: Any) -> Sample:
    shp = S.shape(draw, min_dims=1)
    dim = S.dim_of(draw, len(shp))
    return Sample((shp,), {"dim": dim, "k": draw(st.integers(0, shp[dim] - 1))})


def _movedim(draw: Any) -> Sample:
    shp = S.shape(draw, min_dims=1, max_dims=4, max_side=3)
    nd = len(shp)
    src = _dims(draw, nd)
    dst = tuple(_neg(draw, d, nd) for d in draw(st.lists(st.integers(0, nd - 1), min_size=len(src),
                                                               max_size=len(src), unique=True)))
    if len(src) == 1 and draw(st.booleans()):
        return Sample((shp,), {"source": src[0], "destination": dst[0]})
    return Sample((shp,), {"source": src, "destination": dst})


def _broadcast_to(draw: Any) -> Sample:
    shp = S.shape(draw, max_dims=3)
    ones = tuple(1 if draw(st.booleans()) else s for s in shp)
    lead = tuple(draw(st.lists(st.integers(1, 3), max_size=1)))
    return Sample((ones,), {"size": lead + tuple(draw(st.integers(2, 3)) if s == 1 else s for s in ones)})


# -- selection ------------------------------------------------------------------------------
def _gather(draw: Any) -> Sample:
    shp = S.shape(draw, min_dims=1)
    dim = S.dim_of(draw, len(shp))
    ishp = tuple(draw(st.integers(1, 4)) if d == dim % len(shp) else draw(st.integers(1, s))
                 for d, s in enumerate(shp))
    return Sample((shp,), {"dim": dim, "index": _indices(draw, shp[dim], ishp)})


def _gather_ref(x: np.ndarray, dim: int, index: np.ndarray) -> np.ndarray:
    d = dim % x.ndim
    sub = x[tuple(slice(None) if k == d else slice(0, s) for k, s in enumerate(index.shape))]
    return np.take_along_axis(sub, index, axis=d)


def _take_along(draw: Any) -> Sample:
    # no dim=None form: torch 2.13 raises on it for a non-contiguous input (it views the input as 1-D;
    # torch.take_along_dim(torch.ones(2, 3).t(), torch.tensor([0]), None) raises), and programs transpose inputs
    shp = S.shape(draw, min_dims=1)
    dim = S.dim_of(draw, len(shp))
    ishp = tuple(draw(st.integers(1, 4)) if d == dim % len(shp) else s for d, s in enumerate(shp))
    return Sample((shp,), {"indices": _indices(draw, shp[dim], ishp), "dim": dim})


def _take_along_ref(x: np.ndarray, indices: np.ndarray, dim: Any) -> np.ndarray:
    if dim is None:
        return x.reshape(-1)[indices]
    return np.take_along_axis(x, indices, axis=dim)


def _scatter_add(draw: Any) -> Sample:
    shp = S.shape(draw, min_dims=1)
    dim = S.dim_of(draw, len(shp))
    ishp = tuple(draw(st.integers(1, 4)) if d == dim % len(shp) else draw(st.integers(1, s))
                 for d, s in enumerate(shp))
    return Sample((shp, ishp), {"dim": dim, "index": _indices(draw, shp[dim], ishp)})


def _scatter_add_ref(x: np.ndarray, src: np.ndarray, dim: int, index: np.ndarray) -> np.ndarray:
    d = dim % x.ndim
    out = x.copy()
    pos = list(np.indices(index.shape))
    pos[d] = index
    np.add.at(out, tuple(pos), src)
    return out


def _index_select(draw: Any) -> Sample:
    shp = S.shape(draw, min_dims=1)
    dim = S.dim_of(draw, len(shp))
    return Sample((shp,), {"dim": dim, "index": _indices(draw, shp[dim], (draw(st.integers(1, 5)),))})


def _index_add(draw: Any) -> Sample:
    shp = S.shape(draw, min_dims=1)
    dim = S.dim_of(draw, len(shp))
    k = draw(st.integers(1, 5))
    src = tuple(k if d == dim % len(shp) else s for d, s in enumerate(shp))
    return Sample((shp, src), {"dim": dim, "index": _indices(draw, shp[dim], (k,)),
                               "alpha": draw(st.sampled_from([1, 2.0, -0.5]))})


def _index_add_ref(x: np.ndarray, src: np.ndarray, dim: int, index: np.ndarray, alpha: float) -> np.ndarray:
    d = dim % x.ndim
    out = np.moveaxis(x.copy(), d, 0)
    np.add.at(out, index, alpha * np.moveaxis(src, d, 0))
    return np.moveaxis(out, 0, d)


def _masked_fill(draw: Any) -> Sample:
    shp = S.shape(draw)
    mshp = shp[draw(st.integers(0, len(shp))):]  # a trailing part of the shape: the mask broadcasts
    seed = draw(st.integers(0, 2**16))
    mask = np.random.default_rng(seed).random(mshp) < 0.5
    return Sample((shp,), {"mask": np.asarray(mask), "value": draw(st.sampled_from([0.0, -1.5, 2.0]))})


SPECS = [
    OpSpec(name="flip", family=FAMILY, arity=1, template="M.flip($x0, $dims)", sample=_flip,
           reference=lambda x, dims: np.flip(x, dims).copy(), torch_equivalent="torch.flip"),
    OpSpec(name="roll", family=FAMILY, arity=1, template="M.roll($x0, $shifts, $dims)", sample=_roll,
           reference=_roll_ref, torch_equivalent="torch.roll", notes="dims=None rolls the flattened tensor"),
    OpSpec(name="repeat", family=FAMILY, arity=1, template="$x0.repeat($sizes)", sample=_repeat,
           reference=lambda x, sizes: np.tile(x, sizes), requires=("Tensor.repeat",),
           torch_equivalent="torch.Tensor.repeat", notes="sizes may add leading dims"),
    OpSpec(name="tile", family=FAMILY, arity=1, template="M.tile($x0, $dims)", sample=_tile,
           reference=lambda x, dims: np.tile(x, dims), torch_equivalent="torch.tile",
           notes="fewer dims than x's: ones are prepended"),
    OpSpec(name="narrow", family=FAMILY, arity=1, template="M.narrow($x0, $dim, $start, $length)", sample=_narrow,
           reference=_narrow_ref, torch_equivalent="torch.narrow", notes="negative start included"),
    OpSpec(name="chunk", family=FAMILY, arity=1, template="M.chunk($x0, $chunks, $dim)[$k]", sample=_chunk,
           reference=_chunk_ref, torch_equivalent="torch.chunk",
           notes="one chunk is used; the others must receive zero gradient"),
    OpSpec(name="unbind", family=FAMILY, arity=1, template="M.unbind($x0, $dim)[$k]", sample=_unbind,
           reference=lambda x, dim, k: np.take(x, k, axis=dim), torch_equivalent="torch.unbind"),
    OpSpec(name="movedim", family=FAMILY, arity=1, template="M.movedim($x0, $source, $destination)",
           sample=_movedim, reference=lambda x, source, destination: np.moveaxis(x, source, destination),
           torch_equivalent="torch.movedim"),
    OpSpec(name="moveaxis", family=FAMILY, arity=1, template="M.moveaxis($x0, $source, $destination)",
           sample=_movedim, reference=lambda x, source, destination: np.moveaxis(x, source, destination),
           torch_equivalent="torch.moveaxis", notes="alias of movedim"),
    OpSpec(name="broadcast_to", family=FAMILY, arity=1, template="M.broadcast_to($x0, $size)", sample=_broadcast_to,
           reference=lambda x, size: np.broadcast_to(x, size).copy(), torch_equivalent="torch.broadcast_to"),
    OpSpec(name="gather", family=FAMILY, arity=1, template="M.gather($x0, $dim, $index)", sample=_gather,
           reference=_gather_ref, torch_equivalent="torch.gather",
           notes="index smaller than x in the other dims; repeated indices"),
    OpSpec(name="take_along_dim", family=FAMILY, arity=1, template="M.take_along_dim($x0, $indices, $dim)",
           sample=_take_along, reference=_take_along_ref, torch_equivalent="torch.take_along_dim",
           notes="dim given (the dim=None form raises in torch for non-contiguous inputs)"),
    OpSpec(name="scatter_add", family=FAMILY, arity=2, template="M.scatter_add($x0, $dim, $index, $x1)",
           sample=_scatter_add, reference=_scatter_add_ref, torch_equivalent="torch.scatter_add",
           notes="src = $x1, the index's shape; repeated indices add into one place"),
    OpSpec(name="index_select", family=FAMILY, arity=1, template="M.index_select($x0, $dim, $index)",
           sample=_index_select, reference=lambda x, dim, index: np.take(x, index, axis=dim),
           torch_equivalent="torch.index_select"),
    OpSpec(name="index_add", family=FAMILY, arity=2, template="M.index_add($x0, $dim, $index, $x1, alpha=$alpha)",
           sample=_index_add, reference=_index_add_ref, torch_equivalent="torch.index_add"),
    OpSpec(name="masked_fill", family=FAMILY, arity=1, template="M.masked_fill($x0, $mask, $value)",
           sample=_masked_fill, reference=lambda x, mask, value: np.where(mask, value, x),
           torch_equivalent="torch.masked_fill", notes="the mask broadcasts (a trailing part of x's shape)"),
]
