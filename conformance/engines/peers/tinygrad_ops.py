"""The registry's issue-16 ops spelled with tinygrad 0.14's own Tensor methods (and ``tinygrad.nn`` layers).

Merged into ``tinygrad.OPS``; each entry is ``f(inputs, params) -> Tensor``, params already turned into
tinygrad tensors where they were numpy arrays.  Only torch's conventions are translated here:

* ``dim`` -> ``axis`` (tinygrad takes negative axes as torch does); a sort or top-k of a 0-d tensor is the
  tensor itself (tinygrad's ``sort``/``topk`` index ``shape[dim]`` and raise on 0-d; torch returns the value);
* ``linear``'s weight is (out, in) in torch, (in, out) for ``Tensor.linear`` (``nn.Linear`` transposes too);
* ``pad`` takes torch's flat (last dim first) pairs as they are; ``value=None`` is 0;
* ``interpolate``: torch's ``bilinear`` is tinygrad's ``linear`` over 2 sizes; ``nearest`` is ``nearest``;
* ``layer_norm`` / ``group_norm`` / ``batch_norm`` (training mode, no running statistics) are
  ``nn.LayerNorm`` / ``nn.GroupNorm`` / ``nn.BatchNorm(track_running_stats=False)`` with the drawn weight and
  bias, eps 1e-5 (their defaults, and torch's); ``embedding`` is ``nn.Embedding`` with the drawn weight;
* ``conv1d`` is ``Tensor.conv2d`` on a 3-D input (tinygrad's conv2d is n-d; ``nn.Conv1d`` does the same);
* aliases and spellings: ``fix`` = ``trunc``, ``remainder`` = ``mod`` (floored), ``vdot`` of real vectors =
  ``dot``, ``mv`` = ``matmul``, ``outer``/``ger`` = ``einsum('i,j->ij')``, ``msort`` = ``sort`` along 0,
  ``tile`` = ``repeat`` (ones prepended), ``broadcast_to`` = ``expand``, ``take_along_dim`` (dim given) =
  ``gather``, ``scatter_add`` = ``scatter_reduce(reduce='sum')``, ``narrow`` = ``shrink``, ``unbind(x, d)[k]``
  and ``index_select`` = indexing, ``movedim``/``moveaxis`` = ``permute`` by torch's rule, ``diag`` of a
  matrix = ``diagonal(offset)``;
* composed where torch defines the op as the composition: ``trace`` (the sum of the main diagonal),
  ``diag(v, k)`` of a vector with k != 0 (``diag(v)`` padded to put v on the k-th diagonal), and the losses
  tinygrad has no method for -- ``l1_loss``, ``smooth_l1_loss``, ``huber_loss``, ``kl_div`` -- each the
  reduction of the elementwise expression torch's documentation gives (as ``mse_loss`` in ``tinygrad.OPS``).

Left out (``has_op`` False, cells not-applicable): ops tinygrad 0.14 has no method for -- ``log1p``,
``expm1``, ``erfc``, ``atan2``, ``hypot``, ``xlogy``, ``lgamma``, ``digamma``, ``cross``, ``det``, ``slogdet``,
``inverse``, ``cholesky``, ``glu``, ``cosine_similarity``, ``adaptive_avg_pool2d``, ``kthvalue``, ``median``,
``norm``, ``index_add`` -- and ``solve``/``qr``/``eigh``/``svd`` (mapped elsewhere).
"""
from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

#: one op: (tinygrad tensors, registry params) -> tinygrad tensor
Op = Callable[[list[Any], dict[str, Any]], Any]


def _nn() -> Any:
    return importlib.import_module("tinygrad.nn")  # imported lazily, as the adapter imports tinygrad


def _reduce(v: Any, r: str) -> Any:
    return v.mean() if r == "mean" else v.sum() if r == "sum" else v


def _unary(name: str) -> Op:
    return lambda i, p: getattr(i[0], name)()


def _whole0d(fn: Op) -> Op:
    """A sort / top-k along dim of a 0-d tensor: the tensor itself (torch's answer)."""
    return lambda i, p: i[0] if i[0].ndim == 0 else fn(i, p)


def _at(x: Any, dim: int, index: Any) -> Any:
    """``x`` indexed by ``index`` (an int or a 1-D index tensor) along ``dim``: tinygrad's own indexing."""
    return x[(slice(None),) * (dim % x.ndim) + (index,)]


def _narrow(x: Any, dim: int, start: int, length: int) -> Any:
    d = dim % x.ndim
    s = start % x.shape[d]
    return x.shrink(tuple((s, s + length) if k == d else None for k in range(x.ndim)))


def _movedim(x: Any, source: Any, destination: Any) -> Any:
    """torch.movedim: the moved dims take their destinations, the rest keep their order."""
    n = x.ndim
    src = [s % n for s in (source if isinstance(source, tuple) else (source,))]
    dst = [d % n for d in (destination if isinstance(destination, tuple) else (destination,))]
    rest = iter([k for k in range(n) if k not in src])
    where = dict(zip(dst, src))
    return x.permute(tuple(where[k] if k in where else next(rest) for k in range(n)))


def _tile(x: Any, dims: tuple[int, ...]) -> Any:
    return x.repeat((1,) * (x.ndim - len(dims)) + tuple(dims))


def _diag(x: Any, k: int) -> Any:
    if x.ndim == 2:
        return x.diagonal(offset=k)
    m = x.diag()  # torch.diag(v, k): v on the k-th diagonal of an (n+|k|) square matrix
    return m if k == 0 else m.pad(((0, k), (k, 0)) if k > 0 else ((-k, 0), (0, -k)))


def _layer_norm(i: list[Any], p: dict[str, Any]) -> Any:
    ln = _nn().LayerNorm(p["normalized_shape"], eps=1e-5)
    ln.weight, ln.bias = i[1], i[2]
    return ln(i[0])


def _group_norm(i: list[Any], p: dict[str, Any]) -> Any:
    gn = _nn().GroupNorm(p["num_groups"], i[0].shape[1], eps=1e-5)
    gn.weight, gn.bias = i[1], i[2]
    return gn(i[0])


def _batch_norm(i: list[Any], p: dict[str, Any]) -> Any:
    bn = _nn().BatchNorm(i[0].shape[1], eps=1e-5, track_running_stats=False)  # batch statistics
    bn.weight, bn.bias = i[1], i[2]
    return bn(i[0])


def _embedding(i: list[Any], p: dict[str, Any]) -> Any:
    nn = _nn()
    emb = nn.Embedding.__new__(nn.Embedding)  # __init__ would only draw a random weight to replace
    emb.weight = i[0]
    return emb(p["input"])


def _interpolate(x: Any, p: dict[str, Any]) -> Any:
    if p["mode"] == "nearest":
        return x.interpolate(tuple(p["size"]), mode="nearest")
    return x.interpolate(tuple(p["size"]), mode="linear", align_corners=bool(p["align_corners"]))


# -- losses tinygrad has no method for: the reductions of torch's documented elementwise terms --------
def _smooth_l1(a: Any, b: Any, beta: float) -> Any:
    d = (a - b).abs()  # torch: 0.5 d^2 / beta if d < beta else d - 0.5 beta
    return (d < beta).where(0.5 * d * d / beta, d - 0.5 * beta)


def _huber(a: Any, b: Any, delta: float) -> Any:
    d = (a - b).abs()  # torch: 0.5 d^2 if d < delta else delta (d - 0.5 delta)
    return (d < delta).where(0.5 * d * d, delta * (d - 0.5 * delta))


def _kl_div(i: list[Any], p: dict[str, Any]) -> Any:
    a, t = i[0], i[1]  # torch: target * (log target - input), or exp(t) * (t - input) for a log target
    v = t.exp() * (t - a) if p["log_target"] else t * (t.log() - a)
    return v.sum() / a.shape[0] if p["reduction"] == "batchmean" else _reduce(v, p["reduction"])


OPS: dict[str, Op] = {
    # -- comparisons ------------------------------------------------------------------------------------
    "eq": lambda i, p: i[0].eq(i[1]), "lt": lambda i, p: i[0] < i[1], "gt": lambda i, p: i[0] > i[1],
    # -- elementwise ------------------------------------------------------------------------------------
    **{n: _unary(n) for n in ("tan", "asin", "acos", "atan", "sinh", "cosh", "asinh", "acosh", "atanh", "log2",
                              "log10", "exp2", "rsqrt", "reciprocal", "square", "erf", "silu", "logsigmoid",
                              "sign", "floor", "ceil", "trunc", "round")},
    "fix": _unary("trunc"),
    "logaddexp": lambda i, p: i[0].logaddexp(i[1]),
    "fmod": lambda i, p: i[0].fmod(i[1]), "remainder": lambda i, p: i[0].mod(i[1]),
    "softplus": lambda i, p: i[0].softplus(beta=p["beta"]),
    "elu": lambda i, p: i[0].elu(alpha=p["alpha"]),
    "leaky_relu": lambda i, p: i[0].leaky_relu(neg_slope=p["negative_slope"]),
    "hardtanh": lambda i, p: i[0].hardtanh(min_val=p["min_val"], max_val=p["max_val"]),
    "gelu": lambda i, p: i[0].gelu(approximate=p["approximate"]),  # 'none' (erf) or 'tanh', as torch's
    # -- scans, sorts, std ------------------------------------------------------------------------------
    "cumsum": lambda i, p: i[0].cumsum(p["dim"]), "cumprod": lambda i, p: i[0].cumprod(p["dim"]),
    "cummax": lambda i, p: i[0].cummax(p["dim"])[0], "cummin": lambda i, p: i[0].cummin(p["dim"])[0],
    "sort": _whole0d(lambda i, p: i[0].sort(p["dim"], descending=p["descending"])[0]),
    "msort": lambda i, p: i[0].sort(0)[0],
    "topk": _whole0d(lambda i, p: i[0].topk(p["k"], dim=p["dim"], largest=p["largest"])[0]),
    "std": lambda i, p: i[0].std(axis=p["dim"], keepdim=p["keepdim"], correction=p["correction"]),
    # -- linear algebra ---------------------------------------------------------------------------------
    "dot": lambda i, p: i[0].dot(i[1]), "vdot": lambda i, p: i[0].dot(i[1]),
    "mv": lambda i, p: i[0].matmul(i[1]),
    "outer": lambda i, p: type(i[0]).einsum("i,j->ij", i[0], i[1]),
    "ger": lambda i, p: type(i[0]).einsum("i,j->ij", i[0], i[1]),
    "einsum": lambda i, p: type(i[0]).einsum(p["equation"], i[0], i[1]),
    "trace": lambda i, p: i[0].diagonal().sum(),
    "diag": lambda i, p: _diag(i[0], p["diagonal"]),
    "diagonal": lambda i, p: i[0].diagonal(offset=p["offset"], dim1=p["dim1"], dim2=p["dim2"]),
    "tril": lambda i, p: i[0].tril(p["diagonal"]), "triu": lambda i, p: i[0].triu(p["diagonal"]),
    # -- shape and selection ----------------------------------------------------------------------------
    "flip": lambda i, p: i[0].flip(p["dims"]),
    "roll": lambda i, p: i[0].roll(p["shifts"], p["dims"]),
    "repeat": lambda i, p: i[0].repeat(p["sizes"]),
    "tile": lambda i, p: _tile(i[0], p["dims"]),
    "narrow": lambda i, p: _narrow(i[0], p["dim"], p["start"], p["length"]),
    "chunk": lambda i, p: i[0].chunk(p["chunks"], p["dim"])[p["k"]],
    "unbind": lambda i, p: _at(i[0], p["dim"], p["k"]),
    "movedim": lambda i, p: _movedim(i[0], p["source"], p["destination"]),
    "moveaxis": lambda i, p: _movedim(i[0], p["source"], p["destination"]),
    "broadcast_to": lambda i, p: i[0].expand(p["size"]),
    "gather": lambda i, p: i[0].gather(p["dim"], p["index"]),
    "take_along_dim": lambda i, p: i[0].gather(p["dim"], p["indices"]),
    "scatter_add": lambda i, p: i[0].scatter_reduce(p["dim"], p["index"], i[1], reduce="sum"),
    "index_select": lambda i, p: _at(i[0], p["dim"], p["index"]),
    "masked_fill": lambda i, p: i[0].masked_fill(p["mask"], p["value"]),
    # -- losses -----------------------------------------------------------------------------------------
    "l1_loss": lambda i, p: _reduce((i[0] - i[1]).abs(), p["reduction"]),
    "smooth_l1_loss": lambda i, p: _reduce(_smooth_l1(i[0], i[1], p["beta"]), p["reduction"]),
    "huber_loss": lambda i, p: _reduce(_huber(i[0], i[1], p["delta"]), p["reduction"]),
    "kl_div": _kl_div,
    "binary_cross_entropy": lambda i, p: i[0].binary_crossentropy(i[1], reduction=p["reduction"]),
    "binary_cross_entropy_with_logits": lambda i, p: i[0].binary_crossentropy_logits(i[1], reduction=p["reduction"]),
    # -- nn ---------------------------------------------------------------------------------------------
    "linear": lambda i, p: i[0].linear(i[1].transpose(), i[2]),
    "embedding": _embedding,
    "layer_norm": _layer_norm, "group_norm": _group_norm, "batch_norm": _batch_norm,
    "normalize": lambda i, p: i[0].normalize(p=p["p"], dim=p["dim"], eps=1e-12),
    "pad": lambda i, p: i[0].pad(p["pad"], mode=p["mode"], value=0.0 if p.get("value") is None else p["value"]),
    "conv1d": lambda i, p: i[0].conv2d(i[1], i[2], stride=p["stride"], padding=p["padding"]),
    "conv_transpose2d": lambda i, p: i[0].conv_transpose2d(i[1], i[2], stride=p["stride"], padding=p["padding"]),
    "interpolate": lambda i, p: _interpolate(i[0], p),
}
