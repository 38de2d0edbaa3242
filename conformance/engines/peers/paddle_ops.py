"""The registry's ops spelled with PaddlePaddle 3.x functions: ``ops(paddle)`` -> {op: f(inputs, params)}.

Each entry calls Paddle's own function (``paddle.*``, ``paddle.linalg.*``, ``paddle.nn.functional.*``
or a Tensor method) with Paddle's argument names; only torch's conventions are translated here, never
an op re-implemented:

* ``dim`` -> ``axis``; dim 0 / -1 of a 0-d tensor is the whole tensor (``axis=None``, or the tensor
  itself for a scan or a sort, which Paddle would give shape (1,) or refuse);
* ``correction`` -> ``unbiased``; ``split`` by chunk size and ``chunk`` (pieces of ceil(n / chunks),
  fewer of them when they do not divide n; ``paddle.chunk`` needs equal pieces) -> a list of sections;
* ``transpose(d0, d1)`` -> a permutation; ``linear``'s weight is (out, in) in torch, (in, out) in Paddle;
* ``pad`` is torch's (last dim first) pairs: a constant pad becomes Paddle's full list for every dim
  from the first (``pad_from_left_axis``); reflect and replicate pad the spatial dims of an N, C, ...
  input, which is Paddle's own order ([left, right, top, bottom]);
* ``smooth_l1_loss(beta)`` and ``huber_loss(delta)`` are Paddle's ``smooth_l1_loss(delta=..., is_huber=...)``;
* ``layer_norm``: Paddle's weight and bias are flat, and a normalisation over every dim of x gets a
  leading dim of 1 (Paddle requires ``begin_norm_axis > 0``);
* ``interpolate``: Paddle's nearest mode takes 4-D or 5-D input only: a 3-D (N, C, W) input is resized as
  (N, C, 1, W) to (1, size), which keeps its one row;
* ``batch_norm`` without running statistics: Paddle requires the two buffers, so fresh ones are passed
  (training mode normalises with the batch statistics and only writes the buffers);
* ``median`` is the lower median (``mode='min'``); ``norm`` is the vector p-norm over ``dim``
  (``paddle.linalg.vector_norm``: ``paddle.norm`` of two dims is a matrix norm);
* ``slogdet`` returns [sign, logabsdet] stacked on a new first axis: logabsdet is row 1;
* aliases: ``fix`` is torch's alias of ``trunc`` (``paddle.trunc``), ``movedim`` of ``moveaxis``,
  ``vdot`` of real vectors is ``paddle.linalg.vecdot``, ``conv_transpose2d`` is ``conv2d_transpose``.

Left out (``has_op`` False, so the harness reports them not-applicable): ops Paddle 3.3.1 has no
function for -- ``exp2``, ``erfc``, ``xlogy``, ``fmod`` (``paddle.mod`` is the floored ``remainder``).
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from conformance.spec.ops import decompositions

#: one op: (Paddle tensors, registry params) -> Paddle tensor
Op = Callable[[list[Any], dict[str, Any]], Any]


def _axis(x: Any, dim: Any) -> Any:
    """torch's dim for a reduction: None, an int or a tuple; dim 0/-1 of a 0-d tensor is the whole tensor."""
    if dim is None or len(x.shape) == 0:
        return None
    return list(dim) if isinstance(dim, tuple) else dim


def _perm_swap(n: int, d0: int, d1: int) -> list[int]:
    perm = list(range(n))
    perm[d0 % n], perm[d1 % n] = perm[d1 % n], perm[d0 % n]
    return perm


def _sections(n: int, size: int) -> list[int]:
    """torch.split(x, size): chunks of ``size``, the last one smaller; Paddle takes the list of sizes."""
    return [size] * (n // size) + ([n % size] if n % size else [])


def _torch_pad(x: Any, pad: tuple[int, ...]) -> list[int]:
    """torch's (last dim first) pairs -> Paddle's pairs for every dim, first dim first."""
    k = len(pad) // 2
    pairs = [[0, 0]] * (len(x.shape) - k) + [list(pad[2 * i:2 * i + 2]) for i in reversed(range(k))]
    return [w for pair in pairs for w in pair]


def _numpy_names(paddle: Any) -> Any:
    """The numpy-style names decompositions.numpy_style_ops calls, spelled with Paddle's functions."""
    from types import SimpleNamespace
    return SimpleNamespace(
        diag=paddle.diag, outer=paddle.outer, sum=paddle.sum, matmul=paddle.matmul, sign=paddle.sign,
        cumsum=lambda x, axis: paddle.cumsum(x, axis=axis), expand_dims=paddle.unsqueeze,
        swapaxes=lambda x, a, b: paddle.transpose(x, _perm_swap(len(x.shape), a, b)),
        diagonal=lambda x, o, a, b: paddle.diagonal(x, offset=o, axis1=a, axis2=b),
        concatenate=lambda xs, axis: paddle.concat(xs, axis=axis),
        broadcast_to=lambda x, shape: paddle.broadcast_to(x, list(shape)))


def ops(paddle: Any) -> dict[str, Op]:
    F = paddle.nn.functional
    L = paddle.linalg

    def red(fn: Any) -> Op:
        return lambda i, p: fn(i[0], axis=_axis(i[0], p["dim"]), keepdim=p["keepdim"])

    def unary(fn: Any) -> Op:
        return lambda i, p: fn(i[0])

    def binary(fn: Any) -> Op:
        return lambda i, p: fn(i[0], i[1])

    def along(fn: Any) -> Op:
        """A scan or sort along ``dim`` whose result has x's shape: a 0-d x is its own result."""
        return lambda i, p: i[0] if len(i[0].shape) == 0 else fn(i[0], p)

    def keep_k(fn: Any) -> Op:
        """topk / kthvalue / median along dim: a 0-d x has one element, the value itself (keepdim or not)."""
        return lambda i, p: i[0] if len(i[0].shape) == 0 else fn(i[0], p)

    def squeeze(x: Any, dim: Any) -> Any:
        return paddle.squeeze(x) if dim is None else paddle.squeeze(x, axis=dim)

    def dominant(i: list[Any]) -> Any:  # the linalg templates' x0 + diag(x1)
        return i[0] + paddle.diag(i[1])

    def spd(i: list[Any]) -> Any:  # cholesky's matmul(x0, x0^T) + diag(x1)
        n = len(i[0].shape)
        return paddle.matmul(i[0], paddle.transpose(i[0], _perm_swap(n, -2, -1))) + paddle.diag(i[1])

    def pad(x: Any, p: dict[str, Any]) -> Any:
        if p["mode"] == "constant":
            return F.pad(x, _torch_pad(x, p["pad"]), mode="constant", value=p["value"], pad_from_left_axis=True)
        fmt = {3: "NCL", 4: "NCHW", 5: "NCDHW"}[len(x.shape)]
        return F.pad(x, list(p["pad"]), mode=p["mode"], data_format=fmt)

    def interpolate(x: Any, p: dict[str, Any]) -> Any:
        if len(x.shape) == 3:  # Paddle's nearest takes 4-D or 5-D only: (N, C, W) as (N, C, 1, W), a row kept as is
            y = F.interpolate(paddle.unsqueeze(x, 2), size=[1, *p["size"]], mode=p["mode"])
            return paddle.squeeze(y, 2)
        return F.interpolate(x, size=list(p["size"]), mode=p["mode"], align_corners=bool(p["align_corners"]))

    def chunk(i: list[Any], p: dict[str, Any]) -> Any:
        n = i[0].shape[p["dim"]]
        return paddle.split(i[0], _sections(n, -(-n // p["chunks"])), axis=p["dim"])[p["k"]]

    def layer_norm(i: list[Any], p: dict[str, Any]) -> Any:
        # Paddle's weight and bias are 1-D (prod(normalized_shape)), and it refuses to normalise over every
        # dim (begin_norm_axis must be > 0): a leading dim of 1 is added and taken off again
        x, k = i[0], len(p["normalized_shape"])
        whole = k == len(x.shape)
        y = F.layer_norm(paddle.unsqueeze(x, 0) if whole else x, list(p["normalized_shape"]),
                         paddle.flatten(i[1]), paddle.flatten(i[2]), epsilon=1e-5)
        return paddle.squeeze(y, 0) if whole else y

    def batch_norm(i: list[Any], p: dict[str, Any]) -> Any:
        c = i[0].shape[1]
        mean, var = paddle.zeros([c], dtype=i[0].dtype), paddle.ones([c], dtype=i[0].dtype)
        return F.batch_norm(i[0], mean, var, i[1], i[2], training=True, epsilon=1e-5)

    def loss(fn: Any, **kw: Any) -> Op:
        return lambda i, p: fn(i[0], i[1], reduction=p["reduction"], **{k: p[v] for k, v in kw.items()})

    return {
        # -- elementwise ------------------------------------------------------------------------------
        "add": binary(paddle.add), "sub": binary(paddle.subtract), "mul": binary(paddle.multiply),
        "div": binary(paddle.divide), "pow": binary(paddle.pow),
        "maximum": binary(paddle.maximum), "minimum": binary(paddle.minimum),
        "where": lambda i, p: paddle.where(p["cond"], i[0], i[1]),
        "clamp": lambda i, p: paddle.clip(i[0], p["lo"], p["hi"]),
        **{n: unary(getattr(paddle, n)) for n in (
            "neg", "exp", "log", "sqrt", "sin", "cos", "tanh", "abs", "tan", "asin", "acos", "atan", "sinh", "cosh",
            "asinh", "acosh", "atanh", "log1p", "expm1", "log2", "log10", "rsqrt", "reciprocal", "square", "erf",
            "lgamma", "digamma", "sign", "floor", "ceil", "trunc", "round")},
        "fix": unary(paddle.trunc),
        **{n: binary(getattr(paddle, n)) for n in ("atan2", "hypot", "logaddexp", "remainder")},
        "eq": binary(paddle.equal), "lt": binary(paddle.less_than), "gt": binary(paddle.greater_than),
        "sigmoid": unary(F.sigmoid), "relu": unary(F.relu), "silu": unary(F.silu), "logsigmoid": unary(F.log_sigmoid),
        "softplus": lambda i, p: F.softplus(i[0], beta=p["beta"]),
        "elu": lambda i, p: F.elu(i[0], alpha=p["alpha"]),
        "leaky_relu": lambda i, p: F.leaky_relu(i[0], negative_slope=p["negative_slope"]),
        "hardtanh": lambda i, p: F.hardtanh(i[0], min=p["min_val"], max=p["max_val"]),
        "gelu": lambda i, p: F.gelu(i[0], approximate=p["approximate"] == "tanh"),
        # -- reductions -------------------------------------------------------------------------------
        "sum": red(paddle.sum), "mean": red(paddle.mean), "max": red(paddle.max), "min": red(paddle.min),
        "amax": red(paddle.amax), "amin": red(paddle.amin), "logsumexp": red(paddle.logsumexp),
        "prod": red(paddle.prod),
        "var": lambda i, p: paddle.var(i[0], axis=_axis(i[0], p["dim"]), unbiased=bool(p["correction"]),
                                       keepdim=p["keepdim"]),
        "std": lambda i, p: paddle.std(i[0], axis=_axis(i[0], p["dim"]), unbiased=bool(p["correction"]),
                                       keepdim=p["keepdim"]),
        "norm": lambda i, p: L.vector_norm(i[0], p=float(p["p"]), axis=_axis(i[0], p["dim"]), keepdim=p["keepdim"]),
        # -- scans and selections ---------------------------------------------------------------------
        "cumsum": along(lambda x, p: paddle.cumsum(x, axis=p["dim"])),
        "cumprod": along(lambda x, p: paddle.cumprod(x, dim=p["dim"])),
        "cummax": along(lambda x, p: paddle.cummax(x, axis=p["dim"])[0]),
        "cummin": along(lambda x, p: paddle.cummin(x, axis=p["dim"])[0]),
        "sort": along(lambda x, p: paddle.sort(x, axis=p["dim"], descending=p["descending"])),
        "msort": unary(paddle.msort),
        "topk": keep_k(lambda x, p: paddle.topk(x, p["k"], axis=p["dim"], largest=p["largest"])[0]),
        "kthvalue": keep_k(lambda x, p: paddle.kthvalue(x, p["k"], axis=p["dim"], keepdim=p["keepdim"])[0]),
        "median": lambda i, p: paddle.median(i[0], mode="min") if p["dim"] is None else keep_k(
            lambda x, q: paddle.median(x, axis=q["dim"], keepdim=q["keepdim"], mode="min")[0])(i, p),
        # -- linear algebra ---------------------------------------------------------------------------
        "matmul": binary(paddle.matmul), "mm": binary(paddle.mm), "bmm": binary(paddle.bmm),
        "dot": binary(paddle.dot), "vdot": binary(L.vecdot), "mv": binary(paddle.mv),
        "outer": binary(paddle.outer), "ger": binary(paddle.ger),
        "cross": lambda i, p: paddle.cross(i[0], i[1], axis=p["dim"]),
        "einsum": lambda i, p: paddle.einsum(p["equation"], i[0], i[1]),
        "trace": unary(paddle.trace),
        "diag": lambda i, p: paddle.diag(i[0], offset=p["diagonal"]),
        "diagonal": lambda i, p: paddle.diagonal(i[0], offset=p["offset"], axis1=p["dim1"], axis2=p["dim2"]),
        "tril": lambda i, p: paddle.tril(i[0], p["diagonal"]), "triu": lambda i, p: paddle.triu(i[0], p["diagonal"]),
        "det": lambda i, p: L.det(dominant(i)),
        "slogdet": lambda i, p: L.slogdet(dominant(i))[1],
        "inverse": lambda i, p: L.inv(dominant(i)),
        "cholesky": lambda i, p: L.cholesky(spd(i), upper=p["upper"]),
        # solve, qr, eigh, svd: the registry's matrices and outputs (spec/ops/decompositions.py) with paddle.linalg's
        **decompositions.numpy_style_ops(_numpy_names(paddle), L.solve, L.qr, L.eigh,
                                         lambda a: L.svd(a, full_matrices=False)),
        # -- shape and indexing -----------------------------------------------------------------------
        "transpose": lambda i, p: paddle.transpose(i[0], _perm_swap(len(i[0].shape), p["dim0"], p["dim1"])),
        "permute": lambda i, p: paddle.transpose(i[0], list(p["dims"])),
        "reshape": lambda i, p: paddle.reshape(i[0], list(p["shape"])),
        "view": lambda i, p: i[0].view(list(p["shape"])),
        "expand": lambda i, p: paddle.expand(i[0], list(p["shape"])),
        "squeeze": lambda i, p: squeeze(i[0], p["dim"]),
        "unsqueeze": lambda i, p: paddle.unsqueeze(i[0], axis=p["dim"]),
        "flatten": lambda i, p: paddle.flatten(i[0], start_axis=p["start_dim"], stop_axis=p["end_dim"]),
        "cat": lambda i, p: paddle.concat([i[0], i[1]], axis=p["dim"]),
        "stack": lambda i, p: paddle.stack([i[0], i[1]], axis=p["dim"]),
        "split": lambda i, p: paddle.split(i[0], _sections(i[0].shape[p["dim"]], p["size"]), axis=p["dim"])[p["k"]],
        "chunk": chunk,
        "unbind": lambda i, p: paddle.unbind(i[0], axis=p["dim"])[p["k"]],
        "narrow": lambda i, p: paddle.narrow(i[0], p["dim"], p["start"], p["length"]),
        "index": lambda i, p: i[0][p["index"]],
        "flip": lambda i, p: paddle.flip(i[0], axis=list(p["dims"])),
        "roll": lambda i, p: paddle.roll(i[0], p["shifts"], axis=p["dims"]),
        "repeat": lambda i, p: i[0].repeat(list(p["sizes"])),
        "tile": lambda i, p: paddle.tile(i[0], list(p["dims"])),
        "movedim": lambda i, p: paddle.moveaxis(i[0], p["source"], p["destination"]),
        "moveaxis": lambda i, p: paddle.moveaxis(i[0], p["source"], p["destination"]),
        "broadcast_to": lambda i, p: paddle.broadcast_to(i[0], list(p["size"])),
        "gather": lambda i, p: paddle.take_along_axis(i[0], p["index"], axis=p["dim"], broadcast=False),
        "take_along_dim": lambda i, p: paddle.take_along_dim(i[0], p["indices"], axis=p["dim"]),
        "scatter_add": lambda i, p: paddle.scatter_add(i[0], p["dim"], p["index"], i[1]),
        "index_select": lambda i, p: paddle.index_select(i[0], p["index"], axis=p["dim"]),
        "index_add": lambda i, p: paddle.index_add(i[0], p["index"], p["dim"], i[1], alpha=p["alpha"]),
        "masked_fill": lambda i, p: paddle.masked_fill(i[0], p["mask"], p["value"]),
        # -- nn ---------------------------------------------------------------------------------------
        "softmax": lambda i, p: F.softmax(i[0], axis=p["dim"]),
        "log_softmax": lambda i, p: F.log_softmax(i[0], axis=p["dim"]),
        "cross_entropy": lambda i, p: F.cross_entropy(i[0], p["target"], reduction=p["reduction"]),
        "nll_loss": lambda i, p: F.nll_loss(i[0], p["target"], reduction=p["reduction"]),
        "mse_loss": loss(F.mse_loss), "l1_loss": loss(F.l1_loss),
        "smooth_l1_loss": lambda i, p: F.smooth_l1_loss(i[0], i[1], reduction=p["reduction"], delta=p["beta"],
                                                        is_huber=False),
        "huber_loss": lambda i, p: F.smooth_l1_loss(i[0], i[1], reduction=p["reduction"], delta=p["delta"],
                                                    is_huber=True),
        "kl_div": loss(F.kl_div, log_target="log_target"),
        "binary_cross_entropy": loss(F.binary_cross_entropy),
        "binary_cross_entropy_with_logits": loss(F.binary_cross_entropy_with_logits),
        "linear": lambda i, p: F.linear(i[0], paddle.transpose(i[1], [1, 0]), i[2]),
        "embedding": lambda i, p: F.embedding(p["input"], i[0]),
        "glu": lambda i, p: F.glu(i[0], axis=p["dim"]),
        "layer_norm": layer_norm,
        "group_norm": lambda i, p: F.group_norm(i[0], p["num_groups"], epsilon=1e-5, weight=i[1], bias=i[2]),
        "batch_norm": batch_norm,
        "normalize": lambda i, p: F.normalize(i[0], p=p["p"], axis=p["dim"], epsilon=1e-12),
        "cosine_similarity": lambda i, p: F.cosine_similarity(i[0], i[1], axis=p["dim"], eps=1e-8),
        "pad": lambda i, p: pad(i[0], p),
        "conv1d": lambda i, p: F.conv1d(i[0], i[1], i[2], stride=p["stride"], padding=p["padding"]),
        "conv2d": lambda i, p: F.conv2d(i[0], i[1], i[2], stride=p["stride"], padding=p["padding"]),
        "conv_transpose2d": lambda i, p: F.conv2d_transpose(i[0], i[1], i[2], stride=p["stride"],
                                                            padding=p["padding"]),
        "interpolate": lambda i, p: interpolate(i[0], p),
        "adaptive_avg_pool2d": lambda i, p: F.adaptive_avg_pool2d(i[0], list(p["output_size"])),
        "max_pool2d": lambda i, p: F.max_pool2d(i[0], p["kernel_size"], p["stride"]),
        "avg_pool2d": lambda i, p: F.avg_pool2d(i[0], p["kernel_size"], p["stride"]),
    }
