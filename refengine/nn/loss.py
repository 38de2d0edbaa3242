"""Losses: binary_cross_entropy, binary_cross_entropy_with_logits, kl_div, smooth_l1_loss,
huber_loss, l1_loss.

The ones torch implements as single nodes (BCE, BCE with logits, smooth L1, Huber) are
single nodes here with torch's gradients: BCE's ``(x - t) / max(x (1 - x), 1e-12)``
with its log clamped at -100 in the value (the target's gradient is unclamped), the
piecewise smooth-L1/Huber derivatives (continuous at
the joint; their own derivative is taken on the strict inside ``|x - t| < beta``).
Gradients are formulas written with differentiable helpers, so they differentiate
again.  kl_div and l1_loss are torch's composites of elementwise ops and a reduction.
"""
from __future__ import annotations

import warnings

import numpy as np

from refengine.function import ArrayFunction
from refengine.ops.arith import where
from refengine.ops.common import data_of, dual, is_var, shape_of, sum_to_shape

_log = dual(np.log, "log")
_exp = dual(np.exp, "exp")
_REDUCTIONS = ("none", "mean", "sum")


def _sigmoid(x):
    if is_var(x):
        from refengine.ops import sigmoid
        return sigmoid(x)
    return np.exp(-np.logaddexp(0, -x))


def _clamp_min(x, lo):
    if is_var(x):
        from refengine.ops import clamp
        return clamp(x, min=lo)
    return np.maximum(x, lo)


def _check_reduction(reduction, allowed=_REDUCTIONS):
    if reduction not in allowed:
        raise ValueError(f"{reduction} is not a valid value for reduction")


def _reduce(loss, reduction):
    """An elementwise loss array reduced as ``reduction`` says (forward side)."""
    if reduction == "none":
        return loss
    with np.errstate(invalid="ignore"):
        return np.asarray(loss.sum() if reduction == "sum" else loss.mean(), loss.dtype)


def _grad_scale(g, reduction, n):
    """The incoming gradient of a reduced loss as the per-element scale."""
    return g * (1.0 / n) if reduction == "mean" and n else g


class _Pointwise(ArrayFunction):
    """A loss ``f(x, t)`` elementwise then reduced; subclasses give ``value`` and ``dx``/``dt``."""

    @classmethod
    def forward(cls, ctx, x, t, w=None, reduction="mean", **kw):
        ctx.reduction, ctx.kw = reduction, kw
        xb, tb = np.broadcast_arrays(x, t)
        ctx.n, ctx.full = xb.size, xb.shape
        ctx.save_for_backward(x, t, w)
        with np.errstate(all="ignore"):
            loss = np.asarray(cls.value(xb, tb, **kw), xb.dtype)
        if w is not None:
            loss = loss * w
        return _reduce(loss, reduction)

    @classmethod
    def backward(cls, ctx, g):
        x, t, w = ctx.saved_tensors
        gs = _grad_scale(g, ctx.reduction, ctx.n)
        if w is not None:
            gs = gs * w
        need = ctx.needs_input_grad
        with np.errstate(all="ignore"):
            gx = sum_to_shape(gs * cls.dx(x, t, **ctx.kw), shape_of(x)) if need[0] else None
            gt = sum_to_shape(gs * cls.dt(x, t, **ctx.kw), shape_of(t)) if need[1] else None
        return gx, gt, None


class BinaryCrossEntropy(_Pointwise):
    node_name = "BinaryCrossEntropyBackward0"

    @staticmethod
    def value(x, t):
        return -(t * np.maximum(np.log(x), -100) + (1 - t) * np.maximum(np.log1p(-x), -100))

    @staticmethod
    def dx(x, t):
        return (x - t) / _clamp_min((1 - x) * x, 1e-12)

    @staticmethod
    def dt(x, t):
        return _log(1 - x) - _log(x)  # torch's target gradient does not clamp: +-inf at x = 0, 1


def _with_logits_value(x, t, pos_weight=None):
    max_val = np.maximum(-x, 0)
    soft = max_val + np.log(np.exp(-max_val) + np.exp(-x - max_val))  # softplus(-x), stable
    lw = 1.0 if pos_weight is None else (pos_weight - 1) * t + 1
    return (1 - t) * x + lw * soft


class BinaryCrossEntropyWithLogits(_Pointwise):
    node_name = "BinaryCrossEntropyWithLogitsBackward0"
    value = staticmethod(_with_logits_value)

    @staticmethod
    def dx(x, t, pos_weight=None):
        if pos_weight is None:
            return _sigmoid(x) - t
        # d/dx [(1 - t) x + lw softplus(-x)] with lw = (pw - 1) t + 1: lw sigmoid(x) - pw t (torch's form)
        return ((pos_weight - 1) * t + 1) * _sigmoid(x) - pos_weight * t

    @staticmethod
    def dt(x, t, pos_weight=None):
        if pos_weight is None:
            return -x
        return -x + (pos_weight - 1) * _softplus_neg(x)


def _softplus_neg(x):
    """softplus(-x), for arrays or Variables."""
    if is_var(x):
        from refengine.nn.activation import softplus
        return softplus(-x)
    return np.logaddexp(0, -x)


class SmoothL1(_Pointwise):
    node_name = "SmoothL1LossBackward0"

    @staticmethod
    def value(x, t, beta=1.0):
        z = np.abs(x - t)
        return np.where(z < beta, 0.5 * z * z / beta, z - 0.5 * beta)

    @staticmethod
    def dx(x, t, beta=1.0):
        d = x - t
        dd = data_of(d)
        return where(np.abs(dd) < beta, d / beta, np.sign(dd).astype(dd.dtype))

    @classmethod
    def dt(cls, x, t, **kw):
        return -cls.dx(x, t, **kw)


class Huber(_Pointwise):
    node_name = "HuberLossBackward0"

    @staticmethod
    def value(x, t, delta=1.0):
        z = np.abs(x - t)
        return np.where(z < delta, 0.5 * z * z, delta * (z - 0.5 * delta))

    @staticmethod
    def dx(x, t, delta=1.0):
        d = x - t
        dd = data_of(d)
        return where(np.abs(dd) < delta, d, (delta * np.sign(dd)).astype(dd.dtype))

    @classmethod
    def dt(cls, x, t, **kw):
        return -cls.dx(x, t, **kw)


def _size_warning(input, target, stacklevel=3):
    if shape_of(input) != shape_of(target):
        warnings.warn(f"Using a target size ({list(shape_of(target))}) that is different to the input size "
                      f"({list(shape_of(input))}). This will likely lead to incorrect results due to broadcasting. "
                      "Please ensure they have the same size.", UserWarning, stacklevel=stacklevel)


def binary_cross_entropy(input, target, weight=None, size_average=None, reduce=None, reduction="mean"):
    """``-(t log x + (1 - t) log(1 - x))`` (logs clamped at -100) for probabilities ``x``."""
    _check_reduction(reduction)
    if shape_of(target) != shape_of(input):
        raise ValueError(f"Using a target size ({list(shape_of(target))}) that is different to the input size "
                         f"({list(shape_of(input))}) is deprecated. Please ensure they have the same size.")
    x = data_of(input)
    if np.any((x < 0) | (x > 1)):
        raise RuntimeError("all elements of input should be between 0 and 1")
    w = None if weight is None else np.broadcast_to(np.asarray(data_of(weight), x.dtype), x.shape)
    return BinaryCrossEntropy.apply(input, target, w, reduction=reduction)


def binary_cross_entropy_with_logits(input, target, weight=None, size_average=None, reduce=None, reduction="mean",
                                     pos_weight=None):
    """BCE of ``sigmoid(input)`` computed stably from the logits; ``pos_weight`` weighs positives."""
    _check_reduction(reduction)
    if shape_of(target) != shape_of(input):
        raise ValueError(f"Target size ({list(shape_of(target))}) must be the same as input size "
                         f"({list(shape_of(input))})")
    x = data_of(input)
    w = None if weight is None else np.broadcast_to(np.asarray(data_of(weight), x.dtype), x.shape)
    if getattr(pos_weight, "requires_grad", False):
        raise RuntimeError("The function 'binary_cross_entropy_with_logits' is not differentiable with respect to "
                           "argument 'pos_weight'. This input cannot have requires_grad True.")
    pw = None if pos_weight is None else np.asarray(data_of(pos_weight), x.dtype)
    return BinaryCrossEntropyWithLogits.apply(input, target, w, reduction=reduction, pos_weight=pw)


def smooth_l1_loss(input, target, size_average=None, reduce=None, reduction="mean", beta=1.0):
    """Quadratic below ``beta`` (``0.5 z^2 / beta``), linear above; ``beta == 0`` is l1_loss."""
    _check_reduction(reduction)
    if beta < 0:
        raise RuntimeError("smooth_l1_loss does not support negative values for beta.")
    _size_warning(input, target)
    if beta == 0:
        return l1_loss(input, target, reduction=reduction)
    return SmoothL1.apply(input, target, None, reduction=reduction, beta=float(beta))


def huber_loss(input, target, reduction="mean", delta=1.0, weight=None):
    """Quadratic below ``delta`` (``0.5 z^2``), ``delta (z - delta / 2)`` above."""
    _check_reduction(reduction)
    if delta <= 0:
        raise RuntimeError("huber_loss does not support non-positive values for delta.")
    _size_warning(input, target)
    w = None if weight is None else np.asarray(data_of(weight))
    return Huber.apply(input, target, w, reduction=reduction, delta=float(delta))


def l1_loss(input, target, size_average=None, reduce=None, reduction="mean"):
    """``|input - target|`` reduced (torch's composite: abs, then mean or sum)."""
    from refengine.ops import abs as _abs, mean, sum as _sum
    _check_reduction(reduction)
    _size_warning(input, target)
    loss = _abs(input - target)
    if reduction == "mean" and loss.dtype.kind != "f":
        raise RuntimeError(f"mean(): could not infer output dtype. Input dtype must be either a floating point or "
                           f"complex dtype. Got: {loss.dtype}")
    return loss if reduction == "none" else (_sum(loss) if reduction == "sum" else mean(loss))


def kl_div(input, target, size_average=None, reduce=None, reduction="mean", log_target=False):
    """``target (log target - input)`` (``input`` is log-probabilities), reduced; 'batchmean'
    divides the sum by the batch size (torch's composite of elementwise ops)."""
    from refengine.ops import exp, mean, sum as _sum, xlogy
    _check_reduction(reduction, _REDUCTIONS + ("batchmean",))
    if reduction == "mean":
        warnings.warn("reduction: 'mean' divides the total loss by both the batch size and the support size."
                      "'batchmean' divides only by the batch size, and aligns with the KL div math definition."
                      "'mean' will be changed to behave the same as 'batchmean' in the next major release.",
                      UserWarning, stacklevel=2)
    if log_target:
        loss = exp(target) * (target - input)
    else:
        loss = xlogy(target, target) - target * input
    if reduction == "none":
        return loss
    if reduction == "batchmean":
        n = shape_of(input)[0] if len(shape_of(input)) else 1
        return _sum(loss) / n
    return _sum(loss) if reduction == "sum" else mean(loss)
