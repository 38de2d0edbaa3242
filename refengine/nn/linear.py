"""linear and embedding.

linear is torch's composite ``input @ weight.T + bias`` (matmul and add nodes; torch's own
node names depend on the input's rank: AddmmBackward0, ViewBackward0, ...).  embedding
is one node (EmbeddingBackward0): rows of ``weight`` gathered by the indices, whose
backward scatter-adds the gradient rows back — none to ``padding_idx``, and divided by
each index's count with ``scale_grad_by_freq``, as torch's embedding_dense_backward.
"""
from __future__ import annotations

import numpy as np

from refengine.ops.common import data_of, shape_of
from refengine.ops.index import scatter_add as flat_scatter_add
from refengine.ops.selection import Selected


def linear(input, weight, bias=None):
    """``input @ weight.T + bias`` over the last dim of ``input``."""
    from refengine.ops import matmul, transpose
    ws = shape_of(weight)
    if len(ws) not in (1, 2):
        raise RuntimeError(f"t() expects a tensor with <= 2 dimensions, but self is {len(ws)}D")
    if input.shape[-1:] != ws[-1:]:
        raise RuntimeError(f"mat1 and mat2 shapes cannot be multiplied "
                           f"({'x'.join(map(str, (int(np.prod(input.shape[:-1])), input.shape[-1])))} and "
                           f"{'x'.join(map(str, ws[::-1]))})")
    out = matmul(input, transpose(weight, 0, 1) if len(ws) == 2 else weight)
    return out if bias is None else out + bias


class Embedding(Selected):
    """Rows of the weight at flat positions ``lin``; ``keep`` (per output row) scales the gradient."""

    node_name = "EmbeddingBackward0"

    @staticmethod
    def forward(ctx, w, lin=None, keep=None, extra=None):
        ctx.keep = keep
        return Selected.forward(ctx, w, lin=lin)

    @staticmethod
    def backward(ctx, g, *_ignored):
        if ctx.keep is not None:
            g = g * ctx.keep.astype(data_of(g).dtype)
        return flat_scatter_add(g, ctx.lin, ctx.shape)


def embedding(input, weight, padding_idx=None, max_norm=None, norm_type=2.0, scale_grad_by_freq=False, sparse=False):
    """``weight[input]``: one row of ``weight`` per index."""
    if max_norm is not None:
        raise NotImplementedError("embedding: max_norm (in-place renormalisation of weight) is not supported "
                                  "by refengine")
    if sparse:
        raise NotImplementedError("embedding: sparse gradients are not supported by refengine")
    idx = np.asarray(data_of(input))
    if idx.dtype.kind not in "iu":
        raise RuntimeError(f"Expected tensor for argument #1 'indices' to have one of the following scalar types: "
                           f"Long, Int; but got {idx.dtype} instead (while checking arguments for embedding)")
    ws = shape_of(weight)
    if len(ws) != 2:
        raise RuntimeError("'weight' must be 2-D")
    n, d = ws
    if np.any((idx < 0) | (idx >= n)):
        raise IndexError("index out of range in self")
    if padding_idx is not None:
        if not -n <= padding_idx < n:
            raise AssertionError("Padding_idx must be within num_embeddings")
        padding_idx %= n
    lin = idx[..., None].astype(np.int64) * d + np.arange(d, dtype=np.int64)
    keep = None
    if padding_idx is not None or scale_grad_by_freq:
        keep = np.ones(idx.shape + (1,))
        if scale_grad_by_freq:
            counts = np.bincount(idx.reshape(-1), minlength=n)
            keep = keep / counts[idx][..., None]
        if padding_idx is not None:
            keep = keep * (idx != padding_idx)[..., None]
    return Embedding.apply(weight, lin=lin, keep=keep)
