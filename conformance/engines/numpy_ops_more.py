"""More registry ops with a numpy-style module ``xp``: merged into :func:`numpy_ops.numpy_ops`'s table.

Same rules as there: only the module's own functions are called (a dotted name such as
``linalg.det`` is looked up on ``xp``), an op whose functions the module lacks is left out, and
torch's conventions are translated, never re-implemented:

* aliases: ``fix`` is torch's alias of ``trunc`` (used where the module has no ``fix``: jax.numpy
  0.10); ``round`` rounds half to even in torch, as numpy's ``rint`` does (used where the module has
  no ``round``: mygrad); ``flip`` and ``index_select`` are indexing (used where the module has no
  ``flip`` / ``take``);
* ``kthvalue`` and the lower ``median`` (torch's: the ((n - 1) // 2)-th smallest, never an average)
  are numpy's own k-th order statistic, ``partition(x, kth, axis)``, read at ``kth``;
* ``norm(p, dim)`` is a vector p-norm over ``dim``: numpy's ``linalg.norm`` of one axis (the dims
  reduced are moved last and merged into one axis: ``linalg.norm`` of two axes or of a 2-d array
  with ``axis=None`` is a *matrix* norm);
* ``pad``: torch's (last dim first) pairs -> numpy's pairs for every dim; ``replicate`` is numpy's
  ``edge``, ``reflect`` is numpy's ``reflect`` (edge not repeated) in both;
* the linalg templates' inputs: ``x0 + diag(x1)`` (det, slogdet, inverse), ``x0 x0^T + diag(x1)``
  (cholesky); ``cholesky(upper=True)`` is ``L^T`` (torch: U = L^H);
* ``embedding`` is ``weight[input]`` (torch: a lookup table).

Composites.  Where torch *defines* an op as an expression of simpler ones (its documentation gives
the formula), that expression is written with the module's functions: the losses (l1, smooth_l1,
huber, kl_div, binary_cross_entropy(_with_logits): an elementwise expression then the reduction),
``linear`` (x A^T + b), ``hardtanh`` (clamp), ``leaky_relu`` (max(0, x) + slope min(0, x)), ``elu``,
``silu`` (x sigmoid(x)), ``logsigmoid``, ``softplus`` (log(1 + exp(beta x)) / beta), ``glu``
(a sigmoid(b)), ``normalize`` (x / max(||x||_p, eps)), ``cosine_similarity`` (x1.x2 / max(||x1||
||x2||, eps)) and the normalisations (``layer_norm``, ``group_norm``, ``batch_norm`` in training
mode: (x - E[x]) / sqrt(Var[x] + eps) * weight + bias, biased variance).  An engine's own function
for any of them (``jax.nn.silu``, ``mygrad.nnet.batchnorm``...) replaces the composite in the
adapter's ``engine_ops``.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

Op = Callable[[list[Any], dict[str, Any]], Any]

EPS = 1e-5  # torch's default eps of layer_norm, group_norm, batch_norm


def _c(x: Any, v: float) -> np.ndarray:
    """A constant of torch's formula in ``x``'s dtype, as torch computes it (a 0-d array, never a Python float:
    a module that makes Python floats float64 arrays, as MyGrad does, would turn a float32 op float64)."""
    return np.asarray(v, dtype=numpy_dtype(x.dtype))


def numpy_dtype(dtype: Any) -> np.dtype:
    """numpy's dtype for an engine's dtype object: numpy's own, TensorFlow's ``tf.float64`` (``as_numpy_dtype``),
    or one whose name ends like numpy's (``paddle.float64``, ``torch.float32``)."""
    try:
        return np.dtype(dtype)
    except TypeError:
        as_numpy = getattr(dtype, "as_numpy_dtype", None)
        return np.dtype(as_numpy if as_numpy is not None else str(dtype).rsplit(".", 1)[-1])


def has_function(xp: Any, name: str) -> bool:
    """``xp`` has the (possibly dotted: ``linalg.det``) function ``name``."""
    obj = xp
    for part in name.split("."):
        if not hasattr(obj, part):
            return False
        obj = getattr(obj, part)
    return True


def _reduce(xp: Any, v: Any, reduction: str) -> Any:
    return xp.mean(v) if reduction == "mean" else xp.sum(v) if reduction == "sum" else v


def _along(x: Any, dim: int, key: Any) -> Any:
    """``x[..., key, ...]`` with ``key`` at ``dim``."""
    idx: list[Any] = [slice(None)] * len(x.shape)
    idx[dim] = key
    return x[tuple(idx)]


def _kth(xp: Any, x: Any, kth: int, dim: int, keepdim: bool) -> Any:
    """The (kth + 1)-th smallest along ``dim``: numpy's ``partition`` puts it at index ``kth``."""
    part = xp.partition(x, kth, axis=dim)
    return _along(part, dim, slice(kth, kth + 1) if keepdim else kth)


def _kthvalue(xp: Any, x: Any, p: dict[str, Any]) -> Any:
    if len(x.shape) == 0:
        return x  # torch: the one element, whatever keepdim
    return _kth(xp, x, p["k"] - 1, p["dim"], p["keepdim"])


def _median(xp: Any, x: Any, p: dict[str, Any]) -> Any:
    """torch's median is the lower median, the ((n - 1) // 2)-th smallest; dim=None: of every element."""
    if p["dim"] is None:
        flat = xp.reshape(x, (-1,))
        return _kth(xp, flat, (flat.shape[0] - 1) // 2, 0, False)
    if len(x.shape) == 0:
        return x
    return _kth(xp, x, (x.shape[p["dim"]] - 1) // 2, p["dim"], p["keepdim"])


def vector_norm(xp: Any, x: Any, p: Any, dim: Any, keepdim: bool) -> Any:
    """torch's vector p-norm over ``dim`` (None: every dim) with numpy's one-axis ``linalg.norm``.

    The reduced dims are moved last and merged (a reshape), so ``linalg.norm`` sees one axis and
    computes a vector norm; with keepdim the reduced dims come back as 1s.
    """
    nd = len(x.shape)
    dims = tuple(range(nd)) if dim is None or nd == 0 else tuple(d % nd for d in np.atleast_1d(dim))
    kept = [d for d in range(nd) if d not in dims]
    y = xp.transpose(x, tuple(kept) + dims) if nd else x
    y = xp.reshape(y, tuple(x.shape[d] for d in kept) + (-1,))
    out = xp.linalg.norm(y, ord=p, axis=-1)
    if keepdim:
        out = xp.reshape(out, tuple(1 if d in dims else x.shape[d] for d in range(nd)))
    return out


def torch_pad_widths(x: Any, pad: tuple[int, ...]) -> list[tuple[int, int]]:
    """torch's (last dim first) pairs -> numpy's pairs for every dim, first dim first."""
    k = len(pad) // 2
    return [(0, 0)] * (len(x.shape) - k) + [(pad[2 * i], pad[2 * i + 1]) for i in reversed(range(k))]


def _pad(xp: Any, x: Any, p: dict[str, Any]) -> Any:
    widths = torch_pad_widths(x, p["pad"])
    if p["mode"] == "constant":
        return xp.pad(x, widths, mode="constant", constant_values=0.0 if p["value"] is None else p["value"])
    return xp.pad(x, widths, mode={"reflect": "reflect", "replicate": "edge"}[p["mode"]])


def _normalized(xp: Any, x: Any, axes: tuple[int, ...]) -> Any:
    """(x - E[x]) / sqrt(Var[x] + eps) over ``axes``, the biased variance: torch's normalisation layers."""
    mu = xp.mean(x, axis=axes, keepdims=True)
    var = xp.var(x, axis=axes, keepdims=True)
    return xp.divide(xp.subtract(x, mu), xp.sqrt(xp.add(var, _c(x, EPS))))


def _channels(xp: Any, v: Any, nd: int) -> Any:
    """A per-channel (C,) weight as (1, C, 1, ...) against an (N, C, ...) input."""
    return xp.reshape(v, (1, -1) + (1,) * (nd - 2))


def _sigmoid(xp: Any, x: Any) -> Any:
    """torch.sigmoid(x) = 1 / (1 + exp(-x)) (for the composites torch defines with it: silu, glu)."""
    one = _c(x, 1.0)
    return xp.divide(one, xp.add(one, xp.exp(xp.negative(x))))


def _log_sigmoid(xp: Any, x: Any) -> Any:
    """log(1 / (1 + exp(-x))) = -log(1 + exp(-x)), numpy's ``logaddexp(0, -x)`` negated."""
    return xp.negative(xp.logaddexp(_c(x, 0.0), xp.negative(x)))


def _glu(xp: Any, x: Any, dim: int, sigmoid: Callable[[Any], Any]) -> Any:
    """torch.nn.functional.glu: a * sigmoid(b), a and b the first and second halves of ``x`` along ``dim``."""
    half = x.shape[dim] // 2
    return xp.multiply(_along(x, dim, slice(0, half)), sigmoid(_along(x, dim, slice(half, None))))


def fallback_entries(xp: Any) -> list[tuple[str, str, Op]]:
    """Ops spelled another way where the module lacks numpy's usual function (the table's own entry,
    when its function exists, comes later and wins)."""
    def flip(x: Any, dims: tuple[int, ...]) -> Any:
        nd = len(x.shape)
        rev = {d % nd for d in dims}
        return x[tuple(slice(None, None, -1) if d in rev else slice(None) for d in range(nd))]

    return [
        ("fix", "trunc", lambda i, p: xp.trunc(i[0])),  # torch.fix is torch's alias of torch.trunc
        ("round", "rint", lambda i, p: xp.rint(i[0])),  # rint rounds half to even, like torch.round
        ("flip", "getitem", lambda i, p: flip(i[0], p["dims"])),
        ("index_select", "getitem", lambda i, p: _along(i[0], p["dim"] % len(i[0].shape), p["index"])),
    ]


def more_entries(xp: Any) -> list[tuple[str, str, Op]]:
    """The registry ops numpy_ops does not map itself (same format: op, the functions it needs, f)."""
    def dominant(i: list[Any]) -> Any:  # det / slogdet / inverse templates: x0 + diag(x1)
        return xp.add(i[0], xp.diag(i[1]))

    def spd(i: list[Any]) -> Any:  # cholesky's template: x0 x0^T + diag(x1)
        return xp.add(xp.matmul(i[0], xp.swapaxes(i[0], -1, -2)), xp.diag(i[1]))

    def cholesky(i: list[Any], p: dict[str, Any]) -> Any:
        low = xp.linalg.cholesky(spd(i))
        return xp.swapaxes(low, -1, -2) if p["upper"] else low  # torch: upper=True gives U = L^T

    def loss(elementwise: Callable[[Any, Any, dict[str, Any]], Any]) -> Op:
        return lambda i, p: _reduce(xp, elementwise(i[0], i[1], p), p["reduction"])

    def smooth_l1(x: Any, y: Any, p: dict[str, Any]) -> Any:
        # torch: 0.5 d^2 / beta where |d| < beta, else |d| - 0.5 beta
        d = xp.abs(xp.subtract(x, y))
        b = p["beta"]
        return xp.where(d < b, xp.multiply(_c(x, 0.5 / b), xp.square(d)), xp.subtract(d, _c(x, 0.5 * b)))

    def huber(x: Any, y: Any, p: dict[str, Any]) -> Any:
        # torch: 0.5 d^2 where |d| < delta, else delta (|d| - 0.5 delta)
        d = xp.abs(xp.subtract(x, y))
        k = p["delta"]
        return xp.where(d < k, xp.multiply(_c(x, 0.5), xp.square(d)),
                        xp.multiply(_c(x, k), xp.subtract(d, _c(x, 0.5 * k))))

    def kl_div(i: list[Any], p: dict[str, Any]) -> Any:
        # torch: target (log target - input), or exp(target) (target - input) with log_target; batchmean = sum / N
        x, t = i
        v = (xp.multiply(xp.exp(t), xp.subtract(t, x)) if p["log_target"]
             else xp.multiply(t, xp.subtract(xp.log(t), x)))
        if p["reduction"] == "batchmean":
            return xp.divide(xp.sum(v), _c(x, x.shape[0]))
        return _reduce(xp, v, p["reduction"])

    def bce(x: Any, t: Any, p: dict[str, Any]) -> Any:
        # torch: -(t log x + (1 - t) log(1 - x)), each log clamped at -100
        one, floor = _c(x, 1.0), _c(x, -100.0)
        lx = xp.maximum(xp.log(x), floor)
        l1x = xp.maximum(xp.log(xp.subtract(one, x)), floor)
        return xp.negative(xp.add(xp.multiply(t, lx), xp.multiply(xp.subtract(one, t), l1x)))

    def bce_logits(x: Any, t: Any, p: dict[str, Any]) -> Any:
        # torch: -(t log sigmoid(x) + (1 - t) log(1 - sigmoid(x))), 1 - sigmoid(x) = sigmoid(-x)
        return xp.negative(xp.add(xp.multiply(t, _log_sigmoid(xp, x)),
                                  xp.multiply(xp.subtract(_c(x, 1.0), t), _log_sigmoid(xp, xp.negative(x)))))

    def layer_norm(i: list[Any], p: dict[str, Any]) -> Any:
        x, k = i[0], len(p["normalized_shape"])
        nd = len(x.shape)
        y = _normalized(xp, x, tuple(range(nd - k, nd)))
        return xp.add(xp.multiply(y, i[1]), i[2])

    def group_norm(i: list[Any], p: dict[str, Any]) -> Any:
        x = i[0]
        y = xp.reshape(_normalized(xp, xp.reshape(x, (x.shape[0], p["num_groups"], -1)), (2,)), x.shape)
        nd = len(x.shape)
        return xp.add(xp.multiply(y, _channels(xp, i[1], nd)), _channels(xp, i[2], nd))

    def batch_norm(i: list[Any], p: dict[str, Any]) -> Any:  # training mode: the batch's statistics
        x = i[0]
        nd = len(x.shape)
        y = _normalized(xp, x, (0,) + tuple(range(2, nd)))
        return xp.add(xp.multiply(y, _channels(xp, i[1], nd)), _channels(xp, i[2], nd))

    def normalize(x: Any, p: dict[str, Any]) -> Any:
        # torch: x / max(||x||_p, eps) along dim, eps = 1e-12
        return xp.divide(x, xp.maximum(vector_norm(xp, x, p["p"], p["dim"], True), _c(x, 1e-12)))

    def cosine_similarity(a: Any, b: Any, dim: int) -> Any:
        # torch: sum(x1 x2) / max(||x1|| ||x2||, eps) along dim, eps = 1e-8
        na = xp.sqrt(xp.sum(xp.multiply(a, a), axis=dim))
        nb = xp.sqrt(xp.sum(xp.multiply(b, b), axis=dim))
        return xp.divide(xp.sum(xp.multiply(a, b), axis=dim), xp.maximum(xp.multiply(na, nb), _c(a, 1e-8)))

    return [
        # -- selections: numpy's k-th order statistic --------------------------------------------------
        ("kthvalue", "partition getitem", lambda i, p: _kthvalue(xp, i[0], p)),
        ("median", "partition reshape getitem", lambda i, p: _median(xp, i[0], p)),
        ("norm", "linalg.norm transpose reshape",
         lambda i, p: vector_norm(xp, i[0], p["p"], p["dim"], p["keepdim"])),
        # -- linalg --------------------------------------------------------------------------------
        ("det", "linalg.det diag add", lambda i, p: xp.linalg.det(dominant(i))),
        ("slogdet", "linalg.slogdet diag add", lambda i, p: xp.linalg.slogdet(dominant(i))[1]),
        ("inverse", "linalg.inv diag add", lambda i, p: xp.linalg.inv(dominant(i))),
        ("cholesky", "linalg.cholesky diag add matmul swapaxes", cholesky),
        # -- shape ---------------------------------------------------------------------------------
        ("pad", "pad", lambda i, p: _pad(xp, i[0], p)),
        ("embedding", "getitem", lambda i, p: i[0][p["input"]]),
        # -- activations torch defines as expressions ------------------------------------------------
        ("hardtanh", "clip", lambda i, p: xp.clip(i[0], p["min_val"], p["max_val"])),  # torch: clamp
        ("leaky_relu", "maximum minimum add multiply",  # torch: max(0, x) + negative_slope * min(0, x)
         lambda i, p: xp.add(xp.maximum(i[0], _c(i[0], 0.0)),
                             xp.multiply(_c(i[0], p["negative_slope"]), xp.minimum(i[0], _c(i[0], 0.0))))),
        ("elu", "where expm1 multiply",  # torch: x where x > 0, else alpha (exp(x) - 1)
         lambda i, p: xp.where(i[0] > 0, i[0], xp.multiply(_c(i[0], p["alpha"]), xp.expm1(i[0])))),
        ("silu", "multiply divide add exp negative", lambda i, p: xp.multiply(i[0], _sigmoid(xp, i[0]))),
        ("logsigmoid", "logaddexp negative", lambda i, p: _log_sigmoid(xp, i[0])),
        ("softplus", "logaddexp multiply divide",  # torch: log(1 + exp(beta x)) / beta (linear above beta x = 20,
         # beyond the drawn range)
         lambda i, p: xp.divide(xp.logaddexp(_c(i[0], 0.0), xp.multiply(_c(i[0], p["beta"]), i[0])),
                                _c(i[0], p["beta"]))),
        ("glu", "getitem multiply divide add exp negative",
         lambda i, p: _glu(xp, i[0], p["dim"], lambda b: _sigmoid(xp, b))),
        # -- losses: torch's elementwise expression, then the reduction --------------------------------
        ("l1_loss", "abs subtract mean sum", loss(lambda x, y, p: xp.abs(xp.subtract(x, y)))),
        ("smooth_l1_loss", "abs subtract where multiply square mean sum", loss(smooth_l1)),
        ("huber_loss", "abs subtract where multiply square mean sum", loss(huber)),
        ("kl_div", "exp log multiply subtract divide mean sum", kl_div),
        ("binary_cross_entropy", "log maximum subtract multiply add negative mean sum", loss(bce)),
        ("binary_cross_entropy_with_logits", "logaddexp subtract multiply add negative mean sum", loss(bce_logits)),
        # -- nn ------------------------------------------------------------------------------------
        ("linear", "matmul swapaxes add",  # torch: x A^T + b
         lambda i, p: xp.add(xp.matmul(i[0], xp.swapaxes(i[1], 0, 1)), i[2])),
        ("layer_norm", "mean var sqrt subtract divide add multiply", layer_norm),
        ("group_norm", "mean var sqrt subtract divide add multiply reshape", group_norm),
        ("batch_norm", "mean var sqrt subtract divide add multiply reshape", batch_norm),
        ("normalize", "linalg.norm transpose reshape maximum divide", lambda i, p: normalize(i[0], p)),
        ("cosine_similarity", "sqrt sum multiply maximum divide",
         lambda i, p: cosine_similarity(i[0], i[1], p["dim"])),
    ]
