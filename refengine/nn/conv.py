"""conv2d, max_pool2d and avg_pool2d on the im2col / col2im / max-pool kernels.

conv2d is ``W(F, C*kh*kw) @ im2col(x)`` — one batched BLAS matmul — and its
backward is a matmul for the weight and ``col2im`` (im2col's adjoint) for the
input.  Under create_graph the same backward is built from differentiable ops
(``Unfold``/``Fold`` are each other's adjoint), so second derivatives work.
avg_pool2d is linear (its backward ``AvgPoolBackward`` and itself are adjoints);
max_pool2d's backward scatter-adds into the recorded argmax positions
(``ScatterAdd``, whose adjoint is the gather ``Take``).
"""
from __future__ import annotations

import numpy as np

from refengine import kernels as K
from refengine.function import ArrayFunction
from refengine.kernels import validate
from refengine.ops.common import is_var, shape_of
from refengine.ops.index import scatter_add


class Unfold(ArrayFunction):
    """im2col: (N, C, H, W) -> (N, C*kh*kw, OH*OW)."""

    node_name = "Im2ColBackward0"

    @staticmethod
    def forward(ctx, x, geo=None):
        ctx.shape, ctx.geo = x.shape, geo
        return K.im2col(x, *geo)

    @staticmethod
    def backward(ctx, g):
        return fold(g, ctx.shape, ctx.geo)


class Fold(ArrayFunction):
    """col2im: the adjoint of Unfold."""

    node_name = "Col2ImBackward0"

    @staticmethod
    def forward(ctx, cols, shape=(), geo=None):
        ctx.geo = geo
        return K.col2im(np.ascontiguousarray(cols), shape, *geo)

    @staticmethod
    def backward(ctx, g):
        return unfold(g, ctx.geo)


def unfold(x, geo):
    return Unfold.apply(x, geo=geo) if is_var(x) else K.im2col(x, *geo)


def fold(cols, shape, geo):
    return Fold.apply(cols, shape=tuple(shape), geo=geo) if is_var(cols) else \
        K.col2im(np.ascontiguousarray(cols), shape, *geo)


class Conv2d(ArrayFunction):
    node_name = "ConvolutionBackward0"

    @staticmethod
    def forward(ctx, x, w, b=None, geo=None):
        ctx.geo = geo
        ctx.save_for_backward(x, w)
        if _rows_layout(x.shape, w.shape):
            return _forward_rows(ctx, x, w, b, geo)
        N, F = x.shape[0], w.shape[0]
        oh, ow = ctx.out_hw = _out_hw(x.shape, geo)
        w2 = w.reshape(F, _rest(w.shape))
        # explicit sizes, never -1: numpy cannot infer a dim of a zero-size array (N == 0)
        out = np.empty((N, F, oh * ow), np.result_type(x, w))
        # one sample at a time: its columns (C*kh*kw x OH*OW, 0.6 MB in the benchmark) stay in
        # cache between im2col and the GEMM, where the whole batch's (19 MB) went to memory and
        # its fresh pages cost ~20 % of the time in page faults; backward recomputes them
        for n in range(N):
            np.matmul(w2, K.im2col(x[n:n + 1], *geo)[0], out=out[n])
        out = out.reshape(N, F, oh, ow)
        if b is not None:
            out += b.reshape(1, F, 1, 1)
        return out

    @staticmethod
    def backward(ctx, g):
        x, w = ctx.saved_tensors
        if is_var(g):
            return _conv_backward_graph(ctx, g, x, w)
        want_x, want_w = ctx.needs_input_grad[0], ctx.needs_input_grad[1]
        want_b = len(ctx.needs_input_grad) > 2 and ctx.needs_input_grad[2]
        gb = g.sum(axis=(0, 2, 3)) if want_b else None
        if _rows_layout(x.shape, w.shape):
            return _backward_rows(ctx, g, x, w, want_x, want_w) + (gb,)
        N, F = g.shape[:2]
        g3 = g.reshape(N, F, _rest(g.shape[1:]))
        w2 = w.reshape(F, _rest(w.shape))
        gx = np.empty(x.shape, g.dtype) if want_x else None
        if want_w:
            # the weight gradient transposed, cols @ g^T summed over samples: with the columns
            # (C*kh*kw x OH*OW) as the left operand OpenBLAS runs this product at ~75 GFLOP/s,
            # g @ cols^T at ~50 (126 vs 186 us per sample on the benchmark's conv)
            gwt = np.zeros(w2.shape[::-1], g.dtype)
            part = np.empty(w2.shape[::-1], g.dtype)
        for n in range(N):                         # per sample, as forward (cache-sized columns)
            if want_x:
                gx[n] = K.col2im(np.matmul(w2.T, g3[n])[None], (1,) + x.shape[1:], *ctx.geo)[0]
            if want_w:
                np.matmul(K.im2col(x[n:n + 1], *ctx.geo)[0], g3[n].T, out=part)
                gwt += part
        gw = np.ascontiguousarray(gwt.T).reshape(w.shape) if want_w else None
        return gx, gw, gb


# conv2d on the "rows" (im2row) layout: rows (OH*OW x kh*kw*C, taps ordered (i, j, c)) times the
# weight reordered the same way.  Every GEMM then has the long side (OH*OW) first in its output
# or in its shared dimension, which OpenBLAS runs at ~80 GFLOP/s on the benchmark's conv against
# 50-58 for the column layout's W @ cols, W^T @ g and cols @ g^T.  The forward's (OH*OW x F)
# products are transposed back to NCHW by col2im's 1x1 case.  Samples go in chunks whose rows
# stay near cache size (~1 MiB) and the kernels are called once per chunk, not per sample.
_ROWS_MIN_CHANNELS = 4      # below this a tap is too few floats per copy; the column layout wins
_CHUNK_BYTES = 1 << 20


def _rows_layout(xs, ws):
    return xs[1] >= _ROWS_MIN_CHANNELS and ws[0] > 0


def _chunk(L, Kk, itemsize):
    return max(1, _CHUNK_BYTES // max(1, L * Kk * itemsize))


def _weight_rows(w):
    """(F, C, kh, kw) -> (F, kh*kw*C), the taps in the rows layout's (i, j, c) order."""
    F = w.shape[0]
    return np.ascontiguousarray(w.transpose(0, 2, 3, 1)).reshape(F, _rest(w.shape))


def _forward_rows(ctx, x, w, b, geo):
    N, F = x.shape[0], w.shape[0]
    oh, ow = ctx.out_hw = _out_hw(x.shape, geo)
    L = oh * ow
    wr = _weight_rows(w)
    Kk = wr.shape[1]
    dtype = np.result_type(x, w)
    ot = np.empty((N, L, F), dtype)
    S = _chunk(L, Kk, dtype.itemsize)
    for n0 in range(0, N, S):
        rows = K.im2col(x[n0:n0 + S], *geo, layout="rows")
        s = rows.shape[0]
        np.matmul(rows.reshape(s * L, Kk), wr.T, out=ot[n0:n0 + s].reshape(s * L, F))
    # (N, L, F) -> (N, F, OH, OW), the bias added per sample while it is in cache
    return K.col2im(ot, (N, F, oh, ow), 1, layout="rows", bias=b)


def _backward_rows(ctx, g, x, w, want_x, want_w):
    N, F = g.shape[:2]
    L = _rest(g.shape[1:])
    g3 = g.reshape(N, F, L)
    wr = _weight_rows(w)
    Kk = wr.shape[1]
    gx = np.empty(x.shape, g.dtype) if want_x else None
    gwr = np.zeros((F, Kk), g.dtype) if want_w else None
    S = _chunk(L, Kk, g.dtype.itemsize)
    for n0 in range(0, N, S):
        gs = g3[n0:n0 + S]
        s = gs.shape[0]
        if want_x:      # d rows = g^T @ wr per sample, summed back onto the image (straight into gx)
            d = np.matmul(gs.transpose(0, 2, 1), wr)
            if d.dtype == gx.dtype:
                K.col2im(d, (s,) + x.shape[1:], *ctx.geo, layout="rows", out=gx[n0:n0 + s])
            else:
                gx[n0:n0 + s] = K.col2im(d, (s,) + x.shape[1:], *ctx.geo, layout="rows")
        if want_w:      # d wr = g @ rows, summed over the samples
            rows = K.im2col(x[n0:n0 + s], *ctx.geo, layout="rows")
            for i in range(s):
                gwr += np.matmul(gs[i], rows[i])
    gw = None
    if want_w:
        kh, kw = ctx.geo[0]
        gw = np.ascontiguousarray(gwr.reshape(F, kh, kw, x.shape[1]).transpose(0, 3, 1, 2))
    return gx, gw


def _conv_backward_graph(ctx, g, x, w):
    """The conv2d backward from differentiable ops (create_graph=True)."""
    from refengine.ops import matmul, reshape, sum as _sum, transpose
    N, F = shape_of(g)[:2]
    g3 = reshape(g, (N, F, _rest(shape_of(g)[1:])))
    w2 = reshape(w, (F, _rest(shape_of(w)))) if is_var(w) else w.reshape(F, _rest(w.shape))
    gx = gw = gb = None
    if ctx.needs_input_grad[0]:
        gx = fold(matmul(transpose(w2, 0, 1) if is_var(w2) else w2.T, g3), shape_of(x), ctx.geo)
    if ctx.needs_input_grad[1]:
        cols = unfold(x, ctx.geo) if is_var(x) else K.im2col(x, *ctx.geo)
        ct = transpose(cols, 1, 2) if is_var(cols) else np.swapaxes(cols, 1, 2)
        gw = reshape(_sum(matmul(g3, ct), dim=0), shape_of(w))
    if len(ctx.needs_input_grad) > 2 and ctx.needs_input_grad[2]:
        gb = _sum(g, dim=(0, 2, 3))
    return gx, gw, gb


def _rest(shape):
    """The product of ``shape[1:]`` (what ``reshape(shape[0], -1)`` would infer)."""
    return int(np.prod(shape[1:], dtype=np.int64))


def _out_hw(shape, geo):
    return validate.window(shape, *geo)[8:]


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """2-D cross-correlation of (N, C, H, W) (or unbatched (C, H, W)) input with (F, C, kh, kw)
    weight, torch's stride/padding/dilation (int or pair); groups=1 only."""
    if groups != 1:
        raise NotImplementedError(f"conv2d: groups={groups} is not supported by refengine (groups=1 only)")
    xs, ws = shape_of(input), shape_of(weight)
    if len(ws) != 4:
        raise RuntimeError(f"weight should have at least three dimensions: expected a 4-D weight (F, C, kh, kw), "
                           f"got shape {list(ws)}")
    if len(xs) == 3:
        from refengine.ops import squeeze, unsqueeze
        return squeeze(conv2d(unsqueeze(input, 0), weight, bias, stride, padding, dilation), 0)
    if len(xs) != 4:
        raise RuntimeError(f"Expected 3D (unbatched) or 4D (batched) input to conv2d, but got input of size: {list(xs)}")
    if xs[1] != ws[1]:
        raise RuntimeError(f"Given groups=1, weight of size {list(ws)}, expected input{list(xs)} to have "
                           f"{ws[1]} channels, but got {xs[1]} channels instead")
    if input.dtype != weight.dtype or (bias is not None and bias.dtype != input.dtype):
        raise RuntimeError(f"Input type ({input.dtype}) and weight type ({weight.dtype}) should be the same")
    if bias is not None and shape_of(bias) != (ws[0],):
        raise RuntimeError(f"Given weight of size {list(ws)}, expected bias to be 1-dimensional with {ws[0]} "
                           f"elements, but got bias of size {list(shape_of(bias))} instead")
    geo = ((ws[2], ws[3]), validate.pair(stride, "stride"), validate.pair(padding, "padding"),
           validate.pair(dilation, "dilation"))
    ph, pw = geo[2]
    dh, dw = geo[3]
    eh, ew = dh * (ws[2] - 1) + 1, dw * (ws[3] - 1) + 1
    if xs[2] + 2 * ph < eh or xs[3] + 2 * pw < ew:
        raise RuntimeError(f"Calculated padded input size per channel: ({xs[2] + 2 * ph} x {xs[3] + 2 * pw}). "
                           f"Kernel size: ({eh} x {ew}). Kernel size can't be greater than actual input size")
    args = (input, weight) if bias is None else (input, weight, bias)
    return Conv2d.apply(*args, geo=geo)


class MaxPool2d(ArrayFunction):
    node_name = "MaxPool2DWithIndicesBackward0"

    @staticmethod
    def forward(ctx, x, geo=None):
        out, arg = K.max_pool2d(x, *geo)
        ctx.shape, ctx.arg = x.shape, arg
        return out

    @staticmethod
    def backward(ctx, g):
        return scatter_add(g, ctx.arg, ctx.shape)


class AvgPool2d(ArrayFunction):
    node_name = "AvgPool2DBackward0"

    @staticmethod
    def forward(ctx, x, geo=None, divisor=None):
        N, C, H, W = x.shape
        cols = K.im2col(np.ascontiguousarray(x).reshape(N * C, 1, H, W), *geo)
        oh, ow = _out_hw((N * C, 1, H, W), geo)
        ctx.shape, ctx.geo, ctx.divisor = x.shape, geo, divisor
        return (cols.sum(axis=1) / divisor).reshape(N, C, oh, ow).astype(x.dtype)

    @staticmethod
    def backward(ctx, g):
        return avg_pool_backward(g, ctx.shape, ctx.geo, ctx.divisor)


class AvgPoolBackward(ArrayFunction):
    """The adjoint of avg_pool2d: spread each output gradient over its window."""

    node_name = "AvgPool2DBackwardBackward0"

    @staticmethod
    def forward(ctx, g, shape=(), geo=None, divisor=None):
        ctx.geo, ctx.divisor = geo, divisor
        N, C, H, W = shape
        kk = geo[0][0] * geo[0][1]
        g3 = (g.reshape(N * C, 1, _rest(g.shape[1:])) / divisor).astype(g.dtype)
        cols = np.ascontiguousarray(np.broadcast_to(g3, (N * C, kk, g3.shape[2])))
        return K.col2im(cols, (N * C, 1, H, W), *geo).reshape(shape)

    @staticmethod
    def backward(ctx, gg):
        return AvgPool2d.apply(gg, geo=ctx.geo, divisor=ctx.divisor)


def avg_pool_backward(g, shape, geo, divisor):
    if is_var(g):
        return AvgPoolBackward.apply(g, shape=shape, geo=geo, divisor=divisor)
    return AvgPoolBackward.forward(_Ctx(), g, shape=shape, geo=geo, divisor=divisor)


class _Ctx:
    """A throwaway ctx for calling a forward directly on arrays."""


def _pool_geo(x, kernel_size, stride, padding, what):
    xs = shape_of(x)
    if len(xs) != 4:
        raise RuntimeError(f"{what}: expected a 4-D (N, C, H, W) input, got shape {list(xs)}")
    k = validate.pair(kernel_size, "kernel_size")
    s = k if stride is None or stride == [] or stride == () else validate.pair(stride, "stride")
    p = validate.pair(padding, "padding")
    if p[0] * 2 > k[0] or p[1] * 2 > k[1]:
        raise RuntimeError(f"pad should be at most half of effective kernel size, but got pad={p[0]}, "
                           f"kernel_size={k[0]} and dilation=1")
    return k, s, p


def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    """Window maxima; the gradient goes to the first maximum of each window (torch's tie rule)."""
    if ceil_mode or return_indices:
        raise NotImplementedError("max_pool2d: ceil_mode and return_indices are not supported by refengine")
    k, s, p = _pool_geo(input, kernel_size, stride, padding, "max_pool2d")
    return MaxPool2d.apply(input, geo=(k, s, p, validate.pair(dilation, "dilation")))


def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
               divisor_override=None):
    """Window means (zero padding counted unless ``count_include_pad=False``)."""
    if ceil_mode:
        raise NotImplementedError("avg_pool2d: ceil_mode is not supported by refengine")
    k, s, p = _pool_geo(input, kernel_size, stride, padding, "avg_pool2d")
    geo = (k, s, p, (1, 1))
    N, C, H, W = shape_of(input)
    if divisor_override:
        divisor = float(divisor_override)
    elif count_include_pad or p == (0, 0):
        divisor = float(k[0] * k[1])
    else:  # per-window count of real (non-padding) elements, as an (OH*OW,) array
        divisor = K.im2col(np.ones((1, 1, H, W)), *geo).sum(axis=1)
    return AvgPool2d.apply(input, geo=geo, divisor=divisor)
