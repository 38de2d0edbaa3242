"""Matrix products: matmul (1-D, 2-D, batched with broadcast batch dims), mm, bmm."""
from __future__ import annotations

import numpy as np

from refengine.function import ArrayFunction
from refengine.ops.common import is_var, method, shape_of, sum_to_shape


def _swap_last(x):
    if is_var(x):
        from refengine.ops.shape import transpose
        return transpose(x, -1, -2)
    return np.swapaxes(x, -1, -2)


def _unsqueeze(x, axis):
    if is_var(x):
        from refengine.ops.shape import reshape
        s = list(x.shape)
        s.insert(axis % (len(s) + 1), 1)
        return reshape(x, tuple(s))
    return np.expand_dims(x, axis)


class Matmul(ArrayFunction):
    node_name = "MmBackward0"

    @staticmethod
    def forward(ctx, a, b):
        if a.ndim == 0 or b.ndim == 0:
            raise RuntimeError("both arguments to matmul need to be at least 1D, but they are "
                               f"{a.ndim}D and {b.ndim}D")
        ctx.save_for_backward(a, b)
        try:
            return np.matmul(a, b)
        except ValueError:
            raise RuntimeError(
                f"mat1 and mat2 shapes cannot be multiplied ({'x'.join(map(str, a.shape))} and "
                f"{'x'.join(map(str, b.shape))})") from None

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        sa, sb = shape_of(a), shape_of(b)
        # promote 1-D operands to matrices so one formula covers every case
        a2 = _unsqueeze(a, 0) if len(sa) == 1 else a
        b2 = _unsqueeze(b, -1) if len(sb) == 1 else b
        g2 = g
        if len(sa) == 1:
            g2 = _unsqueeze(g2, -2)
        if len(sb) == 1:
            g2 = _unsqueeze(g2, -1)
        ga = gb = None
        if ctx.needs_input_grad[0]:
            ga = g2 @ _swap_last(b2)
            ga = sum_to_shape(ga, a2.shape if not is_var(a2) else tuple(a2.shape))
            ga = ga.reshape(sa) if not is_var(ga) else ga.reshape(*sa)
        if ctx.needs_input_grad[1]:
            gb = _swap_last(a2) @ g2
            gb = sum_to_shape(gb, tuple(b2.shape))
            gb = gb.reshape(sb) if not is_var(gb) else gb.reshape(*sb)
        return ga, gb


@method()
def matmul(input, other):
    """Matrix product with numpy/torch semantics for 1-D and batched operands."""
    return Matmul.apply(input, other)
