"""Gradient values: vs numerical differentiation, vs torch float64, VJPs, forward, second order."""
from __future__ import annotations

from typing import Any

import numpy as np
from hypothesis import reject

from conformance.checks import oracles as O
from conformance.checks.properties.base import (Evidence, from_comparison, named, nonscalar_programs, prop,
                                                require_smooth)
from conformance.engines import adapter as caps
from conformance.spec.programs import Program


@prop("grad_vs_numerical", family="gradients", oracles={"numerical"}, cost=1.5)
def _grads_vs_numerical(A: Any, p: Program) -> Evidence:
    """Leaf gradients equal central differences of the float64 numpy forward."""
    require_smooth(p)
    _, grads = p.backward(A)
    leaves = p.grad_leaves
    tol = O.tolerance_for(p, "numerical")
    small = [i for i in leaves if p.nodes[i].value.size <= O.FULL_LIMIT]
    expected = O.numerical_grads(p, small)
    for i in leaves:  # large leaves: projections first, the full gradient only to explain a failure
        if i in expected:
            continue
        if not _agrees_along_directions(p, i, grads[i], tol):
            expected.update(O.numerical_grads(p, [i], full=True))
    obs = {i: grads[i] for i in leaves}
    exp = {i: expected[i] for i in leaves if i in expected}
    c = O.compare(named(p, exp), named(p, {i: obs[i] for i in exp}), tol, "numerical")
    if not c.ok:  # beyond the objective's rounding over the step, differences cannot tell (difference_rounding)
        rounding = O.difference_rounding(p)
        slack = {f"v{i}": rounding / (2 * O.step(p.nodes[i].value)) for i in exp}
        c = O.compare(named(p, exp), named(p, {i: obs[i] for i in exp}), tol, "numerical", slack)
    return from_comparison(c, named(p, exp), named(p, {i: obs[i] for i in exp}), "numerical", p, "leaf grads")


@prop("grad_vs_torch", family="gradients", oracles={"torch-float64"})
def _grad_vs_torch(A: Any, p: Program) -> Evidence:
    """Leaf gradients (and which leaves get None) equal torch float64 to ~1e-10 relative."""
    require_smooth(p)  # at a kink any subgradient is right, not only the one torch picks
    _, grads = p.backward(A)
    _, tgrads = O.torch_grads(p)
    c = O.compare(named(p, tgrads), named(p, grads), O.tolerance_for(p, "torch-float64"), "torch-float64")
    if not c.ok and _torch_wrong(p, grads, tgrads):
        reject()  # the oracle's own bug (docs/findings.md, PyTorch): not the engine's; grad_vs_numerical judges it
    return from_comparison(c, named(p, tgrads), named(p, grads), "torch-float64", p, "leaf grads")


def _torch_wrong(p: Program, grads: dict[int, Any], tgrads: dict[int, Any]) -> bool:
    """Whether torch's gradient is the wrong one: along random directions, central differences of
    the numpy forward agree with the engine's gradient on every leaf and not with torch's on some.

    torch is an engine with bugs of its own (a wrong gradient for some input layouts, for one); where
    it is wrong and the engine is right, a torch comparison would blame the engine.  Directions cost
    a few forward evaluations, so a wrong engine (torch agrees with the differences) costs little."""
    tol = O.tolerance_for(p, "numerical")
    torch_off = False
    for i in p.grad_leaves:
        g, t = grads.get(i), tgrads.get(i)
        if g is None or t is None or np.shape(g) != np.shape(t) or np.shape(t) != p.nodes[i].value.shape:
            return False  # a missing or misshapen gradient: not a question of values
        if not _agrees_along_directions(p, i, g, tol):
            return False
        torch_off = torch_off or not _agrees_along_directions(p, i, t, tol)
    return torch_off


def _agrees_along_directions(p: Program, leaf: int, grad: Any, tol: Any) -> bool:
    """Whether ``grad`` of ``leaf`` matches central differences along N_PROJECTIONS random sign directions
    (seeded by the leaf): a few forward evaluations, where the full gradient costs two per element."""
    rng = np.random.default_rng(leaf)
    dirs = [rng.choice([-1.0, 1.0], size=p.nodes[leaf].value.shape) for _ in range(O.N_PROJECTIONS)]
    exact = np.array(O.projected_derivatives(p, leaf, dirs))
    along = (np.array([float(np.sum(np.asarray(grad, dtype=np.float64) * d)) for d in dirs])
             if grad is not None and np.shape(grad) == dirs[0].shape else None)
    return O.compare({"p": exact}, {"p": along}, tol, "numerical").ok


@prop("vjp", family="gradients", oracles={"numerical"}, strategy=nonscalar_programs, cost=2.0)
def _vjp(A: Any, p: Program) -> Evidence:
    """backward(gradient=cotangent) of a non-scalar output gives the vector-Jacobian product.

    The same comparison as grad_vs_numerical, on programs whose output is not a scalar.
    """
    return _grads_vs_numerical(A, p)


@prop("forward", family="gradients", oracles={"numpy"})
def _forward(A: Any, p: Program) -> Evidence:
    """Forward values equal the numpy float64 reference, in the program's dtype.

    A float32 program's output must be float32: an op that silently computes and returns
    float64 changes every result downstream of it.
    """
    ts = p.run(A)
    out = A.to_numpy(ts[p.output])
    ref = O.forward_reference(p)
    if str(out.dtype) != p.dtype:
        return Evidence(False, f"forward output dtype {out.dtype}, expected {p.dtype} (the inputs' dtype)",
                        p.dtype, str(out.dtype), oracles=["numpy"], program=p)
    c = O.compare({"output": ref}, {"output": out}, O.tolerance_for(p, "numpy"), "numpy")
    return from_comparison(c, ref, out, "numpy", p, "forward value")


@prop("higher_order", family="gradients", capabilities={caps.HIGHER_ORDER, caps.FUNCTIONAL_GRAD},
      methods={"grad"}, oracles={"torch-float64", "numerical-2nd-order"}, helper_ops={"add", "sum", "mul"},
      dtypes=("float64",), cost=4.0)
def _hvp(A: Any, p: Program) -> Evidence:
    """create_graph=True then grad of <grad, w> equals the numerical Hessian-vector product.

    H @ w through create_graph=True + a second functional grad, vs the four-point stencil.
    """
    require_smooth(p)
    leaves = p.grad_leaves
    rng = np.random.default_rng(len(p.nodes))
    w = {i: rng.uniform(-1, 1, p.nodes[i].value.shape) for i in leaves}
    ts = p.run(A)
    cot = p.cotangent_tensor(A) if p.cotangent is not None else A.leaf(np.array(1.0), p.dtype, False)
    gs = A.grad([ts[p.output]], [ts[i] for i in leaves], [cot], create_graph=True)
    # first derivatives taken with create_graph=True must still be right
    _, tg = O.torch_grads(p)
    first_exp = {f"grad v{i}": tg[i] for i in leaves}
    first_obs = {f"grad v{i}": None if g is None else A.to_numpy(g) for g, i in zip(gs, leaves)}
    c1 = O.compare(first_exp, first_obs, O.tolerance_for(p, "torch-float64"), "torch-float64")
    if not c1.ok:
        return from_comparison(c1, first_exp, first_obs, "torch-float64", p, "first derivatives with create_graph")
    terms = [A.apply("sum", [A.apply("mul", [g, A.leaf(w[i], p.dtype, False)], {})], {"dim": None, "keepdim": False})
             for g, i in zip(gs, leaves) if g is not None and A.requires_grad(g)]
    if terms:
        s = terms[0]
        for t in terms[1:]:
            s = A.apply("add", [s, t], {})
        hv = A.grad([s], [ts[i] for i in leaves], [A.leaf(np.array(1.0), p.dtype, False)], allow_unused=True)
        obs = {i: (np.zeros_like(p.nodes[i].value) if h is None else A.to_numpy(h)) for i, h in zip(leaves, hv)}
    else:  # first derivatives do not depend on the inputs: the engine says H @ w = 0
        obs = {i: np.zeros_like(p.nodes[i].value) for i in leaves}
    exp = O.numerical_hvp(p, leaves, w)
    tol = O.tolerance_for(p, "numerical-2nd-order")
    c = O.compare(named(p, exp), named(p, obs), tol, "numerical-2nd-order")
    if not c.ok:  # within the stencil's own uncertainty it cannot tell
        c = O.compare(named(p, exp), named(p, obs), tol, "numerical-2nd-order",
                      named(p, O.hvp_uncertainty(p, leaves, w, exp)))
    return from_comparison(c, named(p, exp), named(p, obs), "numerical-2nd-order", p, "Hessian-vector product")
