"""float32 end to end: every op keeps float32 outputs and gradients (torch's dtype rules) and
agrees with its float64 run to float32 precision."""
from __future__ import annotations

import numpy as np
import pytest

import refengine as re
import refengine.nn.functional as F

rng = np.random.default_rng(0)
X = rng.uniform(0.2, 2.0, (2, 3, 4, 4))
T = np.array([1, 0, 5, 3])

OPS = {
    "add": lambda x: x + x[0], "sub": lambda x: x - 1.5, "mul": lambda x: x * x, "div": lambda x: 1 / x,
    "neg": lambda x: -x, "pow": lambda x: x ** x, "exp": re.exp, "log": re.log, "sqrt": re.sqrt, "sin": re.sin,
    "cos": re.cos, "tanh": re.tanh, "sigmoid": re.sigmoid, "relu": lambda x: re.relu(x - 1), "abs": lambda x: abs(x - 1),
    "clamp": lambda x: re.clamp(x, 0.5, 1.5), "maximum": lambda x: re.maximum(x, x[1]),
    "minimum": lambda x: re.minimum(x, x[1]), "where": lambda x: re.where(x > 1, x, x * 2),
    "sum": lambda x: x.sum(1), "mean": lambda x: x.mean((0, 2)), "max": lambda x: x.max(1)[0], "min": lambda x: x.min(),
    "amax": lambda x: x.amax(-1), "amin": lambda x: x.amin((1, 2)), "logsumexp": lambda x: x.logsumexp(1),
    "var": lambda x: x.var(1), "prod": lambda x: x.prod(3), "matmul": lambda x: x @ x, "mm": lambda x: re.mm(x[0, 0], x[1, 1]),
    "bmm": lambda x: re.bmm(x[0], x[1]), "reshape": lambda x: x.reshape(6, -1), "view": lambda x: x.view(-1),
    "transpose": lambda x: x.transpose(0, 3), "permute": lambda x: x.permute(3, 2, 1, 0), "T": lambda x: x[0, 0].T,
    "expand": lambda x: x[:, :1].expand(2, 5, 4, 4), "squeeze": lambda x: x[:, :1].squeeze(1),
    "unsqueeze": lambda x: x.unsqueeze(2), "flatten": lambda x: x.flatten(1), "cat": lambda x: re.cat([x, x * 2], 2),
    "stack": lambda x: re.stack([x, x], 1), "split": lambda x: re.split(x, 3, 2)[1], "index": lambda x: x[:, [0, 0, 2]],
    "mask": lambda x: x[x > 1], "softmax": lambda x: F.softmax(x, 1), "log_softmax": lambda x: F.log_softmax(x, -1),
    "cross_entropy": lambda x: F.cross_entropy(x.reshape(4, -1), T), "nll_loss": lambda x: F.nll_loss(x.reshape(4, -1), T),
    "mse_loss": lambda x: F.mse_loss(x, x * x), "conv2d": lambda x: F.conv2d(x, x[:, :, :3, :3] * 0.5, padding=1),
    "max_pool2d": lambda x: F.max_pool2d(x, 2), "avg_pool2d": lambda x: F.avg_pool2d(x, 3, 1, 1),
}


@pytest.mark.parametrize("name", sorted(OPS))
def test_float32_in_float32_out(name):
    results = {}
    for dt in (np.float32, np.float64):
        x = re.tensor(X.astype(dt), requires_grad=True)
        y = OPS[name](x)
        assert y.dtype == dt, f"{name}: {dt.__name__} input gave a {y.dtype} output"
        (y * y).sum().backward()
        assert x.grad.dtype == dt
        results[dt] = (y.data, x.grad.data)
    for a, b in zip(results[np.float32], results[np.float64]):
        np.testing.assert_allclose(a, b, rtol=2e-4, atol=2e-4)
