"""A stateful rule test: random interleavings of building, retain_grad, no_grad blocks,
detach, backward (retained or not), second backward and .grad resets, run in lockstep on
the engine and on torch float64, comparing every observable after every step.

The action list is drawn by hypothesis (so it shrinks to a minimal interleaving); each
action is interpreted against the current state, and invalid ones are skipped.  When
both engines raise (e.g. a second backward through a freed graph) the run stops there,
since how far a failing backward got is unspecified.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np
from hypothesis import strategies as st

from conformance.checks import oracles as O
from conformance.checks.properties.base import Evidence, prop
from conformance.engines import adapter as caps
from conformance.spec.tolerances import tolerance

SHAPE = (2, 3)
_OPS = ("add", "mul", "sin", "tanh", "sum")

_action = st.one_of(
    st.tuples(st.just("leaf"), st.booleans(), st.integers(0, 2**16)),
    st.tuples(st.just("op"), st.sampled_from(_OPS), st.integers(0, 99), st.integers(0, 99), st.booleans()),
    st.tuples(st.just("retain_grad"), st.integers(0, 99)),
    st.tuples(st.just("detach"), st.integers(0, 99)),
    st.tuples(st.just("backward"), st.integers(0, 99), st.booleans(), st.integers(0, 2**16)),
    st.tuples(st.just("zero_grad"), st.integers(0, 99)),
)


class _Script(list):
    """A list of actions; ``to_script`` so failures carry a readable reproducer."""

    focus = "*"

    def to_script(self, engine: str, dtype: str | None = None) -> str:
        return "# stateful action list (interpreted by conformance.properties.stateful):\n" + "\n".join(
            f"# {a!r}" for a in self) + "\n"


def _strategy(ops: Sequence[str], dtype: str, available: frozenset[str] | None = None) -> Any:
    return st.lists(_action, min_size=1, max_size=20).map(lambda acts: _Script([("leaf", True, 0)] + acts))


def _do(A: Any, ts: list[Any], act: tuple, dtype: str) -> None:
    kind = act[0]
    if kind == "leaf":
        ts.append(A.leaf(np.random.default_rng(act[2]).uniform(-1.5, 1.5, SHAPE), dtype, act[1]))
    elif kind == "op":
        _, op, i, j, tracked = act
        a, b = ts[i % len(ts)], ts[j % len(ts)]
        call = (lambda: A.apply(op, [a, b], {})) if op in ("add", "mul") else (
            (lambda: A.apply("sum", [a], {"dim": None, "keepdim": False})) if op == "sum" else
            (lambda: A.apply(op, [a], {})))
        if tracked:
            ts.append(call())
        else:
            with A.no_grad():
                ts.append(call())
    elif kind == "retain_grad":
        t = ts[act[1] % len(ts)]
        if A.requires_grad(t):
            A.retain_grad(t)
    elif kind == "detach":
        ts.append(A.detach(ts[act[1] % len(ts)]))
    elif kind == "backward":
        t = ts[act[1] % len(ts)]
        shape = A.to_numpy(t).shape
        cot = A.leaf(np.random.default_rng(act[3]).normal(size=shape), dtype, False)
        A.backward(t, cot, retain_graph=act[2])
    elif kind == "zero_grad":
        t = ts[act[1] % len(ts)]
        if A.is_leaf(t):
            A.zero_grad(t)


def _observe(A: Any, ts: list[Any]) -> list[tuple]:
    return [(A.requires_grad(t), A.is_leaf(t), A.grad_fn_name(t) is None, A.to_numpy(t), A.grad_of(t)) for t in ts]


@prop("stateful_vs_torch", family="semantics", per_op=False,
      capabilities={caps.NO_GRAD, caps.RETAIN_GRAD, caps.RETAIN_GRAPH},
      methods={"no_grad", "retain_grad", "detach", "zero_grad"}, oracles={"torch-float64-lockstep"},
      helper_ops=set(_OPS) | {"sin"}, dtypes=("float64",), strategy=_strategy, cost=0.5)
def _check(A: Any, script: _Script) -> Evidence:
    """Random interleavings of build / retain_grad / no_grad / detach / backward / second backward / grad reset
    behave exactly like torch."""
    T = O.torch_adapter()
    dtype = "float64"
    te, tt = [], []
    log = []
    for k, act in enumerate(script):
        if act[0] == "backward" and not T.requires_grad(tt[act[1] % len(tt)]):
            continue  # backward of a constant: not an interesting interleaving
        errs = []
        for adapter, ts in ((A, te), (T, tt)):
            try:
                _do(adapter, ts, act, dtype)
                errs.append(None)
            except Exception as e:  # noqa: BLE001
                if not adapter.is_autograd_error(e):
                    raise
                errs.append(type(e).__name__)
        log.append(f"step {k}: {act!r}")
        if (errs[0] is None) != (errs[1] is None):
            return _fail(script, log, f"engine {'raised ' + errs[0] if errs[0] else 'did not raise'}, "
                                      f"torch {'raised ' + errs[1] if errs[1] else 'did not raise'}")
        if errs[0] is not None:
            break
        for n, (e, t) in enumerate(zip(_observe(A, te), _observe(T, tt))):
            what = _diff(e, t)
            if what:
                return _fail(script, log, f"after step {k}, tensor {n}: {what}")
    return Evidence(True, oracles=["torch-float64-lockstep"])


def _diff(e: tuple, t: tuple) -> str:
    names = ("requires_grad", "is_leaf", "grad_fn is None")
    for name, a, b in zip(names, e[:3], t[:3]):
        if a != b:
            return f"{name} is {a}, torch says {b}"
    c = O.compare({"value": t[3], "grad": t[4]}, {"value": e[3], "grad": e[4]},
                  tolerance("torch-float64-lockstep", "float64"), "torch-float64-lockstep")
    return "" if c.ok else c.message


def _fail(script: _Script, log: list[str], msg: str) -> Evidence:
    return Evidence(False, msg, "torch's behaviour", msg, oracles=["torch-float64-lockstep"],
                    program=script)  # type: ignore[arg-type]
