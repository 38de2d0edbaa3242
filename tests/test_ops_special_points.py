"""Special points of the issue-16 ops, where torch's conventions decide the answer: kinks, ties,
poles, domain edges, zero vectors, thresholds and clamps.  Values, gradients and second
derivatives must equal torch's there (nan where torch's is nan, e.g. atan2's second derivative
at the origin or a p < 1 norm's at a zero entry)."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import refengine as re
import refengine.nn.functional as F
from ops_helpers import check

A = np.array
INF = float("inf")

# name: (call with (module, functional module, *inputs), inputs)
CASES = {
    "atan2_origin": (lambda m, f, x, y: m.atan2(x, y), [A([0.0, 1.0]), A([0.0, 2.0])]),
    "hypot_origin": (lambda m, f, x, y: m.hypot(x, y), [A([0.0, 1.0]), A([0.0, 2.0])]),
    "xlogy_zero": (lambda m, f, x, y: m.xlogy(x, y), [A([0.0, 0.0, 1.0]), A([0.0, 2.0, 0.5])]),
    "fmod_jump": (lambda m, f, x, y: m.fmod(x, y), [A([3.0, -3.0]), A([1.5, 1.5])]),
    "remainder_jump": (lambda m, f, x, y: m.remainder(x, y), [A([3.0, -3.0]), A([1.5, -1.5])]),
    "std_constant_row": (lambda m, f, x: m.std(x, 1), [A([[1.0, 1.0], [0.0, 2.0]])]),
    "norm2_zero_row": (lambda m, f, x: m.linalg.vector_norm(x, 2, 1), [A([[0.0, 0.0], [1.0, 2.0]])]),
    "norm3_zero_row": (lambda m, f, x: m.linalg.vector_norm(x, 3, 1), [A([[0.0, 0.0], [1.0, 0.0]])]),
    "norm1.5_zero_row": (lambda m, f, x: m.linalg.vector_norm(x, 1.5, 1), [A([[0.0, 0.0], [1.0, 0.0]])]),
    "norm0.5_zero_entry": (lambda m, f, x: m.linalg.vector_norm(x, 0.5, 1), [A([[0.0, 1.0], [1.0, 2.0]])]),
    "norm_inf_tie": (lambda m, f, x: m.linalg.vector_norm(x, INF), [A([1.0, -1.0, 0.5])]),
    "normalize_zero_row": (lambda m, f, x: f.normalize(x), [A([[0.0, 0.0], [1.0, 2.0]])]),
    "cosine_zero_row": (lambda m, f, x, y: f.cosine_similarity(x, y), [A([[0.0, 0.0], [1.0, 2.0]]),
                                                                        A([[1.0, 0.0], [1.0, 0.5]])]),
    "cummax_tie": (lambda m, f, x: m.cummax(x, 0)[0], [A([1.0, 1.0, 0.5, 1.0])]),
    "median_tie": (lambda m, f, x: m.median(x), [A([1.0, 1.0, 0.5, 1.0, 2.0])]),
    "sort_tie": (lambda m, f, x: m.sort(x, descending=True)[0], [A([1.0, 0.0, 1.0, 0.0])]),
    "elu_zero": (lambda m, f, x: f.elu(x), [A([0.0, -1.0])]),
    "leaky_relu_zero": (lambda m, f, x: f.leaky_relu(x), [A([0.0, -1.0])]),
    "hardtanh_bounds": (lambda m, f, x: f.hardtanh(x), [A([-1.0, 1.0, 0.0])]),
    "softplus_threshold": (lambda m, f, x: f.softplus(x), [A([20.0, 19.0, 21.0])]),
    "digamma_poles": (lambda m, f, x: m.digamma(x), [A([0.0, -1.0, -0.0])]),
    "lgamma_poles": (lambda m, f, x: m.lgamma(x), [A([0.0, -1.0, -2.0])]),
    "asin_edges": (lambda m, f, x: m.asin(x), [A([1.0, -1.0])]),
    "bce_hard_targets": (lambda m, f, x, t: f.binary_cross_entropy(x, t), [A([0.3, 0.5]), A([0.0, 1.0])]),
    "smooth_l1_joint": (lambda m, f, x, t: f.smooth_l1_loss(x, t), [A([1.0, 0.0]), A([0.0, 0.0])]),
    "huber_joint": (lambda m, f, x, t: f.huber_loss(x, t), [A([1.0, 0.0]), A([0.0, 0.0])]),
    "l1_zero": (lambda m, f, x, t: f.l1_loss(x, t), [A([1.0, 0.0]), A([0.0, 0.0])]),
    "kl_div_zero_target": (lambda m, f, x, t: f.kl_div(x, t, reduction="sum"), [A([-1.0, -2.0]), A([0.0, 0.5])]),
}


@pytest.mark.filterwarnings("ignore")
@pytest.mark.parametrize("name", sorted(CASES))
def test_special_point_matches_torch_to_second_order(name):
    fn, inputs = CASES[name]
    check(lambda *xs: fn(re, F, *xs), lambda *xs: fn(torch, TF, *xs), inputs, second=True)
