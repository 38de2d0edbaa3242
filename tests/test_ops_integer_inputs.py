"""Integer inputs of the issue-16 ops follow torch: integer results stay int64 (cumsum, sort,
gather, fmod, square, ...), floating ops compute in float32 (erf, exp2, atan2, xlogy, ...), and
float-only kernels raise torch's error type."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import refengine as re
import refengine.nn.functional as F

a = np.array([[3, 1, 2], [0, -1, 5]])

CASES = {
    "cumsum": lambda m, f, x: m.cumsum(x, 1),
    "cumprod": lambda m, f, x: m.cumprod(x, 1),
    "cummax": lambda m, f, x: m.cummax(x, 1)[0],
    "sort": lambda m, f, x: m.sort(x)[0],
    "topk": lambda m, f, x: m.topk(x, 2)[0],
    "median": lambda m, f, x: m.median(x),
    "median_d": lambda m, f, x: m.median(x, 1)[0],
    "kthvalue": lambda m, f, x: m.kthvalue(x, 2)[0],
    "flip": lambda m, f, x: m.flip(x, (0,)),
    "roll": lambda m, f, x: m.roll(x, 1),
    "repeat": lambda m, f, x: x.repeat(2, 1),
    "gather": lambda m, f, x: m.gather(x, 1, m.tensor([[0], [2]])),
    "masked_fill": lambda m, f, x: m.masked_fill(x, m.tensor([True, False, True]), 1.5),
    "index_select": lambda m, f, x: m.index_select(x, 1, m.tensor([0, 0])),
    "pad": lambda m, f, x: f.pad(x, (1, 1)),
    "pad_reflect": lambda m, f, x: f.pad(x[None], (1, 1), mode="reflect"),
    "tril": lambda m, f, x: m.tril(x),
    "diag": lambda m, f, x: m.diag(x),
    "trace": lambda m, f, x: m.trace(x),
    "einsum": lambda m, f, x: m.einsum("ij->j", x),
    "dot": lambda m, f, x: m.dot(x[0], x[1]),
    "outer": lambda m, f, x: m.outer(x[0], x[1]),
    "cross": lambda m, f, x: m.linalg.cross(x[0], x[1]),
    "sign": lambda m, f, x: m.sign(x),
    "square": lambda m, f, x: m.square(x),
    "fmod": lambda m, f, x: m.fmod(x, 2),
    "remainder": lambda m, f, x: m.remainder(x, -2),
    "xlogy": lambda m, f, x: m.xlogy(x, x),
    "atan2": lambda m, f, x: m.atan2(x, x),
    "erf": lambda m, f, x: m.erf(x),
    "exp2": lambda m, f, x: m.exp2(x),
    "reciprocal": lambda m, f, x: m.reciprocal(x),
    "chunk": lambda m, f, x: m.chunk(x, 2, 1)[0],
    "index_add": lambda m, f, x: m.index_add(x, 1, m.tensor([0]), x[:, :1]),
    "scatter_add": lambda m, f, x: m.scatter_add(x, 1, m.tensor([[0], [2]]), x[:, :1]),
    "take_along_dim": lambda m, f, x: m.take_along_dim(x, m.tensor([[0], [2]]), 1),
    "embedding": lambda m, f, x: f.embedding(m.tensor([1, 0]), x),
    "interp": lambda m, f, x: f.interpolate(x[None], scale_factor=2),
    "adaptive": lambda m, f, x: f.adaptive_avg_pool2d(x[None], 1),
    "l1": lambda m, f, x: f.l1_loss(x, x),
    "hardtanh": lambda m, f, x: f.hardtanh(x),
}


def _run(m, f, fn):
    x = torch.tensor(a) if m is torch else re.tensor(a)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            y = fn(m, f, x)
        except Exception as e:  # noqa: BLE001  (the error type is what is compared)
            return type(e), None
    return np.asarray(y.data if m is re else y.numpy()).dtype, np.asarray(y.data if m is re else y.numpy(), float)


@pytest.mark.parametrize("name", sorted(CASES))
def test_integer_input_dtype_and_value_match_torch(name):
    (rd, rv), (td, tv) = _run(re, F, CASES[name]), _run(torch, TF, CASES[name])
    assert rd == td, f"{name}: refengine {rd}, torch {td}"
    if rv is not None:
        np.testing.assert_allclose(rv, tv, rtol=1e-6, equal_nan=True)
