"""Shape ops: transpose, permute, reshape, view, expand, squeeze, unsqueeze, flatten, cat, stack, split.

Their gradients are pure data movement, so any error is a permutation/reduction
bug: expand must sum back, split must scatter into the right slice, cat must cut.
"""
from __future__ import annotations

from typing import Any

import numpy as np
from hypothesis import strategies as st

from conformance.spec import shapes as S
from conformance.spec.opspec import OpSpec, Sample


def _transpose(draw: Any) -> Sample:
    shp = S.shape(draw, min_dims=1)
    return Sample((shp,), {"dim0": S.dim_of(draw, len(shp)), "dim1": S.dim_of(draw, len(shp))})


def _permute(draw: Any) -> Sample:
    shp = S.shape(draw, min_dims=1, max_dims=4, max_side=3)
    perm = tuple(draw(st.permutations(range(len(shp)))))
    return Sample((shp,), {"dims": perm})


def _new_shape(draw: Any) -> Sample:
    shp = S.shape(draw, max_dims=4, max_side=3)
    factors: list[int] = []
    for side in shp:
        factors += [p for p in (2, 3) for _ in range(_mult(side, p))]
    order = draw(st.permutations(factors)) if factors else []
    cuts = sorted(draw(st.sets(st.integers(1, max(len(order) - 1, 1)), max_size=3))) if len(order) > 1 else []
    groups, last = [], 0
    for c in cuts + [len(order)]:
        groups.append(int(np.prod(order[last:c], dtype=int)) if c > last else 1)
        last = c
    new = tuple(groups) if shp else ()
    if new and draw(st.booleans()):
        new = tuple(-1 if i == 0 else g for i, g in enumerate(new))
    if draw(st.booleans()) and len(new) < 4:
        new = new + (1,)
    return Sample((shp,), {"shape": new})


def _mult(n: int, p: int) -> int:
    k = 0
    while n % p == 0 and n > 1:
        n //= p
        k += 1
    return k


def _expand(draw: Any) -> Sample:
    shp = S.shape(draw, max_dims=3)
    ones = tuple(1 if draw(st.booleans()) else s for s in shp)
    lead = tuple(draw(st.lists(st.integers(1, 3), max_size=1)))
    target = lead + tuple(draw(st.integers(2, 3)) if s == 1 else s for s in ones)
    if draw(st.booleans()) and len(target) > len(lead):  # -1 keeps a dim
        target = target[:len(lead)] + (-1,) + target[len(lead) + 1:] if ones and ones[0] != 1 else target
    return Sample((ones,), {"shape": target})


def _expand_ref(x: np.ndarray, shape: tuple) -> np.ndarray:
    lead = len(shape) - x.ndim
    full = tuple(x.shape[i - lead] if s == -1 else s for i, s in enumerate(shape))
    return np.broadcast_to(x, full).copy()


def _squeeze(draw: Any) -> Sample:
    shp = tuple(1 if draw(st.booleans()) else s for s in S.shape(draw, max_dims=4, max_side=3))
    dim = draw(st.one_of(st.none(), st.integers(-len(shp), len(shp) - 1))) if shp else None
    return Sample((shp,), {"dim": dim})


def _squeeze_ref(x: np.ndarray, dim: Any) -> np.ndarray:
    if dim is None:
        return np.squeeze(x)
    return np.squeeze(x, axis=dim) if x.shape[dim] == 1 else x


def _unsqueeze(draw: Any) -> Sample:
    shp = S.shape(draw)
    return Sample((shp,), {"dim": draw(st.integers(-len(shp) - 1, len(shp)))})


def _flatten(draw: Any) -> Sample:
    shp = S.shape(draw, min_dims=1, max_dims=4, max_side=3)
    a = draw(st.integers(0, len(shp) - 1))
    b = draw(st.integers(a, len(shp) - 1))
    return Sample((shp,), {"start_dim": a, "end_dim": b - len(shp) if draw(st.booleans()) else b})


def _flatten_ref(x: np.ndarray, start_dim: int, end_dim: int) -> np.ndarray:
    e = end_dim % x.ndim
    return x.reshape(x.shape[:start_dim] + (-1,) + x.shape[e + 1:])


def _cat(draw: Any) -> Sample:
    shp = S.shape(draw, min_dims=1)
    dim = S.dim_of(draw, len(shp))
    other = list(shp)
    other[dim] = draw(st.integers(1, 3))
    return Sample((shp, tuple(other)), {"dim": dim})


def _stack(draw: Any) -> Sample:
    shp = S.shape(draw)
    return Sample((shp, shp), {"dim": draw(st.integers(-len(shp) - 1, len(shp)))})


def _split(draw: Any) -> Sample:
    shp = S.shape(draw, min_dims=1)
    dim = S.dim_of(draw, len(shp))
    size = draw(st.integers(1, shp[dim]))
    nchunks = -(-shp[dim] // size)
    return Sample((shp,), {"size": size, "dim": dim, "k": draw(st.integers(0, nchunks - 1))})


def _split_ref(x: np.ndarray, size: int, dim: int, k: int) -> np.ndarray:
    idx = [slice(None)] * x.ndim
    idx[dim] = slice(k * size, (k + 1) * size)
    return x[tuple(idx)]


SPECS = [
    OpSpec(name="transpose", family="shape", arity=1, template="M.transpose($x0, $dim0, $dim1)", sample=_transpose,
           reference=lambda x, dim0, dim1: np.swapaxes(x, dim0, dim1), torch_equivalent="torch.transpose"),
    OpSpec(name="permute", family="shape", arity=1, template="M.permute($x0, $dims)", sample=_permute,
           reference=lambda x, dims: np.transpose(x, dims), torch_equivalent="torch.permute"),
    OpSpec(name="reshape", family="shape", arity=1, template="M.reshape($x0, $shape)", sample=_new_shape,
           reference=lambda x, shape: x.reshape(shape), torch_equivalent="torch.reshape"),
    OpSpec(name="view", family="shape", arity=1, template="$x0.view($shape)", sample=_new_shape,
           reference=lambda x, shape: x.reshape(shape), requires=("Tensor.view",),
           torch_equivalent="torch.Tensor.view", contiguous_only=True),
    OpSpec(name="expand", family="shape", arity=1, template="$x0.expand($shape)", sample=_expand,
           reference=_expand_ref, requires=("Tensor.expand",), torch_equivalent="torch.Tensor.expand"),
    OpSpec(name="squeeze", family="shape", arity=1,
           template=lambda p: "M.squeeze($x0)" if p["dim"] is None else "M.squeeze($x0, $dim)", sample=_squeeze,
           reference=_squeeze_ref, torch_equivalent="torch.squeeze"),
    OpSpec(name="unsqueeze", family="shape", arity=1, template="M.unsqueeze($x0, $dim)", sample=_unsqueeze,
           reference=lambda x, dim: np.expand_dims(x, dim), torch_equivalent="torch.unsqueeze"),
    OpSpec(name="flatten", family="shape", arity=1, template="M.flatten($x0, $start_dim, $end_dim)", sample=_flatten,
           reference=_flatten_ref, torch_equivalent="torch.flatten"),
    OpSpec(name="cat", family="shape", arity=2, template="M.cat([$x0, $x1], $dim)", sample=_cat,
           reference=lambda a, b, dim: np.concatenate([a, b], dim), torch_equivalent="torch.cat"),
    OpSpec(name="stack", family="shape", arity=2, template="M.stack([$x0, $x1], $dim)", sample=_stack,
           reference=lambda a, b, dim: np.stack([a, b], dim), torch_equivalent="torch.stack"),
    OpSpec(name="split", family="shape", arity=1, template="M.split($x0, $size, $dim)[$k]", sample=_split,
           reference=_split_ref, torch_equivalent="torch.split",
           notes="one chunk is used; the others must receive zero gradient"),
]
