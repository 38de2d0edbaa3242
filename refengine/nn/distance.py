"""cosine_similarity and normalize, as torch composes them from norms, clamps and divisions.

torch's cosine_similarity clamps the two norms at ``eps`` in place under no_grad, so the
clamp changes the value but not the gradient; the same is done here by adding the
clamp's (constant) offset to the norm.  normalize is ``x / clamp_min(norm, eps)`` with a
differentiable clamp (no gradient through the norm where it is clamped).
"""
from __future__ import annotations

import numpy as np

from refengine.ops.common import data_of, shape_of


def _dim(d, nd):
    from refengine.ops.reduce import normalize_dims
    (a,) = normalize_dims(d, nd) or (0,)
    return a


def cosine_similarity(x1, x2, dim=1, eps=1e-8):
    """``sum(x1 / max(|x1|, eps) * x2 / max(|x2|, eps), dim)`` after broadcasting x1 and x2."""
    from refengine.ops import expand, sum as _sum
    from refengine.ops.norms import vector_norm
    from refengine.ops.dtypes import broadcast_shape
    shape = broadcast_shape(shape_of(x1), shape_of(x2))
    if shape_of(x1) != shape:
        x1 = expand(x1, *shape)
    if shape_of(x2) != shape:
        x2 = expand(x2, *shape)
    d = _dim(dim, len(shape))
    n1 = vector_norm(x1, 2, d, keepdim=True)
    n2 = vector_norm(x2, 2, d, keepdim=True)
    # torch: clamp_min_(eps) under no_grad -- the value is clamped, the gradient is the norm's
    n1 = n1 + (np.maximum(data_of(n1), eps) - data_of(n1))
    n2 = n2 + (np.maximum(data_of(n2), eps) - data_of(n2))
    return _sum((x1 / n1) * (x2 / n2), d)


def normalize(input, p=2.0, dim=1, eps=1e-12, out=None):
    """``input / max(norm_p(input, dim), eps)`` (torch.nn.functional.normalize)."""
    from refengine.ops import clamp, expand
    from refengine.ops.norms import vector_norm
    if out is not None:
        raise NotImplementedError("normalize: out= is not supported by refengine")
    d = _dim(dim, input.ndim)
    denom = clamp(vector_norm(input, p, d, keepdim=True), min=eps)
    return input / expand(denom, *input.shape)
