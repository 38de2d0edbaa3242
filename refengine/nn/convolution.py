"""conv1d and conv_transpose2d on top of the conv2d machinery of ``nn.conv``.

conv1d is conv2d over a height-1 image (so it shares conv2d's kernels and its
every-order differentiability; its node is the final squeeze rather than torch's
ConvolutionBackward0).  conv_transpose2d is conv2d's adjoint in the input: the input
is multiplied by the weight into columns and folded (col2im) into the output; its
backward unfolds (im2col) the gradient, so the two are each other's transpose and
the backward differentiates again.  groups=1 only, as conv2d.
"""
from __future__ import annotations

import numpy as np

from refengine import kernels as K
from refengine.function import ArrayFunction
from refengine.kernels import validate
from refengine.nn.conv import conv2d, unfold
from refengine.ops.common import is_var, shape_of


def _single(v, name):
    if isinstance(v, (tuple, list)):
        if len(v) != 1:
            raise RuntimeError(f"expected {name} to be a single integer value or a list of 1 values")
        v = v[0]
    return int(v)


def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """1-D cross-correlation of (N, C, L) (or (C, L)) input with (F, C, k) weight; ``padding`` may
    be an int, 'valid' or 'same' (stride 1)."""
    from refengine.ops import squeeze, unsqueeze
    from refengine.nn.padding import pad
    if len(shape_of(weight)) != 3:
        raise RuntimeError(f"Expected 2D (unbatched) or 3D (batched) input to conv1d, and a 3-D weight, but got "
                           f"weight of size {list(shape_of(weight))}")
    if input.ndim not in (2, 3):
        raise RuntimeError(f"Expected 2D (unbatched) or 3D (batched) input to conv1d, but got input of size: "
                           f"{list(input.shape)}")
    s, d = _single(stride, "stride"), _single(dilation, "dilation")
    if padding == "valid":
        p = 0
    elif padding == "same":
        if s != 1:
            raise ValueError("padding='same' is not supported for strided convolutions")
        total = d * (shape_of(weight)[-1] - 1)
        if total % 2:  # asymmetric: the extra column goes on the right, as torch
            input = pad(input, (total // 2, total - total // 2))
            p = 0
        else:
            p = total // 2
    else:
        p = _single(padding, "padding")
    x4 = unsqueeze(input, -2)
    out = conv2d(x4, unsqueeze(weight, -2), bias, stride=(1, s), padding=(0, p), dilation=(1, d), groups=groups)
    return squeeze(out, -2)


def _mm(a, b):
    if is_var(a) or is_var(b):
        from refengine.ops import matmul
        return matmul(a, b)
    return np.matmul(a, b)


def _reshape(x, shape):
    if is_var(x):
        from refengine.ops import reshape
        return reshape(x, tuple(shape))
    return np.reshape(x, shape)


def _swap(x):
    if is_var(x):
        from refengine.ops import transpose
        return transpose(x, -1, -2)
    return np.swapaxes(x, -1, -2)


def _sum(x, axes):
    if is_var(x):
        from refengine.ops import sum as _s
        return _s(x, dim=axes)
    return np.sum(x, axis=axes)


class ConvTranspose2d(ArrayFunction):
    node_name = "ConvolutionBackward0"

    @staticmethod
    def forward(ctx, x, w, b=None, geo=None, out_hw=None):
        n, cin, h, wd = x.shape
        cout = w.shape[1]
        kk = w.shape[2] * w.shape[3]
        ctx.geo = geo
        ctx.save_for_backward(x, w)
        cols = np.matmul(w.reshape(cin, cout * kk).T, x.reshape(n, cin, h * wd))
        out = K.col2im(np.ascontiguousarray(cols), (n, cout) + tuple(out_hw), *geo)
        if b is not None:
            out = out + b.reshape(1, cout, 1, 1)
        return out.astype(x.dtype, copy=False)

    @staticmethod
    def backward(ctx, g):
        x, w = ctx.saved_tensors
        n, cin, h, wd = shape_of(x)
        cout, kh, kw = shape_of(w)[1:]
        gcols = unfold(g, ctx.geo)                          # (N, Cout*kh*kw, H*W)
        need = ctx.needs_input_grad
        w2 = _reshape(w, (cin, cout * kh * kw))
        gx = _reshape(_mm(w2, gcols), (n, cin, h, wd)) if need[0] else None
        gw = None
        if need[1]:
            gw = _reshape(_sum(_mm(_reshape(x, (n, cin, h * wd)), _swap(gcols)), 0), (cin, cout, kh, kw))
        gb = _sum(g, (0, 2, 3)) if len(need) > 2 and need[2] else None
        return gx, gw, gb


def conv_transpose2d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """The transpose of conv2d: (N, C_in, H, W) input, (C_in, C_out, kh, kw) weight; output size
    ``(H - 1) stride - 2 padding + dilation (k - 1) + output_padding + 1``."""
    from refengine.ops import squeeze, unsqueeze
    if groups != 1:
        raise NotImplementedError(f"conv_transpose2d: groups={groups} is not supported by refengine (groups=1 only)")
    ws = shape_of(weight)
    if len(ws) != 4:
        raise RuntimeError(f"conv_transpose2d: expected a 4-D weight (C_in, C_out, kh, kw), got {list(ws)}")
    if input.ndim == 3:
        return squeeze(conv_transpose2d(unsqueeze(input, 0), weight, bias, stride, padding, output_padding, groups,
                                        dilation), 0)
    if input.ndim != 4:
        raise RuntimeError(f"Expected 3D (unbatched) or 4D (batched) input to conv_transpose2d, but got input of "
                           f"size: {list(input.shape)}")
    if input.shape[1] != ws[0]:
        raise RuntimeError(f"Given transposed=1, weight of size {list(ws)}, expected input{list(input.shape)} to "
                           f"have {ws[0]} channels, but got {input.shape[1]} channels instead")
    if input.dtype != weight.dtype:
        raise RuntimeError(f"Input type ({input.dtype}) and weight type ({weight.dtype}) should be the same")
    s, p = validate.pair(stride, "stride"), validate.pair(padding, "padding")
    d, op = validate.pair(dilation, "dilation"), validate.pair(output_padding, "output_padding")
    for i in range(2):
        if op[i] >= max(s[i], d[i]):
            raise RuntimeError("output padding must be smaller than either stride or dilation, but got "
                               f"output_padding_height: {op[0]} output_padding_width: {op[1]} stride_height: {s[0]} "
                               f"stride_width: {s[1]} dilation_height: {d[0]} dilation_width: {d[1]}")
        if op[i] >= s[i]:  # allowed by torch when below the dilation; the fold geometry here needs < stride
            raise NotImplementedError("conv_transpose2d: output_padding >= stride is not supported by refengine")
    out_hw = tuple((input.shape[2 + i] - 1) * s[i] - 2 * p[i] + d[i] * (ws[2 + i] - 1) + op[i] + 1 for i in range(2))
    if min(out_hw) <= 0:
        raise RuntimeError(f"Given input size per channel: ({input.shape[2]} x {input.shape[3]}). Calculated output "
                           f"size per channel: ({out_hw[0]} x {out_hw[1]}). Output size is too small")
    geo = ((ws[2], ws[3]), s, p, d)
    args = (input, weight) if bias is None else (input, weight, bias)
    return ConvTranspose2d.apply(*args, geo=geo, out_hw=out_hw)
