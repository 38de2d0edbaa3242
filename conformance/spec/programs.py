"""Programs: small DAGs over registry ops, the unit every property runs.

A Program is a list of nodes in topological order (leaves and op applications),
one output, a dtype, and an optional cotangent (None = scalar output, implicit
``backward()``).  The hypothesis strategy ``programs(op, dtype)`` builds programs
focused on one op and shaped to reach classic engine bugs:

* broadcasting inputs (gradients must be reduced back to the leaf's shape);
* the same node as both operands of an op, and intermediates with several
  consumers (gradient contributions must be summed, not overwritten);
* leaves that do not require grad, and constants;
* non-contiguous inputs (a transposed leaf transposed back);
* scalar outputs and non-scalar outputs with a random cotangent.

The same Program runs on any adapter (``run``), evaluates in float64 numpy
(``evaluate``, the numerical oracle's forward), and prints as a standalone script
(``to_script``) that reproduces the engine's values.
"""
from __future__ import annotations

import json
import pickle
from dataclasses import dataclass, field, replace
from typing import Any, Sequence

import numpy as np
from hypothesis import strategies as st

from conformance.spec import shape_pool
from conformance.spec.dtypes import NP_DTYPES
from conformance.spec.ops import REGISTRY
from conformance.spec.opspec import Domain, literal

#: samples whose op inputs lie closer than this to a kink are discarded (finite differences reach ~1e-4)
KINK_MARGIN = 1e-3


@dataclass
class Node:
    """A leaf (``op is None``; ``value`` float64 array already rounded to the program dtype) or an op."""

    op: str | None = None
    inputs: tuple[int, ...] = ()
    params: dict[str, Any] = field(default_factory=dict)
    value: np.ndarray | None = None
    requires_grad: bool = False

    def __post_init__(self) -> None:
        if self.value is not None:  # 0-d arithmetic yields numpy scalars; keep real arrays
            self.value = np.array(self.value, dtype=np.float64)


def _packed(a: np.ndarray | None) -> tuple[bytes, str, tuple[int, ...]] | None:
    return None if a is None else (np.ascontiguousarray(a).tobytes(), a.dtype.str, a.shape)


def _unpacked(packed: tuple[bytes, str, tuple[int, ...]] | None) -> np.ndarray | None:
    return None if packed is None else np.frombuffer(packed[0], dtype=packed[1]).reshape(packed[2]).copy()


def _unpickled(nodes: list[tuple[Any, ...]], output: int, dtype: str, cotangent: Any, focus: str) -> "Program":
    return Program([Node(op, inputs, params, _unpacked(value), rg) for op, inputs, params, value, rg in nodes],
                   output, dtype, _unpacked(cotangent), focus)


@dataclass
class Program:
    nodes: list[Node]
    output: int
    dtype: str
    cotangent: np.ndarray | None
    focus: str
    # a program never written to that this one is a copy of: its pickle serves (see ``pickled``)
    _pickle_source: "Program | None" = field(default=None, init=False, repr=False, compare=False)
    _pickle: bytes | None = field(default=None, init=False, repr=False, compare=False)

    # -- structure -------------------------------------------------------------------
    @property
    def leaves(self) -> list[int]:
        return [i for i, n in enumerate(self.nodes) if n.op is None]

    @property
    def grad_leaves(self) -> list[int]:
        return [i for i, n in enumerate(self.nodes) if n.op is None and n.requires_grad]

    @property
    def op_nodes(self) -> list[int]:
        return [i for i, n in enumerate(self.nodes) if n.op is not None]

    def output_ancestors(self) -> set[int]:
        """The nodes the output is computed from, itself included: the only ones backward reaches."""
        return _ancestors(self.nodes, self.output)

    def ops_used(self) -> set[str]:
        return {n.op for n in self.nodes if n.op is not None}

    def copy(self, pristine: bool = False) -> "Program":
        """A copy with arrays of its own: an engine that writes into its inputs changes only this one.

        ``pristine``: this program is never written to (a shared draw's), so the copy's ``pickled`` is its."""
        nodes = [Node(n.op, n.inputs, dict(n.params), n.value, n.requires_grad) for n in self.nodes]  # Node copies
        new = Program(nodes, self.output, self.dtype, None if self.cotangent is None else self.cotangent.copy(),
                      self.focus)
        if pristine:
            new._pickle_source = self
        return new

    def pickled(self) -> bytes:
        """``pickle.dumps(self)`` as it is now; the same bytes for every pristine copy of one program.

        A worker pickles every example before it runs it (runner/progress.py), and a shared draw's example
        is run by each property that shares it: pickled once, not once per property."""
        source = self._pickle_source
        if source is None:
            return pickle.dumps(self)
        if source._pickle is None:
            source._pickle = pickle.dumps(source)
        return source._pickle

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        """Pickled as raw bytes (~7 us, not numpy's ~70 us): a worker pickles every example it runs, to
        its parent, before running it (runner/workers.py)."""
        return _unpickled, ([(n.op, n.inputs, n.params, _packed(n.value), n.requires_grad) for n in self.nodes],
                            self.output, self.dtype, _packed(self.cotangent), self.focus)

    def with_requires_grad(self, flags: dict[int, bool]) -> "Program":
        nodes = [replace(n, requires_grad=flags.get(i, n.requires_grad)) for i, n in enumerate(self.nodes)]
        return replace(self, nodes=nodes)

    def with_cotangent(self, cot: np.ndarray | None) -> "Program":
        return replace(self, cotangent=cot)

    # -- numpy -----------------------------------------------------------------------
    def evaluate(self, values: dict[int, np.ndarray] | None = None,
                 base: list[np.ndarray] | None = None) -> list[np.ndarray]:
        """Forward pass in float64 numpy (the registry references); ``values`` overrides leaves, or ops' results
        (the nodes after an overridden op see the given value).

        ``base``: this program's ``evaluate()``, whose values serve the nodes that no overridden one reaches
        (the same numbers: a central difference moves one leaf, and need not recompute the others' ops)."""
        out: list[np.ndarray] = []
        moved: set[int] = set()
        for i, n in enumerate(self.nodes):
            if values is not None and i in values:
                out.append(np.asarray(values[i], dtype=np.float64))
                moved.add(i)
            elif base is not None and not any(j in moved for j in n.inputs):
                out.append(base[i])
            elif n.op is None:
                out.append(np.asarray(n.value, dtype=np.float64))
            else:
                out.append(np.asarray(REGISTRY[n.op].reference(*(out[j] for j in n.inputs), **n.params),
                                      dtype=np.float64))
                moved.add(i)
        return out

    def objective(self, values: dict[int, np.ndarray] | None = None, base: list[np.ndarray] | None = None) -> float:
        """The scalar whose gradient backward computes: the output, or <cotangent, output> (``base``: as in
        ``evaluate``)."""
        y = self.evaluate(values, base)[self.output]
        return float(y.sum()) if self.cotangent is None else float(np.sum(self.cotangent * y))

    def kink_distance(self) -> float:
        """The smallest distance of an op's inputs to its kink (relu at 0, max ties...); inf without kinks."""
        if not any(n.op is not None and REGISTRY[n.op].kink is not None for n in self.nodes):
            return float("inf")
        with np.errstate(all="ignore"):
            vals = self.evaluate()
        d = float("inf")
        for n in self.nodes:
            if n.op is not None and REGISTRY[n.op].kink is not None:
                d = min(d, REGISTRY[n.op].kink([vals[j] for j in n.inputs], n.params))
        return d

    # -- engines ---------------------------------------------------------------------
    def run(self, adapter: Any, dtype: str | None = None, leaves: dict[int, Any] | None = None,
            transform: dict[int, Any] | None = None) -> list[Any]:
        """Build every node on the engine; returns the engine tensors, one per node.

        ``leaves`` reuses existing leaf tensors (accumulation across calls); ``transform``
        maps a node index to a function applied to its tensor before consumers see it
        (e.g. ``adapter.detach``).
        """
        dt = dtype or self.dtype
        ts: list[Any] = []
        for i, n in enumerate(self.nodes):
            if n.op is None:
                t = leaves[i] if leaves is not None and i in leaves else adapter.leaf(n.value, dt, n.requires_grad)
            else:
                t = adapter.apply(n.op, [ts[j] for j in n.inputs], n.params)
            ts.append(transform[i](t) if transform and i in transform else t)
        return ts

    def cut(self, j: int) -> "Program":
        """The same program with node ``j`` replaced by a constant leaf of its (float64 numpy) value."""
        v = np.asarray(self.evaluate()[j]).astype(NP_DTYPES[self.dtype]).astype(np.float64)
        nodes = list(self.nodes)
        nodes[j] = Node(value=v, requires_grad=False)
        return replace(self, nodes=nodes)

    def extend(self, nodes: list[Node], output: int, cotangent: np.ndarray | None = None) -> "Program":
        """Append nodes (indices continue from len(self.nodes)) and make ``output`` the output."""
        return replace(self, nodes=self.nodes + nodes, output=output, cotangent=cotangent)

    def cotangent_tensor(self, adapter: Any, dtype: str | None = None, scale: float = 1.0) -> Any:
        if self.cotangent is None:
            return None
        return adapter.leaf(self.cotangent * scale, dtype or self.dtype, False)

    def backward(self, adapter: Any, dtype: str | None = None) -> tuple[list[Any], dict[int, np.ndarray | None]]:
        """Run, backward, and read the grads of all leaves."""
        ts = self.run(adapter, dtype)
        adapter.backward(ts[self.output], self.cotangent_tensor(adapter, dtype))
        return ts, {i: adapter.grad_of(ts[i]) for i in self.leaves}

    # -- printing --------------------------------------------------------------------
    def to_script(self, engine: str = "torch", dtype: str | None = None) -> str:
        """A standalone script that rebuilds this program on ``engine`` and prints its values as JSON.

        torch-like engines (torch, refengine, torchlike:MOD) get plain torch-style code; a
        user adapter (``pkg.mod:Class``) is driven through its Adapter methods.
        """
        dt = dtype or self.dtype
        native = engine in ("torch", "refengine") or engine.startswith("torchlike:")
        lines = [f"# conformance reproducer: focus op {self.focus!r}, dtype {dt}, engine {engine}",
                 "import json", "import numpy as np"]
        if native:
            mod = "torch" if engine == "torch" else "refengine" if engine == "refengine" else engine.split(":", 1)[1]
            lines.append(f"import {mod} as M")
        else:
            modname, _, cls = engine.partition(":")
            lines += ["import os, sys", "sys.path.insert(0, os.getcwd())  # run from where the adapter imports",
                      f"from {modname} import {cls}", f"A = {cls}()"]
        names = [f"v{i}" for i in range(len(self.nodes))]
        npdt = "float32" if dt == "bfloat16" else dt  # numpy has no bfloat16: its values are exact float32s
        for i, n in enumerate(self.nodes):
            if n.op is None:
                arr = f"np.array({n.value.tolist()!r}, dtype=np.{npdt})"
                if native:
                    lines.append(f"{names[i]} = M.tensor({arr}, dtype=M.{dt}, requires_grad={n.requires_grad})")
                else:
                    lines.append(f"{names[i]} = A.leaf({arr}, {dt!r}, {n.requires_grad})")
            elif native:
                lines.append(f"{names[i]} = {REGISTRY[n.op].code([names[j] for j in n.inputs], n.params)}")
            else:
                args = ", ".join(names[j] for j in n.inputs)
                lines.append(f"{names[i]} = A.apply({n.op!r}, [{args}], {_np_literal(n.params)})")
        out = names[self.output]
        cot = "None" if self.cotangent is None else f"np.array({self.cotangent.tolist()!r}, dtype=np.{npdt})"
        leaves = ", ".join(f"{names[i]!r}: {names[i]}" for i in self.leaves)
        if native:
            lines += [f"cot = {cot}",
                      f"{out}.backward(None if cot is None else M.tensor(cot, dtype=M.{dt}))",
                      f"leaves = {{{leaves}}}",
                      "res = {'output': " + out + ".detach().numpy().tolist(),",
                      "       'grads': {k: None if t.grad is None else t.grad.numpy().tolist() "
                      "for k, t in leaves.items()}}"]
        else:
            lines += [f"cot = {cot}",
                      f"A.backward({out}, None if cot is None else A.leaf(cot, {dt!r}, False))",
                      f"leaves = {{{leaves}}}",
                      "res = {'output': A.to_numpy(" + out + ").tolist(),",
                      "       'grads': {k: None if A.grad_of(t) is None else A.grad_of(t).tolist() "
                      "for k, t in leaves.items()}}"]
        lines.append("print('RESULT', json.dumps(res))")
        return "\n".join(lines) + "\n"


def _np_literal(params: dict[str, Any]) -> str:
    """Params for ``A.apply`` in a script: numpy arrays stay numpy arrays."""
    items = []
    for k, v in params.items():
        items.append(f"{k!r}: " + (f"np.array({v.tolist()!r}, dtype=np.{v.dtype})" if isinstance(v, np.ndarray)
                                   else literal(v).replace("M.tensor(", "(")))
    return "{" + ", ".join(items) + "}"


def parse_script_output(stdout: str) -> dict[str, Any]:
    for line in stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[len("RESULT "):])
    raise ValueError("no RESULT line in script output")


# ------------------------------------------------------------------------------------------
# the strategy
# ------------------------------------------------------------------------------------------
_SCALES = (0.5, 2.0, -1.0, 0.25)  # powers of two: leaf * scale reproduces the sampled value exactly
#: where the side path's weights and the cotangent are drawn
WEIGHTS = Domain(-1.0, 1.0)
COTANGENTS = Domain(-2.0, 2.0)
# the choices among leaf modes and post-ops, built once (by which helper ops the engine has): a strategy
# built anew for every draw is validated anew by hypothesis
_MODES = {(mul, tr): st.sampled_from(("leaf", "leaf", "const") + (("scaled",) if mul else ())
                                     + (("transposed",) if tr else ())) for mul in (False, True) for tr in (False, True)}
_POSTS = {(mul, tanh): st.sampled_from(("none", "none") + (("square", "scale") if mul else ())
                                       + (("tanh",) if tanh else ())) for mul in (False, True) for tanh in (False, True)}
_SCALE_DRAW = st.sampled_from(_SCALES)
_POST_SCALES = st.sampled_from((0.5, -2.0, 3.0))


def values(domain: Domain, shape: tuple[int, ...], dtype: str, salt: int = 0) -> st.SearchStrategy[np.ndarray]:
    """A float64 array of ``shape``, values from ``domain``, exactly representable in ``dtype``
    (``Domain.arrays``: simple numbers, uniform floats, values by a margin; shrinks to simple numbers).
    ``salt``: a different one per operand, so that shrunk (zero-byte) operands differ."""
    return domain.arrays(tuple(shape), dtype, salt)


@st.composite
def programs(draw: Any, op: str, dtype: str, scalar_output: bool | None = None,
             reuse: bool | None = None, available: frozenset[str] | None = None) -> Program:
    """A random program in which ``op`` appears at least once; see the module docstring.

    ``available`` (the engine's ops; None = all) limits the helper ops (mul, add, sum,
    tanh, transpose) used around the focus op, so a partial engine is only asked for
    the ops it has.
    """
    spec = REGISTRY[op]

    def has(*names: str) -> bool:
        return available is None or all(n in available for n in names)

    sample = shape_pool.sample(spec, draw)  # spec.sample(draw), or from a small pool under --shapes N
    npdt = NP_DTYPES[dtype]
    nodes: list[Node] = []

    def add(node: Node) -> int:
        nodes.append(node)
        return len(nodes) - 1

    def const(v: Any) -> int:
        return add(Node(value=np.asarray(v, dtype=npdt).astype(np.float64), requires_grad=False))

    leaf_values = []
    for i, shp in enumerate(sample.shapes):
        dom = sample.domains[i] if sample.domains else spec.domain(i)
        leaf_values.append(draw(values(dom, shp, dtype, salt=i)))
    inputs: list[int] = []
    scaled: list[int] = []
    for i, v in enumerate(leaf_values):
        if (i > 0 and sample.shapes[i] == sample.shapes[0] and reuse is not False
                and (spec.domains[i] if i < len(spec.domains) else None) in (None, spec.domain(0))
                and draw(st.booleans())):
            inputs.append(inputs[0])  # the same value as two operands
            continue
        mode = draw(_MODES[has("mul"), has("transpose")])
        if mode == "transposed" and v.ndim >= 2 and not spec.contiguous_only:
            # a non-contiguous view with the sampled values: strided engines must cope
            leaf = add(Node(value=np.swapaxes(v, 0, -1).copy(), requires_grad=draw(st.booleans())))
            inputs.append(add(Node("transpose", (leaf,), {"dim0": 0, "dim1": -1})))
            scaled.append(inputs[-1])
        elif mode == "scaled":
            s = draw(_SCALE_DRAW)
            leaf = add(Node(value=(v / s).astype(npdt).astype(np.float64), requires_grad=draw(st.booleans())))
            inputs.append(add(Node("mul", (leaf, const(s)))))
            scaled.append(inputs[-1])
        else:
            inputs.append(add(Node(value=v, requires_grad=mode != "const" and draw(st.booleans()))))
    if not any(n.requires_grad for n in nodes):  # at least one input leaf must require grad
        first = inputs[0] if nodes[inputs[0]].op is None else nodes[inputs[0]].inputs[0]
        nodes[first].requires_grad = True
    focus = add(Node(op, tuple(inputs), dict(sample.params)))
    if not spec.differentiable:  # a bool result: nothing after it differentiates; no property backwards here
        return Program(nodes, focus, dtype, None, op)

    post = draw(_POSTS[has("mul"), has("tanh")])
    r = focus
    if post == "square":
        r = add(Node("mul", (focus, focus)))
    elif post == "scale":
        r = add(Node("mul", (focus, const(draw(_POST_SCALES)))))
    elif post == "tanh":
        r = add(Node("tanh", (focus,)))
    # a second path from an input (or an intermediate) to the output
    side_src = [j for j in scaled + inputs if any(nodes[k].requires_grad for k in _ancestors(nodes, j))]
    if side_src and has("mul", "sum", "add") and (reuse or (reuse is None and draw(st.booleans()))):
        j = draw(st.sampled_from(tuple(side_src)))  # hashable: hypothesis reuses the strategy
        w = const(draw(values(WEIGHTS, nodes_shape(nodes, leaf_values, j), dtype, salt=len(leaf_values))))
        t = add(Node("sum", (add(Node("mul", (j, w))),), {"dim": None, "keepdim": False}))
        r = add(Node("add", (r, t)))
    out_shape = np.asarray(Program(nodes, r, dtype, None, op).evaluate()[r]).shape
    scalar = draw(st.booleans()) if scalar_output is None else scalar_output
    if scalar and out_shape != () and not has("sum"):
        scalar = False
    if scalar:
        out = r if out_shape == () else add(Node("sum", (r,), {"dim": None, "keepdim": False}))
        return Program(nodes, out, dtype, None, op)
    cot = draw(values(COTANGENTS, out_shape, dtype, salt=len(leaf_values) + 1))
    return Program(nodes, r, dtype, cot, op)


def _ancestors(nodes: Sequence[Node], j: int) -> set[int]:
    seen, stack = set(), [j]
    while stack:
        k = stack.pop()
        if k not in seen:
            seen.add(k)
            stack.extend(nodes[k].inputs)
    return seen


def nodes_shape(nodes: Sequence[Node], values: Sequence[np.ndarray], j: int) -> tuple[int, ...]:
    n = nodes[j]
    if n.op is None:
        return n.value.shape
    return tuple(np.asarray(Program(list(nodes[: j + 1]), j, "float64", None, "").evaluate()[j]).shape)


def any_program(ops: Sequence[str], dtype: str, **kw: Any) -> st.SearchStrategy[Program]:
    """A program focused on any of ``ops`` (for op-independent rules); ``available`` defaults to ``ops``."""
    kw.setdefault("available", frozenset(ops))
    made: dict[str, st.SearchStrategy[Program]] = {}  # one strategy per op: each new one is validated anew

    def focused(op: str) -> st.SearchStrategy[Program]:
        if op not in made:
            made[op] = programs(op, dtype, **kw)
        return made[op]
    return st.sampled_from(list(ops)).flatmap(focused)
