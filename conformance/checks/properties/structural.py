"""Structural rules of backward, per op: grad dtype/shape, zero cotangent, retain_graph twice,
no mutation of inputs or cotangent, and no aliasing of ``.grad`` with other buffers."""
from __future__ import annotations

from typing import Any

import numpy as np

from conformance.checks import oracles as O
from conformance.checks.properties.base import Evidence, from_comparison, named, nonscalar_programs, prop, violations
from conformance.engines import adapter as caps
from conformance.spec.programs import Program


@prop("grad_dtype_shape", family="structural", methods={"grad_tensor"}, oracles={"rule"})
def _dtype_shape(A: Any, p: Program) -> Evidence:
    """.grad of a leaf has the leaf's dtype and shape."""
    ts, _ = p.backward(A)
    problems = []
    for i in p.grad_leaves:
        g = A.grad_tensor(ts[i])
        if g is None:
            problems.append(f"v{i}.grad is None")
            continue
        if A.dtype_of(g) != p.dtype:
            problems.append(f"v{i}.grad dtype {A.dtype_of(g)} != leaf dtype {p.dtype}")
        shp = A.to_numpy(g).shape
        if shp != p.nodes[i].value.shape:
            problems.append(f"v{i}.grad shape {shp} != leaf shape {p.nodes[i].value.shape}")
    return violations(problems, p)


@prop("zero_cotangent", family="structural", oracles={"rule-zero"}, strategy=nonscalar_programs)
def _zero_cotangent(A: Any, p: Program) -> Evidence:
    """A zero cotangent gives exactly zero leaf gradients."""
    out_shape = p.evaluate()[p.output].shape
    q = p.with_cotangent(np.zeros(out_shape))
    _, grads = q.backward(A)
    exp = {i: np.zeros_like(q.nodes[i].value) for i in q.grad_leaves}
    c = O.compare(named(q, exp), named(q, {i: grads[i] for i in exp}), O.tolerance_for(q, "rule-zero"), "rule-zero")
    return from_comparison(c, named(q, exp), named(q, {i: grads[i] for i in exp}), "rule-zero", q,
                           "zero cotangent must give zero grads")


@prop("retain_graph_twice", family="structural", capabilities={caps.RETAIN_GRAPH}, oracles={"rule", "rule-repeat"})
def _retain_graph_twice(A: Any, p: Program) -> Evidence:
    """Two retained backwards accumulate identical grads; inputs, cotangent not mutated; no aliasing.

    backward(retain_graph=True) twice: grads double exactly; leaves and cotangent unchanged.

    If two leaves' ``.grad`` aliased one buffer, the in-place accumulation of the second
    call would not double each of them.  The cotangent is checked after the *first*
    backward only: torch's AccumulateGrad may adopt a view of the cotangent as ``.grad``
    (grad stealing, e.g. through reshape/cat), so torch itself mutates the caller's
    cotangent when a second backward accumulates in place -- PyTorch semantics here.
    """
    ts = p.run(A)
    cot = p.cotangent_tensor(A)
    A.backward(ts[p.output], cot, retain_graph=True)
    problems = []
    if cot is not None and not np.array_equal(A.to_numpy(cot), p.cotangent.astype(p.dtype)):
        problems.append("the cotangent tensor was mutated by backward")
    g1 = {i: A.grad_of(ts[i]) for i in p.grad_leaves}
    A.backward(ts[p.output], cot, retain_graph=True)
    g2 = {i: A.grad_of(ts[i]) for i in p.grad_leaves}
    problems += [f"v{i}.grad is None after backward" for i in p.grad_leaves if g1[i] is None or g2[i] is None]
    for i in p.leaves:
        if not np.array_equal(A.to_numpy(ts[i]), p.nodes[i].value.astype(p.dtype)):
            problems.append(f"leaf v{i} was mutated by backward")
    if problems:
        return violations(problems, p)
    exp = {i: 2 * g1[i] for i in g1}
    c = O.compare(named(p, exp), named(p, g2), O.tolerance_for(p, "rule-repeat"), "rule-repeat")
    return from_comparison(c, named(p, exp), named(p, g2), "rule-repeat", p,
                           "second retained backward must add the same grads")
