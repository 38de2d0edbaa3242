"""numpy twins of the softmax kernels (``_softmax.pyx``)."""
from __future__ import annotations

import numpy as np

from refengine.kernels import validate


def _shift(x, ax):
    # shifted by the max even when it is infinite: a row with +inf, or only -inf, is NaN (torch)
    with np.errstate(invalid="ignore"):
        return x - np.max(x, axis=ax, keepdims=True)


def softmax_forward(x, dim):
    x = validate.float_array(x, "input")
    ax = validate.axis(dim, x.ndim)
    if x.ndim == 0:
        return softmax_forward(x.reshape(1), 0).reshape(())
    if x.size == 0:
        return np.empty(x.shape, x.dtype)
    e = np.exp(_shift(x, ax))
    return (e / np.sum(e, axis=ax, keepdims=True)).astype(x.dtype)


def log_softmax_forward(x, dim):
    x = validate.float_array(x, "input")
    ax = validate.axis(dim, x.ndim)
    if x.ndim == 0:
        return log_softmax_forward(x.reshape(1), 0).reshape(())
    if x.size == 0:
        return np.empty(x.shape, x.dtype)
    s = _shift(x, ax)
    return (s - np.log(np.sum(np.exp(s), axis=ax, keepdims=True))).astype(x.dtype)


def softmax_backward(g, y, dim):
    g, y = validate.same_layout(g, y, ("grad", "output"))
    ax = validate.axis(dim, g.ndim)
    if g.ndim == 0:  # the one-element row: the same formula, so a NaN output stays NaN
        return softmax_backward(g.reshape(1), y.reshape(1), 0).reshape(())
    return (y * (g - np.sum(g * y, axis=ax, keepdims=True))).astype(g.dtype)


def log_softmax_backward(g, y, dim):
    g, y = validate.same_layout(g, y, ("grad", "output"))
    ax = validate.axis(dim, g.ndim)
    if g.ndim == 0:
        return g - np.exp(y) * g
    return (g - np.exp(y) * np.sum(g, axis=ax, keepdims=True)).astype(g.dtype)


def logsumexp_forward(x, dim):
    x = validate.float_array(x, "input")
    ax = validate.axis(dim, x.ndim)
    if x.ndim == 0:
        return logsumexp_forward(x.reshape(1), 0).reshape(())
    m = np.max(x, axis=ax, keepdims=True) if x.size else np.zeros((1,) * x.ndim, x.dtype)
    m = np.where(np.isfinite(m), m, 0)       # an infinite max: shift by 0 (inf stays inf, -inf -inf)
    with np.errstate(divide="ignore"):
        return (np.log(np.sum(np.exp(x - m), axis=ax)) + np.squeeze(m, ax)).astype(x.dtype)


def logsumexp_backward(g, x, result, dim):
    x = validate.float_array(x, "input")
    ax = validate.axis(dim, x.ndim)
    g, result = validate.same_layout(g, result, ("grad", "result"))
    reduced = tuple(s for i, s in enumerate(x.shape) if i != ax)
    if g.shape != reduced or g.dtype != x.dtype:
        raise ValueError(f"grad has shape {g.shape} ({g.dtype}) but logsumexp of {x.shape} ({x.dtype}) "
                         f"over dim {dim} has shape {reduced}; expected equal shapes and dtypes")
    if x.ndim == 0:
        return (g * np.exp(x - result)).astype(x.dtype)
    e = np.exp(x - np.expand_dims(result, ax))
    return (np.expand_dims(g, ax) * e).astype(x.dtype)
