"""``refengine.func``: function transforms, as ``torch.func`` (forward mode: ``jvp``)."""
from __future__ import annotations

from typing import Any, Callable, Sequence

from refengine.autograd import forward_ad as fwAD
from refengine.variable import Variable

__all__ = ["jvp"]


def jvp(func: Callable[..., Any], primals: Sequence[Variable], tangents: Sequence[Variable], *,
        has_aux: bool = False) -> tuple[Any, ...]:
    """``(func(*primals), J tangents)``: the outputs and their forward-mode tangents (torch.func.jvp).

    ``primals`` and ``tangents`` are tuples of tensors of matching shapes; ``func`` returns a tensor
    or a tuple of tensors (with ``has_aux``, a pair ``(output, aux)``; aux is returned third).  An
    output that does not depend on the primals gets a zero tangent, as torch.func's.
    """
    if not isinstance(primals, (tuple, list)) or not isinstance(tangents, (tuple, list)):
        raise RuntimeError("jvp(f, primals, tangents): Expected primals and tangents to be tuples")
    if len(primals) != len(tangents):
        raise RuntimeError(f"jvp(f, primals, tangents): Expected primals and tangents to have the same length "
                           f"({len(primals)} != {len(tangents)})")
    with fwAD.dual_level():
        duals = [fwAD.make_dual(p, t) for p, t in zip(primals, tangents)]
        result = func(*duals)
        aux = None
        if has_aux:
            result, aux = result
        many = isinstance(result, (tuple, list))
        outs = tuple(result) if many else (result,)
        primal_out, tangent_out = [], []
        for o in outs:
            p, t = fwAD.unpack_dual(o)
            primal_out.append(p.detach())
            tangent_out.append(Variable(0 * p.data) if t is None else t)
    res = (tuple(primal_out), tuple(tangent_out)) if many else (primal_out[0], tangent_out[0])
    return res + ((aux,) if has_aux else ())
