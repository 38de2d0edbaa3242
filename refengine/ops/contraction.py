"""einsum: explicit (``->``) and implicit output, ellipsis, size-1 broadcasting, repeated labels.

The equation is normalised to explicit labels (``...`` replaced by spare letters,
operands expanded where a label has size 1 against a larger size) and run as one
node.  The gradient for operand i is itself an einsum: the output gradient with the
other operands, to operand i's distinct labels, with a ones vector for each label
only operand i has (the gradient is constant along it), then placed on the
diagonal when a label repeats within operand i (a flat scatter into zeros).  It is
an einsum again under create_graph, so every order of derivative exists.  torch's
einsum output node depends on its contraction path (ViewBackward0, SumBackward1,
...); refengine's is EinsumBackward0.
"""
from __future__ import annotations

import string

import numpy as np

from refengine.function import ArrayFunction
from refengine.ops.common import is_var, shape_of
from refengine.ops.index import scatter_add as flat_scatter_add


def _run(ins, out, operands):
    """einsum of arrays (numpy) or, with any Variable among them, the differentiable node."""
    if any(is_var(o) for o in operands):
        return Einsum.apply(*operands, subs=(tuple(ins), out))
    return np.einsum(",".join(ins) + "->" + out, *operands, optimize=len(operands) > 2)


class Einsum(ArrayFunction):
    node_name = "EinsumBackward0"

    @staticmethod
    def forward(ctx, *operands, subs=((), "")):
        ins, out = subs
        ctx.subs = subs
        ctx.save_for_backward(*operands)
        r = np.einsum(",".join(ins) + "->" + out, *operands, optimize=len(operands) > 2)
        return np.asarray(r, np.result_type(*operands))

    @staticmethod
    def backward(ctx, g):
        ins, out = ctx.subs
        ops = ctx.saved_tensors
        sizes = {}
        for sub, o in zip(ins, ops):
            sizes.update(zip(sub, shape_of(o)))
        grads = []
        for i, (sub, o) in enumerate(zip(ins, ops)):
            if not ctx.needs_input_grad[i]:
                grads.append(None)
                continue
            uniq = "".join(dict.fromkeys(sub))
            others = [(s, p) for j, (s, p) in enumerate(zip(ins, ops)) if j != i]
            avail = set(out).union(*[set(s) for s, _ in others])
            lonely = [c for c in uniq if c not in avail]
            dt = np.result_type(*[getattr(p, "dtype", np.float64) for p in ops])
            G = _run([out] + [s for s, _ in others] + lonely, uniq,
                     [g] + [p for _, p in others] + [np.ones(sizes[c], dt) for c in lonely])
            if len(uniq) != len(sub):  # a repeated label: the gradient lives on that diagonal
                ushape = tuple(sizes[c] for c in uniq)
                grid = np.indices(ushape, dtype=np.int64) if ushape else np.zeros((0,), np.int64)
                coords = tuple(grid[uniq.index(c)] for c in sub)
                lin = np.ravel_multi_index(coords, shape_of(o)) if ushape else np.zeros((), np.int64)
                G = flat_scatter_add(G.reshape(-1), lin.reshape(-1), shape_of(o))
            grads.append(G)
        return tuple(grads)


def _parse(equation, shapes):
    eq = equation.replace(" ", "")
    lhs, arrow, rhs = eq.partition("->")
    ins = lhs.split(",")
    if len(ins) != len(shapes):
        raise RuntimeError("einsum(): more operands were provided than specified in the equation"
                           if len(shapes) > len(ins) else "einsum(): fewer operands were provided than specified "
                           "in the equation")
    used = set(c for c in eq if c.isalpha())
    spare = [c for c in string.ascii_letters if c not in used]
    ell = 0
    for sub, shape in zip(ins, shapes):
        named = len(sub.replace("...", ""))
        if "..." in sub:
            ell = max(ell, len(shape) - named)
        elif named != len(shape):
            raise RuntimeError(f"einsum(): the number of subscripts in the equation ({named}) does not match the "
                               f"number of dimensions ({len(shape)}) for operand {ins.index(sub)} and no ellipsis "
                               "was given")
    letters = "".join(spare[:ell])
    ins = [s.replace("...", letters[ell - (len(shape) - len(s.replace('...', ''))):]) if "..." in s else s
           for s, shape in zip(ins, shapes)]
    if arrow:
        out = rhs.replace("...", letters)
    else:
        counts = {c: sum(s.count(c) for s in ins) for c in set("".join(ins))}
        out = letters + "".join(sorted(c for c, n in counts.items() if n == 1 and c not in letters))
    return ins, out


def einsum(equation, *operands):
    """Einstein summation over the operands (a list of them is accepted too), as torch.einsum."""
    from refengine.ops import expand
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    shapes = [tuple(shape_of(o)) for o in operands]
    ins, out = _parse(equation, shapes)
    sizes = {}
    for k, (sub, shape) in enumerate(zip(ins, shapes)):
        for c, n in zip(sub, shape):
            seen = sizes.get(c, 1)
            if n != 1 and seen != 1 and n != seen:
                raise RuntimeError(f"einsum(): subscript {c} has size {n} for operand {k} which does not broadcast "
                                   f"with previously seen size {seen}")
            sizes[c] = max(seen, n) if 0 not in (n, seen) else 0
    ready = []
    for sub, o, shape in zip(ins, operands, shapes):
        target = tuple(sizes[c] for c in sub)
        if target != shape:  # size-1 labels broadcast against the others
            o = expand(o, *target) if is_var(o) else np.broadcast_to(o, target)
        ready.append(o)
    return Einsum.apply(*ready, subs=(tuple(ins), out))
