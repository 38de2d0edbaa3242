"""Zero-size inputs of the issue-16 nn and linear-algebra ops (empty batches, empty matrices, empty
index lists): shapes, values, gradients and second derivatives equal torch's."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import refengine as re
import refengine.nn.functional as F
from ops_helpers import check


def E(*shape):
    return np.zeros(shape)


CASES = {
    "linear_empty_batch": (lambda m, f, x, w: f.linear(x, w), [E(0, 3), np.ones((2, 3))]),
    "layer_norm_empty": (lambda m, f, x: f.layer_norm(x, (3,)), [E(0, 3)]),
    "group_norm_empty": (lambda m, f, x: f.group_norm(x, 1), [E(0, 2, 3)]),
    "embedding_empty": (lambda m, f, w: f.embedding(m.tensor(np.zeros((0,), np.int64)), w), [np.ones((3, 2))]),
    "bce_empty_sum": (lambda m, f, x, t: f.binary_cross_entropy(x, t, reduction="sum"), [E(0), E(0)]),
    "bce_logits_empty_none": (lambda m, f, x, t: f.binary_cross_entropy_with_logits(x, t, reduction="none"),
                              [E(0, 2), E(0, 2)]),
    "smooth_l1_empty_sum": (lambda m, f, x, t: f.smooth_l1_loss(x, t, reduction="sum"), [E(0), E(0)]),
    "huber_empty_sum": (lambda m, f, x, t: f.huber_loss(x, t, reduction="sum"), [E(0), E(0)]),
    "l1_empty_sum": (lambda m, f, x, t: f.l1_loss(x, t, reduction="sum"), [E(0), E(0)]),
    "kl_empty_sum": (lambda m, f, x, t: f.kl_div(x, t, reduction="sum"), [E(0), E(0)]),
    "cosine_empty": (lambda m, f, x, y: f.cosine_similarity(x, y), [E(0, 3), E(0, 3)]),
    "normalize_empty": (lambda m, f, x: f.normalize(x), [E(0, 3)]),
    "glu_empty": (lambda m, f, x: f.glu(x), [E(0, 4)]),
    "conv1d_empty_batch": (lambda m, f, x, w: f.conv1d(x, w), [E(0, 2, 5), np.ones((3, 2, 2))]),
    "conv_t_empty_batch": (lambda m, f, x, w: f.conv_transpose2d(x, w), [E(0, 2, 3, 3), np.ones((2, 3, 2, 2))]),
    "interp_empty_batch": (lambda m, f, x: f.interpolate(x, scale_factor=2), [E(0, 2, 3, 3)]),
    "adaptive_empty_batch": (lambda m, f, x: f.adaptive_avg_pool2d(x, 2), [E(0, 2, 3, 3)]),
    "batch_norm_eval_empty": (lambda m, f, x: f.batch_norm(x, m.zeros(2, dtype=m.float64), m.ones(2, dtype=m.float64)),
                              [E(0, 2)]),
    "pad_empty": (lambda m, f, x: f.pad(x, (1, 1)), [E(0, 3)]),
    "solve_empty_rhs": (lambda m, f, a, b: m.linalg.solve(a, b), [np.eye(3), E(3, 0)]),
    "inv_empty": (lambda m, f, a: m.linalg.inv(a), [E(0, 0)]),
    "det_batch_empty": (lambda m, f, a: m.linalg.det(a), [E(0, 2, 2)]),
    "svdvals_empty": (lambda m, f, a: m.linalg.svdvals(a), [E(0, 3)]),
    "qr_empty": (lambda m, f, a: m.linalg.qr(a)[1], [E(0, 3)]),
    "cholesky_empty": (lambda m, f, a: m.linalg.cholesky(a), [E(0, 0)]),
    "eigh_empty": (lambda m, f, a: m.linalg.eigh(a)[0], [E(0, 0)]),
    "einsum_empty": (lambda m, f, a, b: m.einsum("ij,jk->ik", a, b), [E(2, 0), E(0, 3)]),
    "trace_empty": (lambda m, f, a: m.trace(a), [E(0, 3)]),
    "diag_empty": (lambda m, f, a: m.diag(a), [E(0)]),
    "cross_empty": (lambda m, f, a, b: m.linalg.cross(a, b), [E(0, 3), E(0, 3)]),
    "dot_empty": (lambda m, f, a, b: m.dot(a, b), [E(0), E(0)]),
    "std_empty_dim": (lambda m, f, a: m.std(a, 1), [E(0, 3)]),
    "norm_empty": (lambda m, f, a: m.linalg.vector_norm(a), [E(0, 3)]),
    "gather_empty": (lambda m, f, a: m.gather(a, 1, m.tensor(np.zeros((2, 0), np.int64))), [np.ones((2, 3))]),
    "index_select_empty": (lambda m, f, a: m.index_select(a, 0, m.tensor(np.zeros(0, np.int64))), [np.ones((2, 3))]),
    "index_add_empty": (lambda m, f, a, s: m.index_add(a, 0, m.tensor(np.zeros(0, np.int64)), s),
                        [np.ones((2, 3)), E(0, 3)]),
    "masked_fill_empty": (lambda m, f, a: m.masked_fill(a, m.tensor(np.zeros((0, 3), bool)), 1.0), [E(0, 3)]),
    "unbind_one": (lambda m, f, a: m.unbind(a, 0)[0], [np.ones((1, 3))]),
}


@pytest.mark.filterwarnings("ignore")
@pytest.mark.parametrize("name", sorted(CASES))
def test_zero_size_matches_torch(name):
    fn, inputs = CASES[name]
    check(lambda *xs: fn(re, F, *xs), lambda *xs: fn(torch, TF, *xs), inputs, second=True)
