"""Indexing ``x[index]``: slices (with steps), None, Ellipsis anywhere, fewer indices than dims, ints,
integer arrays with REPEATED and negative indices (their gradients must accumulate, not overwrite),
boolean masks."""
from __future__ import annotations

from typing import Any

import numpy as np
from hypothesis import strategies as st

from conformance.spec import shapes as S
from conformance.spec.opspec import OpSpec, Sample


def _slice(draw: Any, n: int) -> slice:
    start = draw(st.one_of(st.none(), st.integers(-n, n - 1)))
    stop = draw(st.one_of(st.none(), st.integers(-n, n)))
    step = draw(st.sampled_from([None, 1, 2]))
    return slice(start, stop, step)


def _index_sample(draw: Any) -> Sample:
    shp = S.shape(draw, min_dims=1)
    ndim = len(shp)
    kind = draw(st.sampled_from(["basic", "intarray", "intarray", "mask"]))
    if kind == "mask":
        k = draw(st.integers(1, ndim))
        seed = draw(st.integers(0, 2**16))
        mask = np.random.default_rng(seed).random(shp[:k]) < 0.6
        return Sample((shp,), {"index": (mask,)})
    # Which dims get an index: a leading run, and after an Ellipsis a trailing run; fewer indices
    # than dims is common (x[1] of a matrix), and `...` may stand anywhere, for any number of dims
    # (x[..., 0], x[0, ..., 1], x[...]) -- an engine that expands it wrongly is right only at the end.
    ellipsis = draw(st.booleans())
    lead = draw(st.integers(0 if ellipsis else 1, ndim))
    # an integer array after the Ellipsis (x[..., [0, 0]], the common form, with its own backward path in
    # some engines) whenever there is room for one: drawing the trailing run from 0 left it to ~4% of examples
    trail = draw(st.integers(1 if kind == "intarray" and lead < ndim else 0, ndim - lead)) if ellipsis else 0
    dims = list(range(lead)) + list(range(ndim - trail, ndim))
    items: list[Any] = []
    array_done = False
    for d in dims:
        n = shp[d]
        choice = draw(st.sampled_from(["slice", "int", "array", "full"]))
        if choice == "array" or (kind == "intarray" and not array_done and d == dims[-1]):
            if array_done:
                items.append(slice(None))
                continue
            idx = draw(st.lists(st.integers(-n, n - 1), min_size=1, max_size=5))
            if len(idx) >= 2 and draw(st.booleans()):
                idx[1] = idx[0]  # make repetition common: gradients must accumulate
            items.append(np.array(idx, dtype=np.int64))
            array_done = True
        elif choice == "int":
            items.append(draw(st.integers(-n, n - 1)))
        elif choice == "slice":
            items.append(_slice(draw, n))
        else:
            items.append(slice(None))
    if array_done:  # numpy treats ints next to an array as advanced indices, torch as basic: avoid the mix
        items = [slice(None) if isinstance(i, int) else i for i in items]
    if ellipsis:
        items.insert(lead, Ellipsis)
    for _ in range(draw(st.integers(0, 2))):  # new axes, anywhere
        items.insert(draw(st.integers(0, len(items))), None)
    return Sample((shp,), {"index": tuple(items)})


def _index_ref(x: np.ndarray, index: tuple) -> np.ndarray:
    return np.asarray(x[index])


SPECS = [
    OpSpec(name="index", family="index", arity=1, template="$x0[$index]", sample=_index_sample, reference=_index_ref,
           requires=("Tensor.__getitem__",), torch_equivalent="torch.Tensor.__getitem__",
           notes="one advanced index at most, so numpy and torch agree on result layout"),
]
