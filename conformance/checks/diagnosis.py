"""Diagnosis: which node of a failing program is wrong, and whose fault a failure is.

A property fails on a whole program: the focus op wrapped in glue (add, mul, sum, tanh,
transpose).  The shrinker cannot remove glue, so without diagnosis an engine whose ``add``
drops the broadcast reduction fails forty ops' cells.  ``culprit`` re-checks each op node
of the failing program alone, on the inputs it had there, in topological order:

* forward: output shape, dtype and values vs the registry's numpy reference;
* backward of a fixed cotangent: each gradient's None-ness, shape, dtype and values vs
  torch float64 (central differences for ops torch lacks).

The first node wrong alone is the culprit; the failure is filed under its op.  When no node
is wrong alone the failure stays where it was, as an interaction.

``fault_of`` says who raised an exception: the engine, its adapter (a programming error in
the adapter's own code, or a broken Adapter contract), or the harness (please report).
"""
from __future__ import annotations

import inspect
import os
import traceback
from dataclasses import dataclass
from typing import Any

import numpy as np
from hypothesis.errors import UnsatisfiedAssumption

from conformance.checks import oracles as O
from conformance.checks.properties.base import differentiable, outside_hypothesis
from conformance.engines.contract import AdapterContractError, WrongResultError
from conformance.spec.dtypes import HALF_DTYPES
from conformance.spec.ops import REGISTRY
from conformance.spec.programs import KINK_MARGIN, NP_DTYPES, Node, Program

_HARNESS_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # conformance/
_SHIPPED_ADAPTERS = os.path.join(_HARNESS_DIR, "engines")
#: exceptions that, raised in an adapter's own code, are bugs of the adapter rather than the engine
_PROGRAMMING_ERRORS = (TypeError, AttributeError, KeyError, NameError, NotImplementedError, IndexError)


@dataclass(frozen=True)
class Verdict:
    """A node found wrong alone: which, what is wrong in words, and the numbers of this instance."""

    node: int
    op: str
    signature: str  # the same words for every instance of the bug: the finding's grouping key
    message: str  # this instance: the numbers
    fault: str = "engine"
    rule: str | None = None  # set when every op shows it (a dtype or .grad rule of the engine, not one op)


def culprit(adapter: Any, p: Program) -> Verdict | None:
    """The first op node of ``p`` (topological order) that is wrong on its own inputs, or None.

    Never raises: a node the harness cannot judge (its reference or torch refuses the
    inputs, or the adapter ``reject()``s them as inexpressible on its engine) is skipped.
    """
    if p.dtype in HALF_DTYPES:  # the op alone already (properties/half.py), judged by a derived bound, not the table
        return None
    try:
        values = p.evaluate()
    except Exception:  # noqa: BLE001 - no reference values: nothing to judge nodes against
        return None
    needs = _requires_grad(p)
    with outside_hypothesis():  # an adapter's reject() here means "skip this node"
        for i in p.op_nodes:
            v = _check_node(adapter, p, i, values, needs)
            if v is not None:
                return _engine_wide(adapter, v, p.dtype)
    return None


#: signatures about dtypes and gradient bookkeeping: an engine may get these wrong for every op at once
_STRUCTURAL = ("input gets a", "inputs give a", "no gradient for an input")
#: simple ops to probe with; the first the engine has that is not the culprit is used
_PROBES = ("mul", "add", "neg", "sin")


def _engine_wide(adapter: Any, v: Verdict, dtype: str) -> Verdict:
    """A structural verdict that a simple, different op shows too is the engine's rule, not the op's.

    A float32 leaf getting a float64 gradient from every op is one engine-wide bug (grad
    dtype), not a bug of each op the programs happened to draw."""
    if not any(k in v.signature for k in _STRUCTURAL):
        return v
    probe = next((o for o in _PROBES if o != v.op and o in REGISTRY and _has(adapter, o)), None)
    if probe is None:
        return v
    arity = REGISTRY[probe].arity
    leaves = [Node(value=np.array([0.5, 1.5]) + k, requires_grad=True) for k in range(arity)]
    q = Program(leaves + [Node(probe, tuple(range(arity)))], arity, dtype, None, probe)
    other = _check_node(adapter, q, arity, q.evaluate(), _requires_grad(q))
    if other is not None and other.signature == v.signature:
        rule = "forward" if "inputs give a" in v.signature else "grad_dtype_shape"
        return Verdict(v.node, v.op, v.signature, f"{v.message} (and {probe} too: every op)", v.fault, rule)
    return v


def _has(adapter: Any, op: str) -> bool:
    try:
        return bool(adapter.has_op(op))
    except Exception:  # noqa: BLE001
        return False


def node_program(p: Program, i: int, values: list[np.ndarray], needs: list[bool]) -> Program:
    """Node ``i`` of ``p`` alone: its distinct inputs as leaves (values as in ``p``), a fixed cotangent."""
    n = p.nodes[i]
    distinct = list(dict.fromkeys(n.inputs))
    npdt = NP_DTYPES[p.dtype]
    leaves = [Node(value=np.asarray(values[j]).astype(npdt).astype(np.float64), requires_grad=needs[j])
              for j in distinct]
    node = Node(n.op, tuple(distinct.index(j) for j in n.inputs), dict(n.params))
    single = Program(leaves + [node], len(leaves), p.dtype, None, n.op)
    shape = np.shape(single.evaluate()[-1])
    # a fixed, uneven cotangent: a wrong reduction or transpose cannot hide behind symmetric ones
    cot = np.linspace(-1.0, 1.25, num=int(np.prod(shape)) or 1)[: int(np.prod(shape))].reshape(shape)
    return single.with_cotangent(cot.astype(npdt).astype(np.float64))


def _requires_grad(p: Program) -> list[bool]:
    out: list[bool] = []
    for n in p.nodes:
        out.append(n.requires_grad if n.op is None
                   else differentiable(n.op) and any(out[j] for j in n.inputs))
    return out


def _check_node(adapter: Any, p: Program, i: int, values: list[np.ndarray], needs: list[bool]) -> Verdict | None:
    op = p.nodes[i].op
    assert op is not None
    try:
        q = node_program(p, i, values, needs)
    except Exception:  # noqa: BLE001 - the reference refuses these inputs: not ours to judge
        return None
    ref = q.evaluate()[-1]

    def wrong(signature: str, message: str, fault: str = "engine") -> Verdict:
        return Verdict(i, op, signature, f"{op} alone on v{i}'s inputs: {message}", fault)

    try:
        ts = q.run(adapter)
        out = adapter.to_numpy(ts[-1])
    except UnsatisfiedAssumption:  # the adapter cannot express the node alone (e.g. a Value exponent)
        return None
    except Exception as e:  # noqa: BLE001 - the op raising on its own inputs is the finding
        return wrong(f"raises {type(e).__name__}", _exc(e), fault_of(adapter, e))
    bad = _forward(q, out, ref)
    if bad:
        return wrong(*bad)
    if not any(q.nodes[k].requires_grad for k in q.leaves) or not differentiable(op):
        return None  # nothing to differentiate (a comparison's bool result carries no gradient)
    try:
        adapter.backward(ts[-1], q.cotangent_tensor(adapter))
        grads = {k: adapter.grad_of(ts[k]) for k in q.grad_leaves}
    except UnsatisfiedAssumption:
        return None
    except Exception as e:  # noqa: BLE001
        return wrong(f"backward raises {type(e).__name__}", _exc(e), fault_of(adapter, e))
    bad = _gradients(q, grads)
    return wrong(*bad) if bad else None


def _forward(q: Program, out: Any, ref: np.ndarray) -> tuple[str, ...] | None:
    """(signature, message[, fault]) when the node's forward is wrong."""
    if not isinstance(out, np.ndarray):
        return "to_numpy returned a non-array", f"to_numpy gave {type(out).__name__}", "adapter"
    if out.shape != ref.shape:
        return ("output has the wrong shape",
                f"output shape {out.shape}, expected {ref.shape} (numpy reference)")
    want = getattr(REGISTRY.get(q.focus), "result_dtype", None) or q.dtype  # a comparison's result is bool whatever its inputs
    if str(out.dtype) != want:
        kind = f"{q.dtype} inputs give a {out.dtype} output" + ("" if want == q.dtype else f", not {want}")
        return (kind, f"output dtype {out.dtype}, expected {want}")
    if want == "bool":  # exact: a mask is right or wrong
        same = np.array_equal(out, ref.astype(bool))
        want_mask = ref.astype(bool).tolist()
        return None if same else ("forward values wrong", f"got {out.tolist()!r}, expected {want_mask!r}")
    c = O.compare({"output": ref}, {"output": out}, O.tolerance_for(q, "numpy"), "numpy")
    return None if c.ok else ("forward values wrong", c.message)


def _gradients(q: Program, grads: dict[int, Any]) -> tuple[str, ...] | None:
    shape_out = np.shape(q.evaluate()[-1])
    for k, g in grads.items():
        leaf = q.nodes[k].value
        if g is None:
            return ("no gradient for an input that requires grad", f"v{k}.grad is None")
        if g.shape != leaf.shape:
            reduced = np.broadcast_shapes(leaf.shape, shape_out) == g.shape if _broadcastable(leaf, shape_out) else False
            what = "gradient not reduced over broadcast dims" if reduced else "gradient has the wrong shape"
            return (what, f"v{k}.grad shape {g.shape}, expected the input's shape {leaf.shape}")
        if str(g.dtype) != q.dtype:
            return (f"{q.dtype} input gets a {g.dtype} gradient", f"v{k}.grad dtype {g.dtype}")
    expected, oracle = _expected_grads(q)
    if expected is None:
        return None
    c = O.compare({f"v{k}": expected[k] for k in grads}, {f"v{k}": grads[k] for k in grads},
                  O.tolerance_for(q, oracle), oracle)
    return None if c.ok else ("gradient values wrong", c.message)


def _broadcastable(leaf: np.ndarray, shape: tuple[int, ...]) -> bool:
    try:
        np.broadcast_shapes(leaf.shape, shape)
    except ValueError:
        return False
    return True


def _expected_grads(q: Program) -> tuple[dict[int, Any] | None, str]:
    """Gradients from torch float64 where torch has the op, else central differences (away from kinks)."""
    spec = REGISTRY.get(q.focus)
    if spec is not None and spec.torch_equivalent:
        try:
            return O.torch_grads(q)[1], "torch-float64"
        except Exception:  # noqa: BLE001 - no torch, or torch refuses: fall back to numerics
            pass
    if q.kink_distance() < KINK_MARGIN:
        return None, "numerical"
    return O.numerical_grads(q), "numerical"


def _exc(e: BaseException) -> str:
    return f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"[:300]


_HYPOTHESIS_DIR = os.path.dirname(os.path.abspath(inspect.getfile(UnsatisfiedAssumption)))


def rejected_by_adapter(exc: UnsatisfiedAssumption) -> bool:
    """Whether a ``reject()`` came from the adapter or engine (inputs it cannot express), not
    from the harness's own assumptions: the innermost frame outside hypothesis decides."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__)
              if not os.path.abspath(f.filename).startswith(_HYPOTHESIS_DIR)]
    if not frames:
        return False
    where = os.path.abspath(frames[-1].filename)
    return not where.startswith(_HARNESS_DIR) or where.startswith(_SHIPPED_ADAPTERS)


def fault_of(adapter: Any, exc: BaseException) -> str:
    """Who raised ``exc``: "harness", "adapter" or "engine" (see docs/results.md, "Whose fault").

    The innermost frame decides: harness code (oracles, properties, programs) is the harness;
    a broken Adapter contract, or a programming error (TypeError, KeyError...) raised in the
    adapter's own module or a shipped adapter, is the adapter; anything else -- the engine's
    own code, numpy underneath it -- is the engine.
    """
    if isinstance(exc, WrongResultError):
        return "engine"
    if isinstance(exc, AdapterContractError):
        return "adapter"
    if isinstance(exc, O.OracleError):
        return "harness"
    frames = traceback.extract_tb(exc.__traceback__)
    if not frames:
        return "engine"
    where = os.path.abspath(frames[-1].filename)
    inner = getattr(adapter, "_inner", adapter)
    try:
        own = os.path.abspath(inspect.getfile(type(inner)))
    except (TypeError, OSError):  # an adapter class defined in a notebook or at the prompt
        own = ""
    if where.startswith(_HARNESS_DIR) and not where.startswith(_SHIPPED_ADAPTERS):
        return "harness"
    if (where == own or where.startswith(_SHIPPED_ADAPTERS)) and isinstance(exc, _PROGRAMMING_ERRORS):
        return "adapter"
    return "engine"

