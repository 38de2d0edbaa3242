"""Autograd semantics (op-independent, reported under ANY_OP): the leaf-only rule, requires_grad
contagion and freezing, retain_grad, freed graphs, accumulation, detach, implicit gradients."""
from __future__ import annotations

from dataclasses import replace
from typing import Any, Sequence

import numpy as np
from hypothesis import reject

from conformance.checks import oracles as O
from conformance.checks.properties.base import Evidence, from_comparison, named, prop, violations
from conformance.engines import adapter as caps
from conformance.spec.programs import Node, Program, any_program


def _flags(A: Any, p: Program, ts: list[Any]) -> list[str]:
    """is_leaf / requires_grad / grad_fn of every node, against the rules."""
    problems = []
    rg: list[bool] = []
    for i, n in enumerate(p.nodes):
        want = n.requires_grad if n.op is None else any(rg[j] for j in n.inputs)
        rg.append(want)
        t = ts[i]
        if _is_alias(p, ts, i):
            continue
        if A.requires_grad(t) != want:
            problems.append(f"v{i} ({n.op or 'leaf'}).requires_grad is {A.requires_grad(t)}, expected {want}")
        leaf = n.op is None or not want
        if A.is_leaf(t) != leaf:
            problems.append(f"v{i} ({n.op or 'leaf'}).is_leaf is {A.is_leaf(t)}, expected {leaf}")
        if (A.grad_fn_name(t) is None) != leaf:
            problems.append(f"v{i} ({n.op or 'leaf'}).grad_fn is {A.grad_fn_name(t)!r}, expected "
                            f"{'None' if leaf else 'a backward node'}")
    return problems


def _is_alias(p: Program, ts: list[Any], i: int) -> bool:
    """An op that returned its input object itself (torch.flatten(x, d, d) is x): the node is
    that input, and the rules apply to it there."""
    return p.nodes[i].op is not None and any(ts[i] is ts[j] for j in p.nodes[i].inputs)


def _with_unused_leaf(p: Program) -> Program:
    """p plus a leaf requiring grad that no node uses (appended last, so the output stays p's)."""
    return replace(p, nodes=p.nodes + [Node(value=p.nodes[p.leaves[0]].value.copy(), requires_grad=True)])


@prop("leaf_rule", family="semantics", per_op=False, methods={"grad_tensor"}, oracles={"rule"})
def _leaf_rule(A: Any, p: Program) -> Evidence:
    """requires_grad contagion, is_leaf, grad_fn; .grad only on leaves requiring grad that the output uses.

    Leaves requiring grad that the output depends on get .grad; frozen leaves and every
    non-leaf keep .grad None, and so does a leaf requiring grad that nothing uses -- backward()
    leaves it alone, with no error (engines that start every grad at zero give it zeros).
    """
    q = _with_unused_leaf(p)
    unused = len(q.nodes) - 1
    ts = q.run(A)
    problems = _flags(A, q, ts)
    try:
        A.backward(ts[q.output], q.cotangent_tensor(A))
    except Exception as e:  # noqa: BLE001 - blamed on the unused leaf only if p without it backpropagates
        ts_p = p.run(A)
        A.backward(ts_p[p.output], p.cotangent_tensor(A))  # raising here too: the engine's own error
        raised = (f"with leaf v{unused} requiring grad but unused by the output, backward() raised "
                  f"{type(e).__name__}({str(e)!r}); expected no error and v{unused}.grad None")
        return violations([*problems, raised], q)
    reached = q.output_ancestors()
    for i, n in enumerate(q.nodes):
        if _is_alias(q, ts, i):
            continue
        g = A.grad_tensor(ts[i])
        if n.op is None and n.requires_grad and i in reached:
            if g is None:
                problems.append(f"leaf v{i} requires grad but .grad is None; expected its gradient")
        elif n.op is None and n.requires_grad:
            if g is not None:
                problems.append(f"leaf v{i} requires grad but the output does not use it: .grad is "
                                f"{A.to_numpy(g).tolist()}, expected None")
        elif g is not None:
            problems.append(f"v{i} ({n.op or 'frozen leaf'}) has a .grad but is not a leaf requiring grad")
    return violations(problems, q)


@prop("retain_grad", family="semantics", per_op=False, capabilities={caps.RETAIN_GRAD}, methods={"retain_grad"},
      oracles={"torch-float64", "rule"})
def _retain_grad(A: Any, p: Program) -> Evidence:
    """retain_grad() gives the intermediates it is called on, and no other, their correct gradient.

    Retained grads of intermediates vs torch's, after one backward and -- when the engine can
    retain the graph -- after a second backward(retain_graph=True), where a retained grad
    accumulates as a leaf's does.  Then retain_grad() on one intermediate only: after backward
    it has .grad and every other intermediate, and the output, keep .grad None.  Nodes that are
    their input object itself (torch.flatten(x, d, d) returns x) are left out on either side:
    retaining there means retaining the input, whose grad sums every path, so the two engines
    legitimately differ.
    """
    ts = p.run(A)
    T = O.torch_adapter()
    tts = p.run(T, dtype="float64")
    chosen = [i for i in p.op_nodes if A.requires_grad(ts[i]) and not _is_alias(p, ts, i)
              and not _is_alias(p, tts, i)]
    for i in chosen:
        A.retain_grad(ts[i])
        T.retain_grad(tts[i])
    passes = ["retained intermediate grads"]
    if caps.RETAIN_GRAPH in A.capabilities:  # a second backward needs the graph kept by the first
        passes.append("retained intermediate grads after a second backward(retain_graph=True), which accumulate")
    keep = True if len(passes) == 2 else None
    tol = O.tolerance_for(p, "torch-float64")
    for what in passes:
        A.backward(ts[p.output], p.cotangent_tensor(A), retain_graph=keep)
        obs = {i: A.grad_of(ts[i]) for i in chosen}
        T.backward(tts[p.output], p.cotangent_tensor(T, "float64"), retain_graph=keep)
        exp = {i: T.grad_of(tts[i]) for i in chosen}
        c = O.compare(named(p, exp), named(p, obs), tol, "torch-float64")
        if not c.ok:
            return from_comparison(c, named(p, exp), named(p, obs), "torch-float64", p, what)
    return _retain_one_only(A, p, chosen) if chosen else violations([], p, "torch-float64")


def _retain_one_only(A: Any, p: Program, chosen: list[int]) -> Evidence:
    """retain_grad() on the first intermediate only: no other op result gets a .grad."""
    ts = p.run(A)
    one = chosen[0]
    A.retain_grad(ts[one])
    A.backward(ts[p.output], p.cotangent_tensor(A))
    problems = []
    if A.grad_of(ts[one]) is None:
        problems.append(f"v{one} ({p.nodes[one].op}): retain_grad() was called but .grad is None after backward; "
                        "expected its gradient")
    for i in p.op_nodes:
        g = None if i == one or _is_alias(p, ts, i) else A.grad_of(ts[i])
        if g is not None:
            role = "the output" if i == p.output else "an intermediate"
            problems.append(f"v{i} ({p.nodes[i].op}), {role} not retained, has .grad {g.tolist()} after "
                            f"retain_grad() on v{one} only; expected None")
    return violations(problems, p)


def _square_sum(p: Program) -> Program:
    """p extended by sum(out * out): a graph that certainly saves tensors for backward."""
    n = len(p.nodes)
    return p.extend([Node("mul", (p.output, p.output)), Node("sum", (n,), {"dim": None, "keepdim": False})], n + 1)


@prop("second_backward", family="semantics", per_op=False, capabilities={caps.RETAIN_GRAPH},
      oracles={"rule", "rule-repeat"}, helper_ops={"sum", "mul"})
def _second_backward(A: Any, p: Program) -> Evidence:
    """A second backward through a freed graph raises; with retain_graph=True it succeeds and accumulates."""
    q = _square_sum(p)
    ts = q.run(A)
    A.backward(ts[q.output])
    try:
        A.backward(ts[q.output])
    except Exception as e:  # noqa: BLE001 - the category is what matters
        if not A.is_autograd_error(e):
            return violations([f"second backward raised {type(e).__name__}, not the autograd error"], q)
    else:
        return violations(["second backward through a freed graph did not raise"], q)
    return _retain_graph_twice_rule(A, q)


def _retain_graph_twice_rule(A: Any, q: Program) -> Evidence:
    ts = q.run(A)
    A.backward(ts[q.output], retain_graph=True)
    g1 = {i: A.grad_of(ts[i]) for i in q.grad_leaves}
    A.backward(ts[q.output], retain_graph=True)
    g2 = {i: A.grad_of(ts[i]) for i in q.grad_leaves}
    exp = {i: None if g1[i] is None else 2 * g1[i] for i in g1}
    c = O.compare(named(q, exp), named(q, g2), O.tolerance_for(q, "rule-repeat"), "rule-repeat")
    return from_comparison(c, named(q, exp), named(q, g2), "rule-repeat", q,
                           "retain_graph=True backward twice accumulates")


@prop("accumulation", family="semantics", per_op=False, oracles={"rule-repeat"})
def _accumulation(A: Any, p: Program) -> Evidence:
    """Gradients accumulate in .grad across backward calls.

    Two forward passes over the same leaves, two backwards: .grad is the sum (=2x one pass).
    """
    leaves = {i: A.leaf(p.nodes[i].value, p.dtype, p.nodes[i].requires_grad) for i in p.leaves}
    ts = p.run(A, leaves=leaves)
    A.backward(ts[p.output], p.cotangent_tensor(A))
    g1 = {i: A.grad_of(leaves[i]) for i in p.grad_leaves}
    ts = p.run(A, leaves=leaves)
    A.backward(ts[p.output], p.cotangent_tensor(A))
    g2 = {i: A.grad_of(leaves[i]) for i in p.grad_leaves}
    exp = {i: None if g1[i] is None else 2 * g1[i] for i in g1}
    c = O.compare(named(p, exp), named(p, g2), O.tolerance_for(p, "rule-repeat"), "rule-repeat")
    return from_comparison(c, named(p, exp), named(p, g2), "rule-repeat", p, "grads accumulate across backward calls")


@prop("freezing", family="semantics", per_op=False, oracles={"rule-frozen"})
def _freezing(A: Any, p: Program) -> Evidence:
    """A frozen leaf gets no gradient and its consumers still work.

    Freezing one leaf: it gets no grad; the others' grads and the output do not change.
    """
    full = p.with_requires_grad({i: True for i in p.leaves})
    if len(full.leaves) < 2:
        reject()
    frozen = full.leaves[0]
    part = full.with_requires_grad({frozen: False})
    ts_a, ga = full.backward(A)
    ts_b, gb = part.backward(A)
    exp = dict(ga)
    exp[frozen] = None
    c = O.compare(named(p, exp), named(p, gb), O.tolerance_for(p, "rule-frozen"), "rule-frozen")
    return from_comparison(c, named(p, exp), named(p, gb), "rule-frozen", part, f"freezing v{frozen}")


@prop("detach", family="semantics", per_op=False, methods={"detach"}, oracles={"rule", "torch-float64"})
def _detach(A: Any, p: Program) -> Evidence:
    """detach() cuts gradient flow and gives a fresh leaf.

    Detaching an intermediate cuts its gradient flow: grads equal those of the program where
    it is a constant (torch float64 on the cut program).
    """
    ts0 = p.run(A)
    mids = [i for i in p.op_nodes if i != p.output and A.requires_grad(ts0[i])]
    if not mids:
        reject()
    j = mids[0]
    problems: list[str] = []
    seen: dict[str, Any] = {}

    def cut(t: Any) -> Any:
        d = A.detach(t)
        seen["d"] = d
        if A.requires_grad(d) or not A.is_leaf(d) or A.grad_fn_name(d) is not None:
            problems.append("detach() result requires grad / is not a leaf / has a grad_fn")
        if not np.array_equal(A.to_numpy(d), A.to_numpy(t)):
            problems.append("detach() changed the values")
        return d

    ts = p.run(A, transform={j: cut})
    q = p.cut(j)
    dep, got = _depends(q), A.requires_grad(ts[p.output])
    if dep != got:
        problems.append(f"after detaching v{j} the output requires_grad is {got}; expected {dep} "
                        f"({'another path remains' if dep else 'no path to a leaf remains'})")
    if problems or not dep:
        return violations(problems, p)
    A.backward(ts[p.output], p.cotangent_tensor(A))
    obs = {i: A.grad_of(ts[i]) for i in p.leaves}
    _, exp = O.torch_grads(q)
    exp = {i: exp.get(i) for i in p.leaves}
    c = O.compare(named(p, exp), named(p, obs), O.tolerance_for(p, "torch-float64"), "torch-float64")
    return from_comparison(c, named(p, exp), named(p, obs), "torch-float64", p, f"grads after detaching v{j}")


def _depends(q: Program) -> bool:
    T = O.torch_adapter()
    return bool(T.requires_grad(q.run(T, dtype="float64")[q.output]))


def _nonscalar_any(ops: Sequence[str], dtype: str, available: frozenset[str] | None = None) -> Any:
    return any_program(ops, dtype, scalar_output=False, available=available)


# a non-scalar output needs an n-d engine: for a scalar-only engine (micrograd) the rule does not apply
@prop("implicit_nonscalar", family="semantics", per_op=False, capabilities={caps.ND}, oracles={"rule"},
      strategy=_nonscalar_any)
def _implicit_nonscalar(A: Any, p: Program) -> Evidence:
    """backward() without gradient on a non-scalar output raises."""
    ts = p.run(A)
    if A.to_numpy(ts[p.output]).size < 2:
        reject()
    try:
        A.backward(ts[p.output])
    except Exception as e:  # noqa: BLE001
        if A.is_autograd_error(e):
            return violations([], p)
        return violations([f"backward() of a non-scalar raised {type(e).__name__}, not the autograd error"], p)
    return violations(["backward() without gradient on a non-scalar output did not raise"], p)
