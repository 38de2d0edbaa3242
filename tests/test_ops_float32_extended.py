"""float32 end to end for the extended op set (activations, special functions, scans, linear
algebra, nn layers): float32 in, float32 out and float32 gradients, and agreement with the float64 run
to float32 precision (as tests/test_ops_float32.py for the first 51 ops)."""
from __future__ import annotations

import numpy as np
import pytest

import refengine as re
import refengine.nn.functional as F

rng = np.random.default_rng(0)
X = rng.uniform(0.2, 0.9, (2, 3, 4, 4))
IDX = np.array([[0, 2, 1, 3]])


def _sym(x):
    m = x[0, 0] @ x[0, 0].transpose(0, 1)
    return m + re.tensor(np.eye(4, dtype=m.dtype) * 2)


OPS = {
    # activations and special functions
    "softplus": F.softplus, "gelu": F.gelu, "gelu_tanh": lambda x: F.gelu(x, approximate="tanh"), "silu": F.silu,
    "elu": lambda x: F.elu(x - 0.5),
    "leaky_relu": lambda x: F.leaky_relu(x - 0.5),
    "hardtanh": lambda x: F.hardtanh(x * 2),
    "logsigmoid": F.logsigmoid, "erf": re.erf, "erfc": re.erfc, "lgamma": re.lgamma, "digamma": re.digamma,
    "polygamma": lambda x: re.polygamma(2, x),
    # unary and binary math
    "tan": re.tan, "asin": re.asin, "acos": re.acos, "atan": re.atan, "sinh": re.sinh, "cosh": re.cosh,
    "asinh": re.asinh, "acosh": lambda x: re.acosh(x + 1), "atanh": re.atanh, "log1p": re.log1p, "expm1": re.expm1,
    "log2": re.log2, "log10": re.log10, "exp2": re.exp2, "rsqrt": re.rsqrt, "reciprocal": re.reciprocal,
    "square": re.square, "sign": lambda x: re.sign(x - 0.5) * x, "floor": lambda x: re.floor(x * 4) * x,
    "ceil": lambda x: re.ceil(x * 4) * x,
    "round": lambda x: re.round(x * 4) * x,
    "trunc": lambda x: re.trunc(x * 4) * x,
    "atan2": lambda x: re.atan2(x, x[1]), "hypot": lambda x: re.hypot(x, x[1]), "fmod": lambda x: re.fmod(x, 0.3),
    "remainder": lambda x: re.remainder(x, x[1] * 0.5), "logaddexp": lambda x: re.logaddexp(x, x[1]),
    "xlogy": lambda x: re.xlogy(x, x[1]),
    # reductions, scans, order statistics
    "cumsum": lambda x: re.cumsum(x, 2), "cumprod": lambda x: re.cumprod(x, 3), "cummax": lambda x: re.cummax(x, 1)[0],
    "cummin": lambda x: re.cummin(x, 1)[0], "std": lambda x: re.std(x, (1, 2)), "norm": lambda x: re.norm(x, 3, 1),
    "vector_norm": lambda x: re.linalg.vector_norm(x, float("inf"), -1), "sort": lambda x: re.sort(x, 2)[0],
    "topk": lambda x: re.topk(x, 2)[0], "kthvalue": lambda x: re.kthvalue(x, 2, 1)[0],
    "median": lambda x: re.median(x, 3)[0], "median_all": re.median,
    # shape and indexing
    "flip": lambda x: re.flip(x, (1, 3)), "roll": lambda x: re.roll(x, 2, 3), "repeat": lambda x: x.repeat(1, 2, 1, 1),
    "tile": lambda x: re.tile(x, (2,)),
    "narrow": lambda x: re.narrow(x, 2, 1, 2),
    "chunk": lambda x: re.chunk(x, 2, 3)[1],
    "unbind": lambda x: re.unbind(x, 1)[2], "movedim": lambda x: re.movedim(x, 0, 3),
    "broadcast_to": lambda x: re.broadcast_to(x[:, :1], (2, 3, 4, 4)), "gather": lambda x: re.gather(x[0, 0], 1, IDX),
    "scatter_add": lambda x: re.scatter_add(x[0, 0], 1, IDX, x[0, 1, :1]),
    "index_select": lambda x: re.index_select(x, 3, IDX[0]),
    "index_add": lambda x: re.index_add(x, 1, [2, 0], x[:, :2]),
    "masked_fill": lambda x: re.masked_fill(x, x.data > 0.5, 0.25),
    "take_along_dim": lambda x: re.take_along_dim(x[0, 0], IDX, 1),
    "pad_reflect": lambda x: F.pad(x[0], (1, 2), mode="reflect"),
    "pad_replicate": lambda x: F.pad(x, (1, 1, 2, 0), mode="replicate"),
    "pad_constant": lambda x: F.pad(x, (1, -1), value=0.5),
    # linear algebra
    "dot": lambda x: re.dot(x[0, 0, 0], x[0, 0, 1]), "mv": lambda x: re.mv(x[0, 0], x[0, 1, 0]),
    "outer": lambda x: re.outer(x[0, 0, 0], x[1, 0, 0]), "einsum": lambda x: re.einsum("abij,abjk->abik", x, x),
    "trace": lambda x: re.trace(x[0, 0]),
    "diag": lambda x: re.diag(x[0, 0, 0]),
    "diagonal": lambda x: re.diagonal(x, 0, 2, 3),
    "tril": re.tril, "triu": lambda x: re.triu(x, 1), "cross": lambda x: re.linalg.cross(x[..., :3], x[..., 1:]),
    "det": lambda x: re.linalg.det(x + re.tensor(np.eye(4, dtype=x.dtype))),
    "slogdet": lambda x: re.linalg.slogdet(_sym(x))[1],
    "inv": lambda x: re.linalg.inv(_sym(x)), "solve": lambda x: re.linalg.solve(_sym(x), x[0, 1]),
    "cholesky": lambda x: re.linalg.cholesky(_sym(x)), "qr": lambda x: (lambda q, r: q @ r)(*re.linalg.qr(x)),
    "eigh": lambda x: re.linalg.eigh(_sym(x))[0], "svdvals": re.linalg.svdvals,
    # nn
    "linear": lambda x: F.linear(x, x[0, 0], x[0, 1, 0]),
    "layer_norm": lambda x: F.layer_norm(x, (4,), x[0, 0, 0], x[0, 0, 1]),
    "batch_norm": lambda x: F.batch_norm(x, None, None, x[0, :, 0, 0], x[1, :, 0, 0], training=True),
    "batch_norm_eval": lambda x: F.batch_norm(x, np.zeros(3, np.float32), np.ones(3, np.float32), training=False),
    "group_norm": lambda x: F.group_norm(x, 3), "embedding": lambda x: F.embedding(IDX, x[0, 0]),
    "conv1d": lambda x: F.conv1d(x[0], x[1, :2, :, :3]),
    "conv_transpose2d": lambda x: F.conv_transpose2d(x, x[0, :, :2, :2].reshape(3, 1, 2, 2)),
    "nearest": lambda x: F.interpolate(x, scale_factor=1.5),
    "bilinear": lambda x: F.interpolate(x, size=(5, 3), mode="bilinear"),
    "adaptive_avg_pool2d": lambda x: F.adaptive_avg_pool2d(x, 3), "glu": lambda x: F.glu(x, 2),
    "bce": lambda x: F.binary_cross_entropy(x, x * 0 + 0.3),
    "bce_logits": lambda x: F.binary_cross_entropy_with_logits(x, x * 0.5),
    "kl_div": lambda x: F.kl_div(re.log(x), x[1:] * 0 + 0.25, reduction="batchmean"),
    "smooth_l1": lambda x: F.smooth_l1_loss(x, x[1] * 0.5, beta=0.2),
    "huber": lambda x: F.huber_loss(x, x[1] * 0.5, delta=0.2), "l1": lambda x: F.l1_loss(x, x[1] * 0.5),
    "cosine_similarity": lambda x: F.cosine_similarity(x, x[1] + 1), "normalize": F.normalize,
}


@pytest.mark.parametrize("name", sorted(OPS))
def test_float32_in_float32_out(name):
    import warnings
    results = {}
    for dt in (np.float32, np.float64):
        x = re.tensor(X.astype(dt), requires_grad=True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # l1's broadcasting warning
            y = OPS[name](x)
        assert y.dtype == dt, f"{name}: {dt.__name__} input gave a {y.dtype} output"
        (y * y).sum().backward()
        assert x.grad.dtype == dt
        results[dt] = (y.data, x.grad.data)
    for a, b in zip(results[np.float32], results[np.float64]):
        np.testing.assert_allclose(a, b, rtol=2e-4, atol=2e-4)
