"""Capability-gated rules: tensor hooks and the in-place version-counter check."""
from __future__ import annotations

from typing import Any

import numpy as np

from conformance.checks import oracles as O
from conformance.checks.properties.base import Evidence, from_comparison, prop, violations
from conformance.engines import adapter as caps
from conformance.spec.programs import Program


@prop("hooks", family="hooks", per_op=False, capabilities={caps.HOOKS}, methods={"register_hook"},
      oracles={"rule", "torch-float64"}, helper_ops={"mul"})
def _hooks(A: Any, p: Program) -> Evidence:
    """register_hook sees the gradient and can replace it.

    A hook on a leaf sees the leaf's gradient and its return value replaces it (here: x2).
    """
    ts = p.run(A)
    i = p.grad_leaves[0]
    seen: list[np.ndarray] = []

    def hook(g: Any) -> Any:
        seen.append(A.to_numpy(g))
        return A.apply("mul", [g, A.leaf(np.array(2.0), p.dtype, False)], {})

    A.register_hook(ts[i], hook)
    A.backward(ts[p.output], p.cotangent_tensor(A))
    _, exp = O.torch_grads(p)
    if len(seen) != 1:
        return violations([f"leaf hook called {len(seen)} times, expected once"], p)
    want = {f"hook(v{i})": exp[i], f"v{i}.grad": 2 * exp[i]}
    got = {f"hook(v{i})": seen[0], f"v{i}.grad": A.grad_of(ts[i])}
    c = O.compare(want, got, O.tolerance_for(p, "torch-float64"), "torch-float64")
    return from_comparison(c, want, got, "torch-float64", p, "hook argument and hooked .grad")


@prop("inplace_version", family="hooks", per_op=False, capabilities={caps.INPLACE}, methods={"apply_inplace"},
      oracles={"rule", "analytic"}, helper_ops={"sum", "mul"})
def _inplace(A: Any, p: Program) -> Evidence:
    """In-place on a saved tensor makes backward raise; otherwise in-place ops differentiate correctly.

    Modifying in place a tensor saved for backward makes backward raise (version check);
    an in-place op on a tensor nobody saved is differentiated correctly.
    """
    x = A.leaf(p.nodes[p.grad_leaves[0]].value, p.dtype, True)
    two = A.leaf(np.array(2.0), p.dtype, False)
    h = A.apply("mul", [x, two], {})
    y = A.apply("sum", [A.apply("mul", [h, h], {})], {"dim": None, "keepdim": False})  # saves h
    A.apply_inplace("add", h, 1.0)
    try:
        A.backward(y)
    except Exception as e:  # noqa: BLE001
        if not A.is_autograd_error(e):
            return violations([f"stale saved tensor raised {type(e).__name__}, not the autograd error"], p)
    else:
        return violations(["backward used a saved tensor modified in place without raising"], p)
    x = A.leaf(p.nodes[p.grad_leaves[0]].value, p.dtype, True)
    h = A.apply("mul", [x, two], {})
    A.apply_inplace("add", h, 1.0)
    y = A.apply("sum", [A.apply("mul", [h, h], {})], {"dim": None, "keepdim": False})
    A.backward(y)
    v = p.nodes[p.grad_leaves[0]].value
    exp = {"x": 4.0 * (2.0 * v + 1.0)}
    got = {"x": A.grad_of(x)}
    c = O.compare(exp, got, O.tolerance_for(p, "analytic"), "analytic")
    return from_comparison(c, exp, got, "analytic", p, "gradient through an in-place add")
