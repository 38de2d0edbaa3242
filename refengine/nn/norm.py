"""Normalisation layers: layer_norm, batch_norm (training and eval), group_norm.

Each is one node with torch's name (NativeLayerNormBackward0, ...).  The statistics
use the biased variance, ``rstd = 1 / sqrt(var + eps)``; the input gradient is
``rstd (gxhat - mean(gxhat) - xhat mean(gxhat xhat))`` over the normalised axes
(eval-mode batch_norm is affine: ``g w rstd``).  The backward recomputes the
statistics from the saved input with helpers that take arrays or Variables, so under
create_graph it is built from differentiable ops and the layers differentiate again.
batch_norm in training mode updates ``running_mean`` / ``running_var`` in place
(momentum, unbiased variance), as torch.

The forward and a plain backward of the normalising layers run on the norm kernels, which
see each layer as an ``(A, C, B)`` array normalised per ``c`` (``ctx.kview``); the forward
keeps their statistics, so the backward recomputes nothing.  A create_graph backward
(Variables) takes the differentiable route above.
"""
from __future__ import annotations

import numpy as np

from refengine import kernels as K
from refengine.function import ArrayFunction
from refengine.ops.common import data_of, is_var, shape_of


def _mean(x, axes):
    if is_var(x):
        from refengine.ops import mean
        return mean(x, dim=axes, keepdim=True)
    return np.mean(x, axis=axes, keepdims=True)


def _sum(x, axes, shape):
    """Sum over ``axes`` and reshape to ``shape`` (a parameter's shape)."""
    if is_var(x):
        from refengine.ops import reshape, sum as _s
        # sum(dim=()) reduces over every dim (torch's rule), np.sum(axis=()) over none: no axes, no sum
        return reshape(_s(x, dim=axes) if axes else x, shape)
    return np.sum(x, axis=axes).reshape(shape)


def _reshape(x, shape):
    if is_var(x):
        from refengine.ops import reshape
        return reshape(x, tuple(shape))
    return np.reshape(x, shape)


def _rsqrt(x):
    if is_var(x):
        from refengine.ops import sqrt
        return 1 / sqrt(x)
    return 1 / np.sqrt(x)


def _stats(x, axes, eps):
    """(xhat, rstd) normalising ``x`` over ``axes`` (biased variance)."""
    mu = _mean(x, axes)
    xc = x - mu
    rstd = _rsqrt(_mean(xc * xc, axes) + eps)
    return xc * rstd, rstd


def _norm_backward(gxhat, xhat, rstd, axes):
    return rstd * (gxhat - _mean(gxhat, axes) - xhat * _mean(gxhat * xhat, axes))


def _kernel_forward(ctx, x, view, eps):
    """xhat of ``x`` normalised as the ``(A, C, B)`` array ``view`` on the norm kernel; its
    statistics (and xhat, for the weight's gradient) stay on ctx for the backward."""
    xhat, mean, rstd = K.norm_forward(x.reshape(view), eps)
    xhat = xhat.reshape(x.shape)
    ctx.kview, ctx.kstats, ctx.xhat = view, (mean, rstd), xhat
    return xhat


class _Affine(ArrayFunction):
    """Shared backward: y = xhat * w + b with xhat from ``self.normalized`` of the saved input."""

    @classmethod
    def backward(cls, ctx, g):
        x, w, b = ctx.saved_tensors
        if getattr(ctx, "kview", None) is not None and not is_var(g) and g.dtype == x.dtype \
                and (w is None or w.dtype == x.dtype):
            return _kernel_backward(ctx, g, x, w, b)
        xhat, rstd, stat_axes, view = cls.normalized(ctx, x)
        wv = None if w is None else _reshape(w, ctx.param_view)
        gxhat = g if w is None else g * wv
        need = ctx.needs_input_grad
        gx = None
        if need[0]:
            gx = _reshape(_norm_backward(_reshape(gxhat, view), xhat, rstd, stat_axes), shape_of(x)) \
                if rstd is not None else gxhat * ctx.eval_rstd
        xh = _reshape(xhat, shape_of(x)) if rstd is not None else xhat
        gw = _sum(g * xh, ctx.param_axes, shape_of(w)) if len(need) > 1 and need[1] and w is not None else None
        gb = _sum(g, ctx.param_axes, shape_of(b)) if len(need) > 2 and need[2] and b is not None else None
        return gx, gw, gb


def _kernel_backward(ctx, g, x, w, b):
    need = ctx.needs_input_grad
    gx = gw = gb = None
    if need[0]:
        gxhat = g if w is None else g * w.reshape(ctx.param_view)
        gx = K.norm_backward(gxhat.reshape(ctx.kview), x.reshape(ctx.kview), *ctx.kstats).reshape(x.shape)
    if len(need) > 1 and need[1] and w is not None:
        gw = np.sum(g * ctx.xhat, axis=ctx.param_axes).reshape(w.shape)
    if len(need) > 2 and need[2] and b is not None:
        gb = np.sum(g, axis=ctx.param_axes).reshape(b.shape)
    return gx, gw, gb


def _apply(cls, x, w, b, **kw):
    return cls.apply(x, w, b, **kw)


class LayerNorm(_Affine):
    node_name = "NativeLayerNormBackward0"

    @staticmethod
    def normalized(ctx, x):
        xhat, rstd = _stats(x, ctx.stat_axes, ctx.eps)
        return xhat, rstd, ctx.stat_axes, shape_of(x)

    @classmethod
    def forward(cls, ctx, x, w, b, k=1, eps=1e-5):
        nd = x.ndim
        ctx.stat_axes, ctx.eps = tuple(range(nd - k, nd)), eps
        ctx.param_axes, ctx.param_view = tuple(range(nd - k)), x.shape[nd - k:]
        ctx.save_for_backward(x, w, b)
        rows = int(np.prod(x.shape[:nd - k], dtype=np.int64))
        xhat = _kernel_forward(ctx, x, (1, rows, -1 if rows else 0), eps)
        y = xhat if w is None else xhat * w
        return (y if b is None else y + b).astype(x.dtype, copy=False)


def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-5):
    """Normalise over the trailing ``normalized_shape`` dims, then scale and shift elementwise."""
    shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    if tuple(input.shape[input.ndim - len(shape):]) != shape or len(shape) > input.ndim:
        raise RuntimeError(f"Given normalized_shape={list(shape)}, expected input with shape "
                           f"[*, {', '.join(map(str, shape))}], but got input of size{list(input.shape)}")
    for name, p in (("weight", weight), ("bias", bias)):
        if p is not None and tuple(shape_of(p)) != shape:
            raise RuntimeError(f"Expected {name} to be of same shape as normalized_shape, but got {name} of shape "
                               f"{list(shape_of(p))} and normalized_shape = {list(shape)}")
    return _apply(LayerNorm, input, weight, bias, k=len(shape), eps=eps)


class BatchNorm(_Affine):
    node_name = "NativeBatchNormBackward0"

    @staticmethod
    def normalized(ctx, x):
        if ctx.training:
            xhat, rstd = _stats(x, ctx.param_axes, ctx.eps)
            return xhat, rstd, ctx.param_axes, shape_of(x)
        return (x - ctx.eval_mean) * ctx.eval_rstd, None, None, None

    @classmethod
    def forward(cls, ctx, x, w, b, training=True, running=None, momentum=0.1, eps=1e-5):
        nd = x.ndim
        ctx.param_axes = (0,) + tuple(range(2, nd))
        ctx.param_view = (1, x.shape[1]) + (1,) * (nd - 2)
        ctx.training, ctx.eps = training, eps
        ctx.save_for_backward(x, w, b)
        rm, rv = running
        if training:
            xhat = _kernel_forward(ctx, x, (x.shape[0], x.shape[1], -1 if x.size else 0), eps)
            n = x.size // x.shape[1]
            if rm is not None:  # torch: running stats move by momentum; the variance unbiased
                mean = np.mean(x, axis=ctx.param_axes)
                var = np.var(x, axis=ctx.param_axes) * (n / (n - 1) if n > 1 else 1.0)
                np.copyto(rm, (1 - momentum) * rm + momentum * mean, casting="unsafe")
                np.copyto(rv, (1 - momentum) * rv + momentum * var, casting="unsafe")
        else:
            view = ctx.param_view
            ctx.eval_mean = rm.reshape(view).astype(x.dtype)
            ctx.eval_rstd = (1 / np.sqrt(rv.reshape(view) + eps)).astype(x.dtype)
            xhat = (x - ctx.eval_mean) * ctx.eval_rstd
        y = xhat if w is None else xhat * w.reshape(ctx.param_view)
        return (y if b is None else y + b.reshape(ctx.param_view)).astype(x.dtype, copy=False)


def batch_norm(input, running_mean, running_var, weight=None, bias=None, training=False, momentum=0.1, eps=1e-5):
    """Normalise each channel (dim 1) over the batch and spatial dims (training) or by the running
    statistics (eval); training updates the running statistics in place."""
    shape = tuple(input.shape)
    if len(shape) < 2:
        raise ValueError(f"Expected 2D or higher input (got {len(shape)}D input)")
    c = shape[1]
    if training and int(np.prod(shape)) // max(c, 1) <= 1:
        raise ValueError(f"Expected more than 1 value per channel when training, got input size {list(shape)}")
    if not training and (running_mean is None or running_var is None):
        raise RuntimeError("running_mean and running_var must be defined in evaluation mode")
    for name, p in (("weight", weight), ("bias", bias), ("running_mean", running_mean), ("running_var", running_var)):
        if p is not None and tuple(shape_of(p)) != (c,):
            raise RuntimeError(f"{name} should contain {c} elements not {int(np.prod(shape_of(p)))}")
    running = (None if running_mean is None else data_of(running_mean),
               None if running_var is None else data_of(running_var))
    return _apply(BatchNorm, input, weight, bias, training=bool(training), running=running,
                  momentum=0.1 if momentum is None else momentum, eps=eps)


class GroupNorm(_Affine):
    node_name = "NativeGroupNormBackward0"

    @staticmethod
    def normalized(ctx, x):
        view = ctx.group_view
        xhat, rstd = _stats(_reshape(x, view), (2,), ctx.eps)
        return xhat, rstd, (2,), view

    @classmethod
    def forward(cls, ctx, x, w, b, groups=1, eps=1e-5):
        nd = x.ndim
        ctx.group_view, ctx.eps = (x.shape[0], groups, -1 if x.size else 0), eps
        ctx.param_axes = (0,) + tuple(range(2, nd))
        ctx.param_view = (1, x.shape[1]) + (1,) * (nd - 2)
        ctx.save_for_backward(x, w, b)
        n, rest = ctx.group_view[0], ctx.group_view[2]
        xhat = _kernel_forward(ctx, x, (1, n * groups, rest), eps)
        y = xhat if w is None else xhat * w.reshape(ctx.param_view)
        return (y if b is None else y + b.reshape(ctx.param_view)).astype(x.dtype, copy=False)


def group_norm(input, num_groups, weight=None, bias=None, eps=1e-5):
    """Normalise each sample over groups of ``C / num_groups`` channels (and all spatial dims), then
    scale and shift per channel."""
    shape = tuple(input.shape)
    if len(shape) < 2 or shape[1] % num_groups:
        raise RuntimeError(f"Expected number of channels in input to be divisible by num_groups, but got input "
                           f"of shape {list(shape)} and num_groups={num_groups}")
    for name, p in (("weight", weight), ("bias", bias)):
        if p is not None and tuple(shape_of(p)) != (shape[1],):
            raise RuntimeError(f"Expected {name} to be a vector of size equal to the number of channels in input, "
                               f"but got {name} of shape {list(shape_of(p))} and input of shape {list(shape)}")
    return _apply(GroupNorm, input, weight, bias, groups=int(num_groups), eps=eps)
