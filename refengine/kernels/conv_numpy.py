"""numpy twins of the window kernels (``_conv.pyx``), built on sliding_window_view."""
from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from refengine.kernels import validate


def _windows(x, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow, fill=0.0):
    """(N, C, OH, OW, kh, kw) view of every dilated window of the padded input."""
    N, C, H, W = x.shape
    xp = validate.alloc((N, C, H + 2 * ph, W + 2 * pw), x.dtype, "padding")  # a clear error if too big
    xp[...] = fill
    xp[:, :, ph: ph + H, pw: pw + W] = x
    span_h, span_w = dh * (kh - 1) + 1, dw * (kw - 1) + 1
    w = sliding_window_view(xp, (span_h, span_w), axis=(2, 3))[..., ::dh, ::dw]
    return w[:, :, : oh * sh : sh, : ow * sw : sw]


def _layout(layout):
    if layout not in ("cols", "rows"):
        raise ValueError(f"layout must be 'cols' or 'rows', got {layout!r}")
    return layout


def im2col(x, kernel_size, stride=1, padding=0, dilation=1, layout="cols"):
    layout = _layout(layout)
    x = validate.float_array(x, "input")
    geo = validate.window(x.shape, kernel_size, stride, padding, dilation, "im2col")
    kh, kw, oh, ow = geo[0], geo[1], geo[8], geo[9]
    w = _windows(x, *geo)                                  # N, C, OH, OW, kh, kw
    N, C = x.shape[:2]
    if layout == "rows":                                   # N, OH*OW, (kh, kw, C)
        out = validate.alloc((N, oh * ow, kh * kw * C), x.dtype, "im2col")
        out[...] = w.transpose(0, 2, 3, 4, 5, 1).reshape(out.shape)
        return out
    out = validate.alloc((N, C * kh * kw, oh * ow), x.dtype, "im2col")
    out[...] = w.transpose(0, 1, 4, 5, 2, 3).reshape(out.shape)
    return out


def col2im(cols, x_shape, kernel_size, stride=1, padding=0, dilation=1, layout="cols", out=None, bias=None):
    layout = _layout(layout)
    if (out is not None or bias is not None) and layout != "rows":
        raise ValueError("col2im: out and bias are for layout='rows' only")
    cols = validate.float_array(cols, "cols")
    x_shape = tuple(int(s) for s in x_shape)
    kh, kw, sh, sw, ph, pw, dh, dw, oh, ow = validate.window(x_shape, kernel_size, stride, padding, dilation, "col2im")
    N, C, H, W = x_shape
    want = (N, oh * ow, kh * kw * C) if layout == "rows" else (N, C * kh * kw, oh * ow)
    if cols.shape != want:
        raise ValueError(f"col2im: {layout} has shape {cols.shape}, expected {want} for input shape {x_shape}")
    if bias is not None:
        if (kh, kw, sh, sw, ph, pw) != (1, 1, 1, 1, 0, 0):
            raise ValueError("col2im: bias needs a 1x1 kernel, stride 1 and no padding")
        bias = np.ascontiguousarray(validate.float_array(bias, "bias"), dtype=cols.dtype)
        if bias.shape != (C,):
            raise ValueError(f"col2im: bias has shape {bias.shape}, expected ({C},)")
    if out is not None and (not isinstance(out, np.ndarray) or out.shape != x_shape or out.dtype != cols.dtype
                            or not out.flags.c_contiguous or not out.flags.writeable):
        raise ValueError(f"col2im: out must be a writeable C-contiguous {cols.dtype} array of shape {x_shape}")
    r = _col2im(cols, layout, N, C, H, W, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow)
    if bias is not None:
        r += bias.reshape(1, C, 1, 1)
    if out is not None:
        out[...] = r
        return out
    return r


def _col2im(cols, layout, N, C, H, W, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow):
    if layout == "rows":
        c6 = cols.reshape(N, oh, ow, kh, kw, C).transpose(0, 5, 3, 4, 1, 2)
    else:
        c6 = cols.reshape(N, C, kh, kw, oh, ow)
    xp = validate.alloc((N, C, H + 2 * ph, W + 2 * pw), cols.dtype, "col2im", zero=True)
    for i in range(kh):
        for j in range(kw):
            xp[:, :, i * dh: i * dh + sh * oh: sh, j * dw: j * dw + sw * ow: sw] += c6[:, :, i, j]
    return xp[:, :, ph: ph + H, pw: pw + W].copy()


def max_pool2d(x, kernel_size, stride=None, padding=0, dilation=1):
    x = validate.float_array(x, "input")
    stride = kernel_size if stride is None else stride
    geo = validate.window(x.shape, kernel_size, stride, padding, dilation, "max_pool2d")
    kh, kw, sh, sw, ph, pw, dh, dw, oh, ow = geo
    if ph * 2 > kh or pw * 2 > kw:
        raise RuntimeError(f"max_pool2d: pad should be at most half of effective kernel size, but got "
                           f"pad=({ph}, {pw}) and kernel_size=({kh}, {kw})")
    N, C, H, W = x.shape
    w = _windows(x, *geo, fill=-np.inf).reshape(N, C, oh, ow, kh * kw)
    # taps on real elements: a -inf input must win over the -inf padding
    tap = _windows(np.ones((1, 1, H, W), bool), *geo, fill=False).reshape(1, 1, oh, ow, kh * kw)
    m = np.max(np.where(tap, w, -np.inf), axis=-1, keepdims=True)
    k = np.argmax(tap & (w == m), axis=-1)                      # the first maximum (torch's tie rule)
    nan = np.isnan(w) & tap
    last_nan = kh * kw - 1 - np.argmax(nan[..., ::-1], axis=-1)  # ... but the last NaN, as torch
    k = np.where(nan.any(-1), last_nan, k)
    out = np.take_along_axis(w, k[..., None], -1)[..., 0].astype(x.dtype)
    ki, kj = np.divmod(k, kw)
    iy = np.arange(oh)[:, None] * sh - ph + ki * dh
    ix = np.arange(ow)[None, :] * sw - pw + kj * dw
    base = (np.arange(N)[:, None, None, None] * C + np.arange(C)[None, :, None, None]) * H * W
    inside = tap.any(-1)
    out = np.where(inside, out, -np.inf).astype(x.dtype)  # windows wholly in the padding: -inf ...
    return out, np.where(inside, base + iy * W + ix, base).astype(np.int64)  # ... at the plane's start
