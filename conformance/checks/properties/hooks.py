"""Capability-gated rules: tensor hooks and the in-place version-counter check."""
from __future__ import annotations

from typing import Any

import numpy as np

from conformance.checks import oracles as O
from conformance.engines import adapter as caps
from conformance.spec.programs import Program
from conformance.checks.properties.base import Evidence, Property, from_comparison, named, register, violations


def _hooks(A: Any, p: Program) -> Evidence:
    """A hook on a leaf sees the leaf's gradient and its return value replaces it (here: x2)."""
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
    c = O.compare(want, got, *O.TOL_TORCH[p.dtype])
    return from_comparison(c, want, got, "torch-float64", p, "hook argument and hooked .grad")


def _inplace(A: Any, p: Program) -> Evidence:
    """Modifying in place a tensor saved for backward makes backward raise (version check);
    an in-place op on a tensor nobody saved is differentiated correctly."""
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
    c = O.compare(exp, got, *O.TOL_NUMERICAL[p.dtype])
    return from_comparison(c, exp, got, "analytic", p, "gradient through an in-place add")


register(Property("hooks", "hooks", "register_hook sees the gradient and can replace it.", _hooks, per_op=False,
                  needs=frozenset({caps.HOOKS}), needs_ops=frozenset({'mul'})))
register(Property("inplace_version", "hooks", "In-place on a saved tensor makes backward raise; otherwise "
                  "in-place ops differentiate correctly.", _inplace, per_op=False, needs=frozenset({caps.INPLACE}),
                  needs_ops=frozenset({"sum", "mul"})))
