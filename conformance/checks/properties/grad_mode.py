"""Grad mode (op-independent): no_grad, enable_grad nested in it, set_grad_enabled, the
decorator form, and restoration of the mode after an exception raised inside a block."""
from __future__ import annotations

from typing import Any

import numpy as np

from conformance.checks import oracles as O
from conformance.checks.properties.base import Evidence, from_comparison, named, prop, violations
from conformance.engines import adapter as caps
from conformance.spec.programs import Program

_NG = {caps.NO_GRAD}
_F64 = ("float64",)


class _Boom(Exception):
    pass


def _untracked(A: Any, p: Program, ts: list[Any], where: str) -> list[str]:
    """No op result built with grad disabled has a grad_fn.

    requires_grad itself is not checked: in torch, a *view* (reshape, transpose, x[...])
    of a leaf requiring grad, taken under no_grad, still reports requires_grad=True
    (with no grad_fn), so "untracked" means "no grad_fn".
    """
    return [f"{where}: v{i} ({p.nodes[i].op}) has grad_fn {A.grad_fn_name(ts[i])!r}" for i in p.op_nodes
            if A.grad_fn_name(ts[i]) is not None]


@prop("no_grad", family="grad_mode", per_op=False, capabilities=_NG, methods={"no_grad", "is_grad_enabled"},
      oracles={"rule"}, helper_ops={"mul", "sum"}, dtypes=_F64)
def _no_grad(A: Any, p: Program) -> Evidence:
    """Nothing is tracked under no_grad, not even once used in a graph later; the mode is restored.

    The program's output, computed under no_grad, then feeds a tracked graph (sum(out * w), w a
    fresh leaf requiring grad): after that graph's backward no result computed under no_grad
    has a .grad or a grad_fn, and no leaf of the program received a gradient through it.
    """
    problems = []
    with A.no_grad():
        if A.is_grad_enabled():
            problems.append("is_grad_enabled() is True inside no_grad")
        ts = p.run(A)
    problems += _untracked(A, p, ts, "under no_grad")
    if not A.is_grad_enabled():
        problems.append("grad mode not restored after no_grad")
    if problems:
        return violations(problems, p)
    return violations(_used_after_no_grad(A, p, ts), p)


def _used_after_no_grad(A: Any, p: Program, ts: list[Any]) -> list[str]:
    # an op that returned its input object itself (torch.flatten(x, d, d) is x) computed nothing
    computed = [i for i in p.op_nodes if not any(ts[i] is ts[j] for j in range(i))]
    if p.output not in computed:
        return []
    out = ts[p.output]
    w = A.leaf(np.ones(A.to_numpy(out).shape), p.dtype, True)
    A.backward(A.apply("sum", [A.apply("mul", [out, w], {})], {"dim": None, "keepdim": False}))
    problems = []
    for i in computed:
        g = A.grad_of(ts[i])
        if g is not None:
            problems.append(f"v{i} ({p.nodes[i].op}), computed under no_grad and then used in a graph, has .grad "
                            f"{g.tolist()} after that graph's backward; expected None")
    if A.grad_fn_name(out) is not None:
        problems.append(f"v{p.output} ({p.nodes[p.output].op}), computed under no_grad, has grad_fn "
                        f"{A.grad_fn_name(out)!r} after being used in a graph; expected None")
    for i in p.leaves:
        g = A.grad_of(ts[i])
        if g is not None:
            problems.append(f"leaf v{i} has .grad {g.tolist()} through a result computed under no_grad; "
                            "expected None")
    return problems


@prop("enable_grad_nested", family="grad_mode", per_op=False, capabilities=_NG,
      methods={"no_grad", "enable_grad", "is_grad_enabled"}, oracles={"rule", "torch-float64"}, dtypes=_F64)
def _enable_nested(A: Any, p: Program) -> Evidence:
    """enable_grad inside no_grad tracks, correctly; modes restore.

    enable_grad inside no_grad tracks again, with correct grads; each exit restores its mode.
    """
    problems = []
    with A.no_grad():
        with A.enable_grad():
            if not A.is_grad_enabled():
                problems.append("is_grad_enabled() False inside enable_grad")
            ts = p.run(A)
        if A.is_grad_enabled():
            problems.append("leaving enable_grad did not restore no_grad")
        untracked = p.run(A)
    problems += _untracked(A, p, untracked, "no_grad after a nested enable_grad")
    if not A.is_grad_enabled():
        problems.append("grad mode not restored after no_grad")
    if problems:
        return violations(problems, p)
    A.backward(ts[p.output], p.cotangent_tensor(A))  # backward outside any block
    obs = {i: A.grad_of(ts[i]) for i in p.leaves}
    _, exp = O.torch_grads(p)
    c = O.compare(named(p, exp), named(p, obs), O.tolerance_for(p, "torch-float64"), "torch-float64")
    return from_comparison(c, named(p, exp), named(p, obs), "torch-float64", p, "grads of a graph built in enable_grad")


@prop("set_grad_enabled", family="grad_mode", per_op=False, capabilities=_NG,
      methods={"set_grad_enabled", "is_grad_enabled"}, oracles={"rule"}, dtypes=_F64)
def _set_grad_enabled(A: Any, p: Program) -> Evidence:
    """set_grad_enabled(False/True) switch tracking and restore."""
    problems = []
    with A.set_grad_enabled(False):
        if A.is_grad_enabled():
            problems.append("set_grad_enabled(False) left grad enabled")
        ts = p.run(A)
        with A.set_grad_enabled(True):
            tracked = p.run(A)
        if A.is_grad_enabled():
            problems.append("leaving set_grad_enabled(True) did not restore False")
    problems += _untracked(A, p, ts, "under set_grad_enabled(False)")
    if p.grad_leaves and not A.requires_grad(tracked[p.output]):
        problems.append("set_grad_enabled(True) inside False did not track")
    if not A.is_grad_enabled():
        problems.append("grad mode not restored after set_grad_enabled(False)")
    return violations(problems, p)


@prop("no_grad_decorator", family="grad_mode", per_op=False, capabilities={caps.NO_GRAD, caps.GRAD_MODE_DECORATOR},
      methods={"no_grad_decorator", "is_grad_enabled"}, oracles={"rule"}, dtypes=_F64)
def _decorator(A: Any, p: Program) -> Evidence:
    """@no_grad() on a function disables tracking inside it only."""
    problems = []
    ts = A.no_grad_decorator(lambda: p.run(A))()
    problems += _untracked(A, p, ts, "inside a @no_grad() function")
    if not A.is_grad_enabled():
        problems.append("grad mode not restored after a @no_grad() function returned")
    return violations(problems, p)


@prop("grad_mode_exception", family="grad_mode", per_op=False, capabilities=_NG,
      methods={"no_grad", "enable_grad", "set_grad_enabled", "is_grad_enabled"}, oracles={"rule"}, dtypes=_F64)
def _restore_after_exception(A: Any, p: Program) -> Evidence:
    """Grad mode is restored when an exception leaves a block."""
    problems = []
    for name, make in [("no_grad", A.no_grad), ("set_grad_enabled(False)", lambda: A.set_grad_enabled(False))]:
        try:
            with make():
                p.run(A)
                raise _Boom()
        except _Boom:
            pass
        if not A.is_grad_enabled():
            problems.append(f"grad mode not restored after an exception inside {name}")
            break
    with A.no_grad():
        try:
            with A.enable_grad():
                raise _Boom()
        except _Boom:
            pass
        if A.is_grad_enabled():
            problems.append("no_grad not restored after an exception inside a nested enable_grad")
    if not A.is_grad_enabled():
        problems.append("grad mode not restored at the end")
    ts = p.run(A)  # and tracking still works afterwards
    if p.grad_leaves and not A.requires_grad(ts[p.output]):
        problems.append("graphs are no longer tracked after the exceptions")
    return violations(problems, p)
