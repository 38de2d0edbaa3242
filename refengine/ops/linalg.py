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


_TORCH_NAMES = {"float32": "float", "float64": "double", "int64": "long", "int32": "int", "bool": "bool"}


class Matmul(ArrayFunction):
    node_name = "MmBackward0"

    @staticmethod
    def forward(ctx, a, b):
        if a.ndim == 0 or b.ndim == 0:
            raise RuntimeError("both arguments to matmul need to be at least 1D, but they are "
                               f"{a.ndim}D and {b.ndim}D")
        if a.dtype != b.dtype:
            raise RuntimeError(f"expected m1 and m2 to have the same dtype, but got: {_TORCH_NAMES.get(a.dtype.name, a.dtype)} "
                               f"!= {_TORCH_NAMES.get(b.dtype.name, b.dtype)}")
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
        if len(sa) == len(sb) == 1:  # dot product: g is 0-d
            return (g * b if ctx.needs_input_grad[0] else None), (g * a if ctx.needs_input_grad[1] else None)
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
            # (an array already of its shape stays itself: a same-shape reshape is a view, which
            # the engine must copy where a leaf takes it as .grad)
            ga = (ga if ga.shape == tuple(sa) else ga.reshape(sa)) if not is_var(ga) else ga.reshape(*sa)
        if ctx.needs_input_grad[1]:
            gb = _swap_last(a2) @ g2
            gb = sum_to_shape(gb, tuple(b2.shape))
            gb = (gb if gb.shape == tuple(sb) else gb.reshape(sb)) if not is_var(gb) else gb.reshape(*sb)
        return ga, gb

    @staticmethod
    def jvp(ctx, ta, tb):
        a, b = ctx.saved_tensors  # bilinear: d(a @ b) = da @ b + a @ db
        da = None if ta is None else np.matmul(ta, b)
        db = None if tb is None else np.matmul(a, tb)
        return db if da is None else da if db is None else da + db


class Mm(Matmul):
    node_name = "MmBackward0"


class Bmm(Matmul):
    node_name = "BmmBackward0"


class Dot(Matmul):
    node_name = "DotBackward0"


class Mv(Matmul):
    node_name = "MvBackward0"


@method()
def matmul(input, other):
    """Matrix product with numpy/torch semantics for 1-D and batched operands."""
    na, nb = input.ndim, other.ndim
    cls = Dot if na == nb == 1 else Mv if (na == 2 and nb == 1) else Mm if na == nb == 2 else Matmul
    return cls.apply(input, other)


@method()
def mm(input, mat2):
    """2-D matrix product (no broadcasting)."""
    if input.ndim != 2:
        raise RuntimeError(f"self must be a matrix")
    if mat2.ndim != 2:
        raise RuntimeError(f"mat2 must be a matrix")
    return Mm.apply(input, mat2)


@method()
def bmm(input, mat2):
    """Batched matrix product of (b, n, m) and (b, m, p), no broadcasting."""
    if input.ndim != 3:
        raise RuntimeError(f"batch1 must be a 3D tensor")
    if mat2.ndim != 3:
        raise RuntimeError(f"batch2 must be a 3D tensor")
    b, n, m = input.shape
    if mat2.shape[:2] != (b, m):
        raise RuntimeError(f"Expected size for first two dimensions of batch2 tensor to be: [{b}, {m}] but got: "
                           f"[{mat2.shape[0]}, {mat2.shape[1]}].")
    return Bmm.apply(input, mat2)
