"""Hypothesis building blocks shared by the op families: shapes, dims, reduction gaps."""
from __future__ import annotations

from functools import cache
from typing import Any

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

MAX_SIDE = 4


def shape(draw: Any, min_dims: int = 0, max_dims: int = 3, min_side: int = 1,
          max_side: int = MAX_SIDE) -> tuple[int, ...]:
    return draw(_array_shapes(min_dims, max_dims, min_side, max_side))


# Strategies are built once per argument tuple: a strategy built anew for every draw is validated anew
# by hypothesis, which cost more than the draw itself (shape() alone took ~12 s of a quick run).
@cache
def _array_shapes(min_dims: int, max_dims: int, min_side: int, max_side: int) -> Any:
    return hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=min_side, max_side=max_side)


@cache
def _broadcastable(max_dims: int) -> Any:
    return hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=max_dims, max_side=MAX_SIDE)


def broadcast_pair(draw: Any, max_dims: int = 3) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Two mutually broadcastable shapes: the case where gradients must be summed back."""
    bs = draw(_broadcastable(max_dims))
    return bs.input_shapes[0], bs.input_shapes[1]


def dim_of(draw: Any, ndim: int) -> int:
    """A valid dim for ``ndim`` dims, negative half the time (a classic source of bugs)."""
    return draw(st.integers(-max(ndim, 1), max(ndim, 1) - 1))


def reduce_dims(draw: Any, ndim: int, allow_tuple: bool = True, allow_none: bool = True) -> Any:
    """None (all), an int, or a tuple of distinct dims; negative dims as often as non-negative ones.

    Drawn by coin flips rather than sampled_from/integers(-ndim, ndim - 1), whose first examples
    lean to the first values (a ci cell saw a tuple 3 times in 50): None a quarter of the time
    (every program's glue sums reduce over everything already), else a tuple half the time where
    one is allowed, and each dim's sign apart from the dim, negative by default -- so the simple
    examples hypothesis tries first, and shrinks to, use negative dims (dim=-1, as code does).
    """
    if ndim == 0:
        return None if allow_none else dim_of(draw, ndim)
    if allow_none and draw(st.booleans()) and draw(st.booleans()):
        return None
    if allow_tuple and ndim >= 2 and draw(st.booleans()):
        dims = draw(st.lists(st.integers(0, ndim - 1), min_size=2, max_size=ndim, unique=True))
        return tuple(d if draw(st.booleans()) else d - ndim for d in dims)
    d = draw(st.integers(0, ndim - 1))
    return d if draw(st.booleans()) else d - ndim


def axes(dim: Any, ndim: int) -> tuple[int, ...]:
    if dim is None:
        return tuple(range(ndim))
    dims = dim if isinstance(dim, tuple) else (dim,)
    return tuple(sorted(d % max(ndim, 1) for d in dims)) if ndim else ()


def top2_gap(x: np.ndarray, dim: Any) -> float:
    """Smallest gap between the two largest values of each reduced slice (max/argmax ties are kinks)."""
    ax = axes(dim, x.ndim)
    if x.size == 0:
        return float("inf")
    keep = [i for i in range(x.ndim) if i not in ax]
    y = np.transpose(x, keep + list(ax)).reshape(int(np.prod([x.shape[i] for i in keep], dtype=int)), -1)
    if y.shape[1] < 2:
        return float("inf")
    s = np.sort(y, axis=1)
    return float(np.min(s[:, -1] - s[:, -2]))


def reduced_count(shape_: tuple[int, ...], dim: Any) -> int:
    ax = axes(dim, len(shape_))
    return int(np.prod([shape_[i] for i in ax], dtype=int)) if ax else 1
