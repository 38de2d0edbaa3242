"""Issue 16: the registry covers refengine's op breadth, and the refengine bugs its new OpSpecs found stay fixed."""
from __future__ import annotations

import numpy as np

import refengine as R
from conformance.spec.ops import REGISTRY

NEW_FAMILIES = {"scans", "rounding", "linalg_more", "shape_more", "nn_more", "losses"}


def test_registry_has_at_least_130_ops() -> None:
    assert len(REGISTRY) >= 130
    assert NEW_FAMILIES <= {s.family for s in REGISTRY.values()}


def test_index_add_and_scatter_add_on_a_transposed_input() -> None:
    """Both copied a non-contiguous input in its own (Fortran) order and added into a temporary."""
    a = np.array([[1.0, 2.0], [-1.0, -2.0]])
    x = R.tensor(a).transpose(0, -1)
    got = R.index_add(x, 0, R.tensor(np.array([0])), R.tensor(np.array([[10.0, 20.0]])))
    assert got.detach().numpy().tolist() == [[11.0, 19.0], [2.0, -2.0]]
    got = R.scatter_add(x, 0, R.tensor(np.array([[0, 0]])), R.tensor(np.array([[10.0, 20.0]])))
    assert got.detach().numpy().tolist() == [[11.0, 19.0], [2.0, -2.0]]


def test_layer_norm_double_backward_over_the_whole_input() -> None:
    """normalized_shape == the input's shape: the weight's gradient sums over no dims (sum(dim=()) summed all)."""
    x = R.tensor(np.array([1.0, -1.0]), requires_grad=True)
    w = R.tensor(np.array([0.5, 2.0]), requires_grad=True)
    y = R.nn.functional.layer_norm(x, (2,), w, None)
    (gw,) = R.autograd.grad([y], [w], grad_outputs=[R.tensor(np.array([1.0, -1.0]))], create_graph=True)
    assert gw.shape == (2,)
