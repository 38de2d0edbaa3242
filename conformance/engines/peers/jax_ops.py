"""Registry ops through jax's own functions beyond ``jax.numpy``: ``ops(jax)`` -> {op: f(inputs, params)}.

``JaxAdapter.engine_ops`` merges these over the numpy-style table (``numpy_ops``, which maps the
rest with ``jax.numpy``).  torch's conventions translated here, never an op re-implemented:

* ``jax.scipy.special``: erf, erfc, lgamma (``gammaln``), digamma, xlogy;
* ``jax.nn``: silu, logsigmoid (``log_sigmoid``), elu, leaky_relu, glu, gelu (torch's
  ``approximate='none'`` is jax's ``approximate=False``: jax's default is the tanh form), softplus
  (torch's ``beta``: ``softplus(beta x) / beta``, as torch defines it), and the normalisations,
  ``jax.nn.standardize`` with ``algorithm='stable'`` (the two-pass biased variance torch uses; jax's
  default ``'fast'`` is E[x^2] - E[x]^2) times weight plus bias;
* ``jnp.linalg.vector_norm`` for ``norm`` (a vector norm over a tuple of dims, as torch);
* ``jax.lax``: cummax, cummin (a 0-d input is its own scan), top_k (the last axis, largest first:
  ``dim`` is moved last and back, ``largest=False`` is top_k of -x negated), conv_general_dilated
  (torch's NCH(W) / OIH(W) layouts, cross-correlation as torch; bias added as torch defines it),
  conv_transpose (torch's (in, out, kh, kw) weight is the forward convolution's OIHW kernel with
  ``transpose_kernel=True``; torch's ``padding`` p crops p from each side of the full output, which is
  lax's padding k - 1 - p of the dilated input), reduce_window (max_pool2d; avg_pool2d is the window
  sum over kernel_size^2, torch's definition without padding);
* ``x.at[...].add`` (jax's scatter-add) for scatter_add and index_add;
* ``interpolate``: bilinear is ``jax.image.scale_and_translate`` without antialiasing (torch never
  antialiases by default); align_corners=False is jax's half-pixel convention as it is (a source point
  left of the first pixel reads the first pixel in both), align_corners=True maps output i to input
  i (in - 1) / (out - 1): scale (out - 1) / (in - 1), translation 0.5 - scale / 2.  torch's
  ``nearest`` (source floor(i in / out)) is no jax function (``jax.image.resize``'s nearest is the
  half-pixel one, torch's ``nearest-exact``): those samples are rejected.

Left out: ``adaptive_avg_pool2d`` (no jax function), ``view`` (no view op distinct from reshape).
"""
from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

Op = Callable[[list[Any], dict[str, Any]], Any]


def _scan(fn: Any) -> Op:
    return lambda i, p: i[0] if i[0].ndim == 0 else fn(i[0], axis=p["dim"] % i[0].ndim)


def ops(jax: Any) -> dict[str, Op]:
    import jax.numpy as jnp
    from jax import lax
    from jax.scipy import special

    nn = jax.nn

    def axes(x: Any, dim: Any) -> Any:
        if dim is None or x.ndim == 0:
            return None
        return tuple(dim) if isinstance(dim, tuple) else dim

    def channels(v: Any, nd: int) -> Any:
        return jnp.reshape(v, (1, -1) + (1,) * (nd - 2))

    def standardized(x: Any, ax: tuple[int, ...]) -> Any:
        return nn.standardize(x, axis=ax, epsilon=1e-5, algorithm="stable")

    def layer_norm(i: list[Any], p: dict[str, Any]) -> Any:
        x, k = i[0], len(p["normalized_shape"])
        return standardized(x, tuple(range(x.ndim - k, x.ndim))) * i[1] + i[2]

    def group_norm(i: list[Any], p: dict[str, Any]) -> Any:
        x = i[0]
        y = jnp.reshape(standardized(jnp.reshape(x, (x.shape[0], p["num_groups"], -1)), (2,)), x.shape)
        return y * channels(i[1], x.ndim) + channels(i[2], x.ndim)

    def batch_norm(i: list[Any], p: dict[str, Any]) -> Any:
        x = i[0]
        return standardized(x, (0,) + tuple(range(2, x.ndim))) * channels(i[1], x.ndim) + channels(i[2], x.ndim)

    def topk(x: Any, p: dict[str, Any]) -> Any:
        if x.ndim == 0:
            return x
        last = jnp.moveaxis(x, p["dim"], -1)
        vals = lax.top_k(last, p["k"])[0] if p["largest"] else -lax.top_k(-last, p["k"])[0]
        return jnp.moveaxis(vals, -1, p["dim"])

    def conv(i: list[Any], p: dict[str, Any]) -> Any:
        n = i[0].ndim - 2
        y = lax.conv_general_dilated(i[0], i[1], (p["stride"],) * n, [(p["padding"], p["padding"])] * n)
        return y + jnp.reshape(i[2], (1, -1) + (1,) * n)

    def conv_transpose2d(i: list[Any], p: dict[str, Any]) -> Any:
        kh, kw = i[1].shape[2:]
        pads = [(kh - 1 - p["padding"],) * 2, (kw - 1 - p["padding"],) * 2]
        y = lax.conv_transpose(i[0], i[1], (p["stride"],) * 2, pads, dimension_numbers=("NCHW", "OIHW", "NCHW"),
                               transpose_kernel=True)
        return y + jnp.reshape(i[2], (1, -1, 1, 1))

    def pool(x: Any, p: dict[str, Any], init: float, fn: Any) -> Any:
        k, s = p["kernel_size"], p["stride"]
        return lax.reduce_window(x, init, fn, (1, 1, k, k), (1, 1, s, s), "VALID")

    def scatter_add(i: list[Any], p: dict[str, Any]) -> Any:
        index = p["index"]
        pos = list(np.indices(index.shape))  # torch: out[..., index[i, j], ...] += src[i, j] at dim
        pos[p["dim"] % i[0].ndim] = index
        src = i[1][tuple(slice(0, n) for n in index.shape)]  # src may be larger than index: its corner
        return i[0].at[tuple(pos)].add(src)

    def index_add(i: list[Any], p: dict[str, Any]) -> Any:
        d = p["dim"] % i[0].ndim
        key = (slice(None),) * d + (p["index"],)
        return i[0].at[key].add(p["alpha"] * i[1])

    def interpolate(x: Any, p: dict[str, Any]) -> Any:
        if p["mode"] != "bilinear":
            from hypothesis import reject
            reject()  # torch's nearest (floor(i in / out)) is no jax function: jax's is half-pixel
        size = tuple(p["size"])
        scale, shift = [], []
        for n_in, n_out in zip(x.shape[2:], size):
            # jax reads output i at input (i + 0.5 - shift) / scale - 0.5, weights normalised over the pixels
            # in range; a source point in [-0.5, in - 0.5] left or right of every pixel reads the nearest one
            if not p["align_corners"]:
                s, t = n_out / n_in, 0.0  # half-pixel centres, torch's and jax's alike
            elif n_in == 1:
                s, t = 2.0 * n_out, 0.0  # every source point in [-0.5, 0): the one pixel
            elif n_out == 1:
                s, t = 1.0, 0.0  # torch: the first pixel (source point 0)
            else:
                s = (n_out - 1) / (n_in - 1)  # output i at input i (in - 1) / (out - 1)
                t = 0.5 - s / 2.0
            scale.append(s)
            shift.append(t)
        return jax.image.scale_and_translate(x, x.shape[:2] + size, (2, 3), jnp.asarray(scale, x.dtype),
                                             jnp.asarray(shift, x.dtype), "linear", antialias=False)

    return {
        "erf": lambda i, p: special.erf(i[0]), "erfc": lambda i, p: special.erfc(i[0]),
        "lgamma": lambda i, p: special.gammaln(i[0]), "digamma": lambda i, p: special.digamma(i[0]),
        "xlogy": lambda i, p: special.xlogy(i[0], i[1]),
        "silu": lambda i, p: nn.silu(i[0]), "logsigmoid": lambda i, p: nn.log_sigmoid(i[0]),
        "elu": lambda i, p: nn.elu(i[0], alpha=p["alpha"]),
        "leaky_relu": lambda i, p: nn.leaky_relu(i[0], negative_slope=p["negative_slope"]),
        "gelu": lambda i, p: nn.gelu(i[0], approximate=p["approximate"] == "tanh"),
        "glu": lambda i, p: nn.glu(i[0], axis=p["dim"]),
        "softplus": lambda i, p: nn.softplus(p["beta"] * i[0]) / p["beta"],
        "layer_norm": layer_norm, "group_norm": group_norm, "batch_norm": batch_norm,
        "norm": lambda i, p: jnp.linalg.vector_norm(i[0], ord=p["p"], axis=axes(i[0], p["dim"]),
                                                    keepdims=p["keepdim"]),
        "cummax": _scan(lax.cummax), "cummin": _scan(lax.cummin),
        "topk": lambda i, p: topk(i[0], p),
        "conv1d": conv, "conv2d": conv, "conv_transpose2d": conv_transpose2d,
        "max_pool2d": lambda i, p: pool(i[0], p, -math.inf, lax.max),
        "avg_pool2d": lambda i, p: pool(i[0], p, 0.0, lax.add) / (p["kernel_size"] ** 2),
        "scatter_add": scatter_add, "index_add": index_add,
        "interpolate": lambda i, p: interpolate(i[0], p),
    }
