"""Numerical stability: ops stay finite and accurate where they are well defined but naive formulas fail.

Each op that declares ``OpSpec.stable`` (regions of large or tiny magnitudes, one Domain per
input: logits of +-1e3 for softmax/log_softmax/logsumexp/cross_entropy, sigmoid and tanh at
+-40..500 and near 0, pow with exponents up to +-200) gets a cell.  An example is the op alone
on leaves drawn from one region, with a drawn cotangent; the forward value is compared with the
op's float64 numpy reference (itself stable: the registry's references subtract the max) and
the leaf gradients with central differences of that reference.

The finite-difference step here is absolute (``STEP``), not the harness's eps^(1/3) x |x|: at
|x| ~ 1e3 that step (~6e-3) would make the truncation error of a softmax's O(1) curvature
exceed the tolerance, while a 1e-6 step on 1e3 is still exact to ~1e-7 relative.  Inputs whose
reference is not finite are rejected (a region in the registry is chosen so that it is).
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np
from hypothesis import reject
from hypothesis import strategies as st

from conformance.checks import oracles as O
from conformance.checks.properties.base import Evidence, named, prop
from conformance.spec import shape_pool
from conformance.spec.ops import REGISTRY
from conformance.spec.programs import COTANGENTS, Node, Program, values

#: the central-difference step (absolute; see the module docstring)
STEP = 1e-6


def _has_stable(op: str) -> bool:
    return bool(REGISTRY[op].stable)


@st.composite
def _stable_program(draw: Any, op: str, dtype: str) -> Program:
    """The op alone on leaves (all requiring grad) drawn from one of its ``stable`` regions, with a cotangent."""
    spec = REGISTRY[op]
    sample = shape_pool.sample(spec, draw)  # spec.sample(draw), or its pool under --shapes N
    region = draw(st.sampled_from(spec.stable))
    nodes = []
    for i, shp in enumerate(sample.shapes):
        dom = region[i] if i < len(region) else (sample.domains[i] if sample.domains else spec.domain(i))
        nodes.append(Node(value=draw(values(dom, shp, dtype, salt=i)), requires_grad=True))
    nodes.append(Node(op, tuple(range(len(nodes))), dict(sample.params)))
    p = Program(nodes, len(nodes) - 1, dtype, None, op)
    with np.errstate(all="ignore"):
        shape = np.shape(p.evaluate()[p.output])
    return p.with_cotangent(draw(values(COTANGENTS, shape, dtype, salt=len(sample.shapes))))


def _strategy(ops: Sequence[str], dtype: str, available: frozenset[str] | None = None) -> Any:
    return _stable_program(ops[0], dtype)


def _numerical(p: Program) -> dict[int, np.ndarray]:
    """d objective / d leaf by central differences with the absolute step ``STEP``."""
    out: dict[int, np.ndarray] = {}
    for i in p.grad_leaves:
        x = p.nodes[i].value
        g = np.zeros_like(x)
        for k in np.ndindex(*x.shape) if x.ndim else [()]:
            xp, xm = x.copy(), x.copy()
            xp[k] += STEP
            xm[k] -= STEP
            g[k] = (p.objective({i: xp}) - p.objective({i: xm})) / (xp[k] - xm[k])
        out[i] = g
    return out


@prop("stability", family="gradients", oracles={"numpy", "numerical"}, applies=_has_stable, strategy=_strategy,
      cost=0.5)
def _check(A: Any, p: Program) -> Evidence:
    """Ops are finite and accurate at the large and tiny magnitudes their OpSpec declares (``stable``: logits of
    +-1e3, sigmoid/tanh at +-500, pow with large exponents), where naive formulas overflow or cancel.

    Forward values against the float64 numpy reference, leaf gradients against central differences of it.
    """
    with np.errstate(all="ignore"):
        expected_y = O.forward_reference(p)
        expected_g = _numerical(p)
    if not (np.all(np.isfinite(expected_y)) and all(np.all(np.isfinite(g)) for g in expected_g.values())):
        reject()  # the reference itself overflows here: not a question the engine can be asked
    ts, grads = p.backward(A)
    y = np.asarray(A.to_numpy(ts[p.output]), dtype=np.float64)
    c = O.compare({"output": expected_y}, {"output": y}, O.tolerance_for(p, "numpy"), "numpy")
    if not c.ok:
        return Evidence(False, f"forward: {c.message}", expected_y.tolist(), y.tolist(), c.max_abs, c.max_rel,
                        ["numpy"], p)
    exp = named(p, expected_g)
    obs = named(p, {i: grads[i] for i in expected_g})
    g = O.compare(exp, obs, O.tolerance_for(p, "numerical"), "numerical")
    jl = {k: (None if v is None else np.asarray(v).tolist()) for k, v in exp.items()}
    jo = {k: (None if v is None else np.asarray(v).tolist()) for k, v in obs.items()}
    return Evidence(g.ok, "" if g.ok else f"leaf grads: {g.message}", jl, jo, max(c.max_abs, g.max_abs),
                    max(c.max_rel, g.max_rel), ["numpy", "numerical"], p)
