"""``refengine.autograd.forward_ad``: forward-mode AD with torch's API.

    >>> import refengine as re
    >>> import refengine.autograd.forward_ad as fwAD
    >>> with fwAD.dual_level():
    ...     x = fwAD.make_dual(re.tensor([0.0, 1.0]), re.tensor([1.0, 2.0]))
    ...     fwAD.unpack_dual(re.sin(x)).tangent        # cos(x) * tangent
    tensor([1.    , 1.0806])

How it works.  A dual tensor is a Variable made by a ``MakeDual`` node, which holds its tangent
for the level.  Ops record themselves in the graph as usual; asking for a tangent
(``unpack_dual``) walks the recorded graph from the duals up to the tensor, in topological
order, and applies each node's forward rule to its inputs' tangents.  Tangents are cached per
node for the level, so each op's rule runs once however many outputs are unpacked.

Forward rules.  A built-in op states its rule next to its forward and backward, as a static
method ``jvp(ctx, *tangents)``: one tangent per positional input of forward (None for an input
that carries none: a constant, a Python number), returning the output's tangent (a tuple for
several outputs); ``ctx`` is the op's node, with what forward saved.  Elementwise unary ops
write ``jvp = backward``: their Jacobian is diagonal, so J t = J^T t.  An op without a ``jvp``
(and every user ``Function``) gets :func:`derived_jvp`: J t from the op's backward by
transposition (double vjp).  Which ops have explicit rules: :func:`explicit_rules` -- add/sub/mul/div/neg,
the elementwise unary ops (unary.py and every ``make_unary``/``make_binary`` op: trig, exp/log family,
erf, lgamma, digamma, atan2, hypot, logaddexp, xlogy, fmod, remainder), maximum/minimum, where, sum,
mean, cumsum, matmul/mm/bmm/dot/mv, reshape/view/squeeze/unsqueeze, expand, transpose/permute, split,
softmax, log_softmax.  Derived from backward: pow, max/min/amax/amin, logsumexp, var/std/norm, prod,
cumprod/cummax/cummin, cat/stack/index/narrow/unbind/flip/roll/repeat/tile/pad, the gather/scatter and
index ops, sort/msort/topk/kthvalue/median, the linear algebra (det, slogdet, inverse, cholesky, einsum,
cross, trace, diag, diagonal, tril, triu), the nn ops (convolutions, pools, interpolate, norms, losses,
softplus/silu/elu/leaky_relu/hardtanh/logsigmoid/gelu/glu, embedding), square and the rounding ops.

Differences from torch, all consequences of reading tangents off the recorded graph:

* ``make_dual`` records even a primal that does not require grad, so a dual tensor requires grad;
* an op run under ``no_grad`` records nothing and passes no tangent on;
* a tangent is computed from the values saved for backward: unpack it before a backward that
  frees the graph (``retain_graph=False``), or it raises as a second backward would.
"""
from __future__ import annotations

from collections import namedtuple
from typing import Any

import numpy as np

from refengine.function import AccumulateGrad, ArrayFunction, Node
from refengine.grad_mode import enable_grad, no_grad
from refengine.variable import Variable

__all__ = ["dual_level", "enter_dual_level", "exit_dual_level", "make_dual", "unpack_dual", "UnpackedDualTensor",
           "derived_jvp", "explicit_rules"]

UnpackedDualTensor = namedtuple("UnpackedDualTensor", ["primal", "tangent"])


class _Level:
    """One forward-AD level: the duals' tangents and the tangents computed so far, by node id
    (each entry keeps its node alive, so an id cannot be reused while the level lives)."""

    def __init__(self, index: int) -> None:
        self.index = index
        self.duals: dict[int, tuple[Node, np.ndarray]] = {}
        self.memo: dict[int, tuple[Node, tuple]] = {}


_LEVELS: list[_Level] = []


def enter_dual_level() -> int:
    """Open a forward-AD level and return its index (torch: only one level at a time)."""
    if _LEVELS:
        raise RuntimeError("Nested forward mode AD is not supported at the moment")
    _LEVELS.append(_Level(len(_LEVELS)))
    return _LEVELS[-1].index


def exit_dual_level(*, level: int | None = None) -> None:
    """Close the level: its tangents are gone (dual tensors become plain tensors)."""
    if not _LEVELS or (level is not None and level != _LEVELS[-1].index):
        raise RuntimeError("Trying to exit a forward AD level that was not the last one that was created")
    _LEVELS.pop()


class dual_level:  # noqa: N801  (torch's name)
    """Context manager of a forward-AD level: ``with dual_level(): ...``."""

    def __enter__(self) -> int:
        return enter_dual_level()

    def __exit__(self, *exc: Any) -> None:
        exit_dual_level()


def _level(level: int | None, what: str) -> _Level:
    if not _LEVELS:
        raise RuntimeError(f"{what}: there is no active forward AD level; use it inside `with dual_level():`")
    if level is not None and level != _LEVELS[-1].index:
        raise RuntimeError(f"{what}: level {level} is not the active forward AD level")
    return _LEVELS[-1]


class MakeDual(ArrayFunction):
    """The identity, recorded: its node marks a dual tensor and holds the tangent (see ``make_dual``)."""

    node_name = "AliasBackward0"

    @staticmethod
    def forward(ctx, a):
        return a.view()

    @staticmethod
    def backward(ctx, g):
        return g

    @staticmethod
    def jvp(ctx, t):
        return t  # a dual of a level that has ended: its input's tangent passes through


def make_dual(tensor: Variable, tangent: Any, *, level: int | None = None) -> Variable:
    """A dual tensor: ``tensor``'s value carrying ``tangent`` (same shape and dtype) for the level."""
    lvl = _level(level, "make_dual")
    if not isinstance(tensor, Variable):
        raise TypeError(f"make_dual expects a Variable as primal, got {type(tensor).__name__}")
    t = tangent.data if isinstance(tangent, Variable) else np.asarray(tangent)
    if tensor.data.dtype.kind != "f":
        raise ValueError(f"Expected primal to be floating point, but got {tensor.data.dtype}")
    if t.shape != tensor.data.shape:
        raise RuntimeError(f"Trying to set a forward gradient that has a different size than that of the original "
                           f"Tensor, this is not supported. Tensor is of size {list(tensor.data.shape)} while the "
                           f"given forward gradient is of size {list(t.shape)}.")
    if t.dtype != tensor.data.dtype:
        raise RuntimeError(f"Expected tangent to have the same dtype as primal ({tensor.data.dtype}), got {t.dtype}")
    src = tensor
    if not (tensor.requires_grad or tensor.grad_fn is not None):
        src = Variable(tensor.data)  # recorded only from a tensor that requires grad: a fresh one, same storage
        src.requires_grad = True
    with enable_grad():
        dual = MakeDual.apply(src)
    lvl.duals[id(dual.grad_fn)] = (dual.grad_fn, np.array(t, copy=True))
    return dual


def unpack_dual(tensor: Variable, *, level: int | None = None) -> UnpackedDualTensor:
    """``(primal, tangent)``: the tensor itself and its tangent (a new tensor), or None where it carries none."""
    if not _LEVELS or not isinstance(tensor, Variable) or tensor.grad_fn is None:
        return UnpackedDualTensor(tensor, None)
    lvl = _level(level, "unpack_dual")
    t = _tangents(lvl, tensor.grad_fn)[tensor.output_nr]
    return UnpackedDualTensor(tensor, None if t is None else Variable(np.array(t, copy=True)))


# -- propagation ----------------------------------------------------------------------------------
def _tangents(lvl: _Level, root: Node) -> tuple:
    """The tangents of ``root``'s outputs, after those of every node below it (iterative post-order)."""
    if id(root) in lvl.memo:
        return lvl.memo[id(root)][1]
    order, seen, stack = [], set(), [(root, False)]
    while stack:
        node, expanded = stack.pop()
        if expanded:
            order.append(node)
            continue
        if id(node) in seen or id(node) in lvl.memo:
            continue
        seen.add(id(node))
        stack.append((node, True))
        if id(node) in lvl.duals:
            continue  # a dual's tangent is its own: what lies below does not matter
        for child, _ in node.next_functions:
            if child is not None and not isinstance(child, AccumulateGrad):
                stack.append((child, False))
    for node in order:
        lvl.memo[id(node)] = (node, _node_tangents(lvl, node))
    return lvl.memo[id(root)][1]


def _node_tangents(lvl: _Level, node: Node) -> tuple:
    metas = node._output_meta
    if id(node) in lvl.duals:
        return (lvl.duals[id(node)][1],)
    # a leaf (AccumulateGrad) or a constant (None) carries no tangent
    ins = [None if child is None or isinstance(child, AccumulateGrad) else lvl.memo[id(child)][1][nr]
           for child, nr in node.next_functions]
    if all(t is None for t in ins):
        return (None,) * len(metas)
    rule = getattr(node._fn, "jvp", None) if node._is_array_fn else None
    if rule is None:
        out = derived_jvp(node, ins)
    else:
        # one tangent per positional input of forward: inputs that are not Variables (a Python
        # number, past the last Variable too) carry none
        args: list[Any] = [None] * max(node._npos, _arity(rule))
        for k, pos in enumerate(node._var_positions):
            args[pos] = ins[k]
        diff = node._diff
        node._diff = False  # saved values as ndarrays, even after a create_graph backward set it
        try:
            with no_grad(), np.errstate(all="ignore"):  # rules compute numbers; nothing to record
                out = rule(node, *args)
        finally:
            node._diff = diff
    outs = out if isinstance(out, tuple) else (out,)
    return tuple(_fit(t, shape, dtype) for t, (shape, dtype) in zip(outs, metas))


def _arity(rule: Any) -> int:
    """How many tangents a rule takes (its positional parameters after ctx; a classmethod's after cls too)."""
    fn = getattr(rule, "__func__", rule)
    return fn.__code__.co_argcount - (2 if hasattr(rule, "__self__") else 1)


def _fit(t: Any, shape: tuple, dtype: np.dtype) -> np.ndarray | None:
    """A rule's result as the output's tangent: an ndarray of its shape (broadcast: an input's
    tangent may be smaller, as ``add``'s) and dtype; None for non-float outputs (indices)."""
    if t is None or dtype.kind != "f":
        return None
    t = np.asarray(t.data if isinstance(t, Variable) else t)
    if t.shape != shape:
        t = np.broadcast_to(t, shape)
    return t.astype(dtype, copy=False)


def derived_jvp(node: Node, tangents: list[np.ndarray | None]) -> tuple:
    """J t of one node from its backward, by transposition (the "double vjp").

    Backward maps output cotangents w to input cotangents J^T w, linearly in w; so
    <J^T w, t> = <w, J t>, and J t is the gradient of w -> <J^T w, t>.  Backward runs once with
    ``create_graph`` (refengine's higher order) on w = ones (any w: the map is linear), then one
    ``autograd.grad`` w.r.t. w.  ``tangents``: one per edge of the node (None: none)."""
    from refengine.engine import grad

    metas = node._output_meta
    ws = []
    for shape, dtype in metas:
        w = None
        if dtype.kind == "f":
            w = Variable(np.ones(shape, dtype))
            w.requires_grad = True
        ws.append(w)
    with enable_grad(), np.errstate(all="ignore"):
        gs = node._run(list(ws), True)
        terms = [(g * Variable(np.asarray(t, g.data.dtype))).sum() for g, t in zip(gs, tangents)
                 if g is not None and t is not None and isinstance(g, Variable) and g.requires_grad]
        if not terms:
            return (None,) * len(metas)  # the input cotangents do not depend on w: J t = 0
        s = terms[0]
        for term in terms[1:]:
            s = s + term
        live = [w for w in ws if w is not None]
        jts = iter(grad([s], live, retain_graph=True, allow_unused=True))
    return tuple(None if w is None else next(jts) for w in ws)


def explicit_rules() -> list[str]:
    """The node names of built-in ops with a forward rule of their own (the rest derive it)."""
    import refengine.nn  # noqa: F401  (registers the nn ops' Functions)

    found, stack = set(), [ArrayFunction]
    while stack:
        cls = stack.pop()
        for sub in cls.__subclasses__():
            stack.append(sub)
            if getattr(sub, "jvp", None) is not None and not sub.__name__.startswith("_"):  # not private bases
                found.add(sub.node_name)
    return sorted(found - {MakeDual.node_name})
