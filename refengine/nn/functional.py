"""``refengine.nn.functional``: neural-network ops with torch's names and arguments.

softmax/log_softmax run on the per-row Cython kernels (plain backward) and on
differentiable composites under create_graph.  The losses are torch's: their
gradients are constant masks times the incoming gradient, so they are linear
in it and second derivatives come for free.  conv2d and pooling live in
``refengine.nn.conv`` and are re-exported here.
"""
from __future__ import annotations

import warnings

import numpy as np

from refengine import kernels as K
from refengine.function import ArrayFunction
from refengine.nn.conv import avg_pool2d, conv2d, max_pool2d  # noqa: F401  (re-exported)
from refengine.nn.activation import (elu, gelu, hardtanh, leaky_relu, logsigmoid, silu,  # noqa: F401
                                     softplus)
from refengine.nn.padding import pad  # noqa: F401
from refengine.nn.activation import glu  # noqa: F401
from refengine.nn.convolution import conv1d, conv_transpose2d  # noqa: F401
from refengine.nn.distance import cosine_similarity, normalize  # noqa: F401
from refengine.nn.linear import embedding, linear  # noqa: F401
from refengine.nn.loss import (binary_cross_entropy, binary_cross_entropy_with_logits, huber_loss,  # noqa: F401
                               kl_div, l1_loss, smooth_l1_loss)
from refengine.nn.norm import batch_norm, group_norm, layer_norm  # noqa: F401
from refengine.nn.resample import adaptive_avg_pool2d, interpolate  # noqa: F401
from refengine.ops.common import data_of, is_var, method, sum_to_shape, shape_of
from refengine.ops.dtypes import binary
from refengine.ops.unary import relu, sigmoid, tanh  # noqa: F401  (F.relu, F.sigmoid, F.tanh)

_REDUCTIONS = ("none", "mean", "sum")


def _softmax_dim(ndim: int, dim):
    """torch's legacy implicit dim when ``dim`` is None (with its warning)."""
    if dim is not None:
        return dim
    warnings.warn("Implicit dimension choice for softmax has been deprecated. Change the call to "
                  "include dim=X as an argument.", UserWarning, stacklevel=3)
    return 0 if ndim in (0, 1, 3) else 1


class Softmax(ArrayFunction):
    node_name = "SoftmaxBackward0"

    @staticmethod
    def forward(ctx, x, dim=-1):
        y = K.softmax_forward(x, dim)
        ctx.dim = dim
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        if not is_var(g) and g.dtype == y.dtype:
            return K.softmax_backward(g, y, ctx.dim)
        from refengine.ops import sum as _sum
        return y * (g - _sum(g * y, dim=ctx.dim, keepdim=True)) if is_var(g) else \
            y * (g - np.sum(g * y, axis=ctx.dim, keepdims=True))

    jvp = backward  # forward mode: J = diag(y) - y y^T is symmetric, so J t = J^T t


class LogSoftmax(ArrayFunction):
    node_name = "LogSoftmaxBackward0"

    @staticmethod
    def forward(ctx, x, dim=-1):
        y = K.log_softmax_forward(x, dim)
        ctx.dim = dim
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        if not is_var(g) and g.dtype == y.dtype:
            return K.log_softmax_backward(g, y, ctx.dim)
        from refengine.ops import exp, sum as _sum
        return g - exp(y) * _sum(g, dim=ctx.dim, keepdim=True) if is_var(g) else \
            g - np.exp(y) * np.sum(g, axis=ctx.dim, keepdims=True)

    @staticmethod
    def jvp(ctx, t):
        (y,) = ctx.saved_tensors  # J = I - 1 softmax^T (per row): J t = t - <softmax, t>
        return t - np.sum(np.exp(y) * t, axis=ctx.dim, keepdims=True)


def _float(x, name):
    dt = getattr(x, "dtype", None)
    if dt is None or dt.kind != "f":
        raise TypeError(f"{name}() expects a float32/float64 Variable, got "
                        f"{type(x).__name__}{'' if dt is None else ' of dtype ' + str(dt)}")


def softmax(input, dim=None, dtype=None):
    """``exp(x) / sum(exp(x))`` along ``dim``."""
    _float(input, "softmax")
    if dtype is not None:
        input = input.to(dtype)
    return Softmax.apply(input, dim=_softmax_dim(input.ndim, dim))


def log_softmax(input, dim=None, dtype=None):
    """``x - logsumexp(x)`` along ``dim`` (stable)."""
    _float(input, "log_softmax")
    if dtype is not None:
        input = input.to(dtype)
    return LogSoftmax.apply(input, dim=_softmax_dim(input.ndim, dim))


method("softmax")(softmax)
method("log_softmax")(log_softmax)


def _check_reduction(reduction):
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{reduction} is not a valid value for reduction")


class NllLoss(ArrayFunction):
    """-input[n, target[n]] * weight[target[n]], reduced; the gradient is a constant mask."""

    node_name = "NllLossBackward0"

    @staticmethod
    def forward(ctx, x, target=None, weight=None, ignore_index=-100, reduction="mean"):
        x2 = x[None] if x.ndim == 1 else x
        t2 = target[None] if x.ndim == 1 else target
        C = x2.shape[1]
        valid = t2 != ignore_index
        tc = np.where(valid, t2, 0).astype(np.int64)
        bad = tc[(tc < 0) | (tc >= C)]
        if bad.size:
            raise IndexError(f"Target {int(bad.flat[0])} is out of bounds.")
        w = (np.ones(C, x.dtype) if weight is None else weight.astype(x.dtype))[tc] * valid
        picked = np.take_along_axis(x2, tc[:, None], axis=1)[:, 0]
        losses = -picked * w
        mask = np.zeros(x2.shape, x.dtype)
        np.put_along_axis(mask, tc[:, None], (-w)[:, None], axis=1)
        ctx.reduction = reduction
        if reduction == "none":
            ctx.mask = mask.reshape(x.shape)
            return losses.reshape(target.shape).astype(x.dtype)
        total = w.sum()
        if reduction == "mean":
            with np.errstate(invalid="ignore", divide="ignore"):
                out = losses.sum() / total  # nan when every target is ignored, as torch
            mask = mask / total if total else mask  # ...whose gradient is then 0, not nan
        else:
            out = losses.sum()
        ctx.mask = mask.reshape(x.shape)
        return np.asarray(out, x.dtype)

    @staticmethod
    def backward(ctx, g):
        mask = ctx.mask
        if ctx.reduction == "none" and mask.ndim >= 2:
            from refengine.ops import unsqueeze
            g = unsqueeze(g, 1) if is_var(g) else np.expand_dims(g, 1)
        return g * mask


def nll_loss(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None, reduction="mean"):
    """Negative log-likelihood of class indices ``target`` given log-probabilities ``input``
    of shape (C,), (N, C) or (N, C, d1, ...)."""
    _check_reduction(reduction)
    _float(input, "nll_loss")
    t = np.asarray(data_of(target))
    if t.dtype.kind not in "iu":
        raise RuntimeError(f"expected scalar type Long but found {t.dtype}")
    x_shape = shape_of(input)
    if len(x_shape) < 1:
        raise ValueError(f"Expected 1 or more dimensions (got {len(x_shape)})")
    want = x_shape[:1] + x_shape[2:] if len(x_shape) >= 2 else ()
    if len(x_shape) >= 2 and t.shape[:1] != x_shape[:1]:
        raise ValueError(f"Expected input batch_size ({x_shape[0]}) to match target batch_size "
                         f"({t.shape[0] if t.ndim else 0}).")
    if t.shape != want:
        raise RuntimeError(f"expected target of shape {list(want)} for input of shape {list(x_shape)}, "
                           f"got {list(t.shape)}")
    w = None if weight is None else np.asarray(data_of(weight))
    return NllLoss.apply(input, target=t, weight=w, ignore_index=ignore_index, reduction=reduction)


def cross_entropy(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None,
                  reduction="mean", label_smoothing=0.0):
    """``nll_loss(log_softmax(input, class_dim), target)``; float ``target`` of input's shape
    is read as class probabilities."""
    _check_reduction(reduction)
    _float(input, "cross_entropy")
    if label_smoothing:
        raise NotImplementedError("cross_entropy: label_smoothing is not implemented in refengine")
    class_dim = 0 if input.ndim == 1 else 1
    t = data_of(target)
    if weight is None and input.ndim == 2 and isinstance(t, np.ndarray) and t.dtype.kind in "iu" \
            and t.shape == (input.shape[0],) and input.shape[1] > 0:
        return CrossEntropy.apply(input, target=t, ignore_index=ignore_index, reduction=reduction)
    logp = log_softmax(input, class_dim)
    if np.asarray(t).dtype.kind == "f":
        if np.shape(t) != input.shape:
            raise RuntimeError(f"cross_entropy: probability target must have the input's shape "
                               f"{list(input.shape)}, got {list(np.shape(t))}")
        if weight is not None:
            wshape = [1] * input.ndim
            wshape[class_dim] = -1
            logp = logp * np.asarray(data_of(weight), input.dtype).reshape(wshape)
        from refengine.ops import mean, sum as _sum
        losses = -_sum(logp * target, dim=class_dim)
        return losses if reduction == "none" else (_sum(losses) if reduction == "sum" else mean(losses))
    return nll_loss(logp, target, weight=weight, ignore_index=ignore_index, reduction=reduction)


class CrossEntropy(ArrayFunction):
    """cross_entropy of (N, C) logits and N class indices, no class weights, as one node:
    ``nll_loss(log_softmax(x))`` forward (the same values: the log_softmax kernel, then the
    picked entries summed as NllLoss sums them), and the composite's gradient in one step,
    ``softmax(x) * c[:, None]`` minus ``c`` at each target, c = the row's weight times the
    incoming gradient (what log_softmax's backward makes of nll_loss's one-hot mask, with
    the same operations).  Under create_graph the gradient is built from softmax, so it
    differentiates again.  The composite took two nodes, a dense mask and two kernel calls."""

    node_name = "NllLossBackward0"

    @staticmethod
    def forward(ctx, x, target=None, ignore_index=-100, reduction="mean"):
        N, C = x.shape
        logp = K.log_softmax_forward(x, 1)
        t = target.astype(np.int64, copy=False)
        valid = t != ignore_index
        every = bool(valid.all())
        tc = t if every else np.where(valid, t, 0)
        if N and (tc.min() < 0 or tc.max() >= C):
            raise IndexError(f"Target {int(tc[(tc < 0) | (tc >= C)][0])} is out of bounds.")
        rows = np.arange(N)
        losses = -logp[rows, tc]
        w = None if every else valid.astype(x.dtype)
        if w is not None:
            losses = losses * w
        ctx.save_for_backward(x)
        ctx.logp, ctx.rows, ctx.tc, ctx.reduction = logp, rows, tc, reduction
        if reduction == "none":
            ctx.coef = w
            return losses.astype(x.dtype, copy=False)
        total = np.asarray(N if w is None else w.sum(), x.dtype)
        if reduction == "mean":
            with np.errstate(invalid="ignore", divide="ignore"):
                out = losses.sum() / total   # nan when every target is ignored, as torch
            # the per-row factor of the gradient: w / total (0 when every target is ignored)
            ctx.coef = (np.full(N, 1 / total, x.dtype) if w is None else w / total) if total else np.zeros(N, x.dtype)
        else:
            out = losses.sum()
            ctx.coef = w
        return np.asarray(out, x.dtype)

    @staticmethod
    def backward(ctx, g):
        coef, rows, tc = ctx.coef, ctx.rows, ctx.tc
        if is_var(g):      # create_graph: (softmax(x) - onehot) * c, differentiable in x and g
            from refengine.ops import reshape
            (x,) = ctx.saved_tensors
            onehot = np.zeros(shape_of(x), ctx.logp.dtype)
            onehot[rows, tc] = 1
            c = reshape(g, (-1, 1)) if ctx.reduction == "none" else g
            if coef is not None:
                c = c * coef[:, None]
            return (softmax(x, 1) - onehot) * c
        if ctx.reduction == "none":
            c = g if coef is None else g * coef
        else:
            c = g * coef if coef is not None else np.full(rows.shape, g, ctx.logp.dtype)
        c = np.asarray(c, ctx.logp.dtype)
        dx = np.exp(ctx.logp)
        dx *= c[:, None]
        dx[rows, tc] -= c
        return dx


class MseLoss(ArrayFunction):
    node_name = "MseLossBackward0"

    @staticmethod
    def forward(ctx, a, b, reduction="mean"):
        # torch broadcasts the operands first, so a 0-d float64 with a float32 tensor
        # promotes as two dimensioned tensors (float64), not by the 0-d rule (float32)
        d = binary(np.subtract, *np.broadcast_arrays(a, b)) if np.shape(a) != np.shape(b) else \
            binary(np.subtract, a, b)
        ctx.save_for_backward(a, b)
        ctx.reduction, ctx.n, ctx.shape = reduction, d.size, d.shape
        sq = d * d
        if reduction == "none":
            return sq
        with np.errstate(invalid="ignore"):
            return np.asarray(sq.sum() if reduction == "sum" else sq.mean(), sq.dtype)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        # n == 0: an empty mean (NaN forward, as torch) has an empty, all-zero gradient
        scale = (2.0 / ctx.n if ctx.n else 0.0) if ctx.reduction == "mean" else 2.0
        gd = (g * scale) * (a - b)
        ga = sum_to_shape(gd, shape_of(a)) if ctx.needs_input_grad[0] else None
        gb = sum_to_shape(-gd, shape_of(b)) if ctx.needs_input_grad[1] else None
        return ga, gb


def mse_loss(input, target, size_average=None, reduce=None, reduction="mean"):
    """Mean (or sum, or elementwise) squared error; broadcasts like torch, with its warning."""
    _check_reduction(reduction)
    if shape_of(input) != shape_of(target):
        warnings.warn(f"Using a target size ({list(shape_of(target))}) that is different to the input size "
                      f"({list(shape_of(input))}). This will likely lead to incorrect results due to "
                      "broadcasting. Please ensure they have the same size.", UserWarning, stacklevel=2)
    return MseLoss.apply(input, target, reduction=reduction)
