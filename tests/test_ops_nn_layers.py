"""nn layers: linear, layer_norm, batch_norm (training and eval, running statistics), group_norm,
embedding (padding_idx, scale_grad_by_freq), conv1d, conv_transpose2d, interpolate (nearest,
bilinear), adaptive_avg_pool2d, glu, cosine_similarity, normalize — values, gradients and second
derivatives vs torch float64, node names, torch's errors."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from hypothesis import given
from hypothesis import strategies as st

import refengine as re
import refengine.nn.functional as F
from ops_helpers import FAST, arrays, check, seeds


@given(seed=seeds, lead=st.lists(st.integers(1, 3), max_size=2), i=st.integers(1, 4), o=st.integers(1, 4),
       bias=st.booleans())
@FAST
def test_linear(seed, lead, i, o, bias):
    x, w, b = arrays(seed, tuple(lead) + (i,), (o, i), (o,))
    if bias:
        check(F.linear, TF.linear, [x, w, b], np_fn=lambda x, w, b: x @ w.T + b, seed=seed)
    else:
        check(F.linear, TF.linear, [x, w], np_fn=lambda x, w: x @ w.T, seed=seed)


@given(seed=seeds, k=st.integers(1, 3), affine=st.booleans(), eps=st.sampled_from([1e-5, 0.1]))
@FAST
def test_layer_norm(seed, k, affine, eps):
    shape = (2, 3, 4)
    ns = shape[3 - k:]
    x, w, b = arrays(seed, shape, ns, ns)
    if affine:
        check(lambda x, w, b: F.layer_norm(x, ns, w, b, eps), lambda x, w, b: TF.layer_norm(x, ns, w, b, eps),
              [x, w, b], seed=seed)
    else:
        check(lambda x: F.layer_norm(x, ns, eps=eps), lambda x: TF.layer_norm(x, ns, eps=eps), [x], seed=seed)


@given(seed=seeds, shape=st.sampled_from([(4, 3), (2, 3, 5), (2, 3, 2, 2)]), training=st.booleans(),
       affine=st.booleans())
@FAST
def test_batch_norm(seed, shape, training, affine):
    x, w, b = arrays(seed, shape, (3,), (3,))
    rng = np.random.default_rng(seed)
    rm, rv = rng.standard_normal(3), rng.uniform(0.5, 2, 3)
    r_stats, t_stats = (rm.copy(), rv.copy()), (torch.tensor(rm), torch.tensor(rv))
    if affine:
        check(lambda x, w, b: F.batch_norm(x, *r_stats, w, b, training=training, momentum=0.3),
              lambda x, w, b: TF.batch_norm(x, *t_stats, w, b, training=training, momentum=0.3), [x, w, b], seed=seed)
    else:
        check(lambda x: F.batch_norm(x, *r_stats, training=training), lambda x: TF.batch_norm(x, *t_stats,
                                                                                          training=training),
              [x], seed=seed)
    np.testing.assert_allclose(r_stats[0], t_stats[0].numpy(), rtol=1e-12)
    np.testing.assert_allclose(r_stats[1], t_stats[1].numpy(), rtol=1e-12)


def test_batch_norm_running_stats_on_variables_and_without_stats():
    (x,) = arrays(1, (4, 3, 2))
    rm, rv = re.tensor(np.zeros(3)), re.tensor(np.ones(3))
    trm, trv = torch.zeros(3, dtype=torch.float64), torch.ones(3, dtype=torch.float64)
    F.batch_norm(re.tensor(x), rm, rv, training=True)
    TF.batch_norm(torch.tensor(x), trm, trv, training=True)
    np.testing.assert_allclose(rm.data, trm.numpy())
    np.testing.assert_allclose(rv.data, trv.numpy())
    check(lambda v: F.batch_norm(v, None, None, training=True), lambda v: TF.batch_norm(v, None, None, training=True),
          [x])


@given(seed=seeds, groups=st.sampled_from([1, 2, 4]), affine=st.booleans())
@FAST
def test_group_norm(seed, groups, affine):
    x, w, b = arrays(seed, (2, 4, 3), (4,), (4,))
    if affine:
        check(lambda x, w, b: F.group_norm(x, groups, w, b), lambda x, w, b: TF.group_norm(x, groups, w, b), [x, w, b],
              seed=seed)
    else:
        check(lambda x: F.group_norm(x, groups), lambda x: TF.group_norm(x, groups), [x], seed=seed)


@given(seed=seeds, pad=st.sampled_from([None, 0, 2, -1]), freq=st.booleans())
@FAST
def test_embedding(seed, pad, freq):
    (w,) = arrays(seed, (5, 3))
    idx = np.random.default_rng(seed).integers(0, 5, (2, 4))
    check(lambda w: F.embedding(idx, w, padding_idx=pad, scale_grad_by_freq=freq),
          lambda w: TF.embedding(torch.tensor(idx), w, padding_idx=pad, scale_grad_by_freq=freq), [w],
          np_fn=lambda w: w[idx], seed=seed)


@pytest.mark.filterwarnings("ignore:Using padding='same'")
@given(seed=seeds, k=st.integers(1, 3), stride=st.integers(1, 2), padding=st.sampled_from([0, 1, "same", "valid"]),
       dilation=st.integers(1, 2), bias=st.booleans(), batched=st.booleans())
@FAST
def test_conv1d(seed, k, stride, padding, dilation, bias, batched):
    if padding == "same":
        stride = 1
    x, w, b = arrays(seed, (2, 3, 7) if batched else (3, 7), (2, 3, k), (2,))
    kw = dict(stride=stride, padding=padding, dilation=dilation)
    check(lambda x, w, b: F.conv1d(x, w, b if bias else None, **kw),
          lambda x, w, b: TF.conv1d(x, w, b if bias else None, **kw), [x, w, b], seed=seed)


@given(seed=seeds, k=st.tuples(st.integers(1, 3), st.integers(1, 3)), stride=st.integers(1, 2),
       padding=st.integers(0, 1), dilation=st.integers(1, 2), op=st.integers(0, 1), bias=st.booleans())
@FAST
def test_conv_transpose2d(seed, k, stride, padding, dilation, op, bias):
    op = min(op, stride - 1)
    x, w, b = arrays(seed, (2, 3, 3, 4), (3, 2) + k, (2,))
    kw = dict(stride=stride, padding=padding, output_padding=op, dilation=dilation)
    check(lambda x, w, b: F.conv_transpose2d(x, w, b if bias else None, **kw),
          lambda x, w, b: TF.conv_transpose2d(x, w, b if bias else None, **kw), [x, w, b], seed=seed)


@given(seed=seeds, k=st.integers(1, 3), data=st.data())
@FAST
def test_interpolate_nearest(seed, k, data):
    shape = (2, 1) + tuple(data.draw(st.integers(1, 4)) for _ in range(k))
    (x,) = arrays(seed, shape)
    if data.draw(st.booleans()):
        kw = {"size": tuple(data.draw(st.integers(1, 7)) for _ in range(k))}
    else:
        kw = {"scale_factor": data.draw(st.sampled_from([0.5, 1.5, 2.0, 3.0, 1.7]))}
    if all(int(n * kw.get("scale_factor", 1)) == 0 for n in shape[2:]) and "scale_factor" in kw:
        return
    if "scale_factor" in kw and min(int(n * kw["scale_factor"]) for n in shape[2:]) == 0:
        return
    check(lambda x: F.interpolate(x, **kw), lambda x: TF.interpolate(x, **kw), [x], seed=seed)


@given(seed=seeds, data=st.data(), align=st.sampled_from([None, False, True]))
@FAST
def test_interpolate_bilinear(seed, data, align):
    shape = (2, 2, data.draw(st.integers(1, 4)), data.draw(st.integers(1, 4)))
    (x,) = arrays(seed, shape)
    if data.draw(st.booleans()):
        kw = {"size": (data.draw(st.integers(1, 7)), data.draw(st.integers(1, 7)))}
    else:
        kw = {"scale_factor": data.draw(st.sampled_from([1.5, 2.0, 3.0, 1.7]))}
    check(lambda x: F.interpolate(x, mode="bilinear", align_corners=align, **kw),
          lambda x: TF.interpolate(x, mode="bilinear", align_corners=align, **kw), [x], seed=seed)


@given(seed=seeds, h=st.integers(1, 6), w=st.integers(1, 6), oh=st.integers(1, 6), ow=st.integers(1, 6),
       batched=st.booleans())
@FAST
def test_adaptive_avg_pool2d(seed, h, w, oh, ow, batched):
    (x,) = arrays(seed, ((2,) if batched else ()) + (3, h, w))
    check(lambda x: F.adaptive_avg_pool2d(x, (oh, ow)), lambda x: TF.adaptive_avg_pool2d(x, (oh, ow)), [x], seed=seed)
    check(lambda x: F.adaptive_avg_pool2d(x, (None, ow)), lambda x: TF.adaptive_avg_pool2d(x, (None, ow)), [x],
          seed=seed)


@given(seed=seeds, dim=st.integers(-3, 2))
@FAST
def test_glu_cosine_similarity_normalize(seed, dim):
    x, y = arrays(seed, (2, 4, 2), (4, 2))
    check(lambda x: F.glu(x, dim), lambda x: TF.glu(x, dim), [x], seed=seed) if x.shape[dim] % 2 == 0 else None
    d = dim % 3
    if d:
        check(lambda x, y: F.cosine_similarity(x, y, d), lambda x, y: TF.cosine_similarity(x, y, d), [x, y], seed=seed)
    check(lambda x: F.normalize(x, dim=dim), lambda x: TF.normalize(x, dim=dim), [x], seed=seed)
    check(lambda x: F.normalize(x, 1.0, dim), lambda x: TF.normalize(x, 1.0, dim), [x], seed=seed)


def test_cosine_similarity_and_normalize_of_zero_vectors():
    x = np.array([[0.0, 0.0, 0.0], [1.0, -2.0, 0.5]])
    check(lambda v: F.cosine_similarity(v, v * 2 + 1, 1), lambda v: TF.cosine_similarity(v, v * 2 + 1, 1), [x])
    check(lambda v: F.normalize(v, dim=1), lambda v: TF.normalize(v, dim=1), [x])


@pytest.mark.parametrize("name", ["linear", "layer_norm", "batch_norm", "batch_norm_eval", "group_norm", "embedding",
                                  "conv1d", "conv_transpose2d", "nearest", "bilinear", "adaptive", "glu", "cosine",
                                  "normalize"])
def test_second_derivatives_and_node_names(name):
    x, w = arrays(53, (2, 4, 3, 3), (4,))
    rs = lambda m: (np.zeros(4), np.ones(4)) if m is F else (torch.zeros(4, dtype=torch.float64),
                                                              torch.ones(4, dtype=torch.float64))
    t = lambda m, v: torch.tensor(v) if m is TF else v
    cases = {
        "linear": lambda m, x, w: m.linear(x * x, x[0, :, 0], w),
        "layer_norm": lambda m, x, w: m.layer_norm(x * x, (3,), w[:3], w[1:]),
        "batch_norm": lambda m, x, w: m.batch_norm(x * x, *rs(m), w, w * 2, training=True),
        "batch_norm_eval": lambda m, x, w: m.batch_norm(x * x, *rs(m), w * w, w, training=False),
        "group_norm": lambda m, x, w: m.group_norm(x * x, 2, w, w * w),
        "embedding": lambda m, x, w: m.embedding(t(m, np.array([[0, 2], [2, 1]])), (x * x)[0, 0], padding_idx=1),
        "conv1d": lambda m, x, w: m.conv1d((x * x)[0], x[1, :, 0].reshape(4, 3, 1) * w[:1], padding=1),
        "conv_transpose2d": lambda m, x, w: m.conv_transpose2d(x * x, x[:, :, :2, :2].reshape(4, 2, 2, 2), stride=2),
        "nearest": lambda m, x, w: m.interpolate(x * x, scale_factor=1.5),
        "bilinear": lambda m, x, w: m.interpolate(x * x, size=(4, 5), mode="bilinear"),
        "adaptive": lambda m, x, w: m.adaptive_avg_pool2d(x * x, (2, 2)),
        "glu": lambda m, x, w: m.glu(x * x, 1),
        "cosine": lambda m, x, w: m.cosine_similarity(x * x, x + 1, 1),
        "normalize": lambda m, x, w: m.normalize(x * x + x, dim=2),
    }
    fn = cases[name]
    check(lambda x, w: fn(F, x, w), lambda x, w: fn(TF, x, w), [x, w], second=True, seed=53, rtol=1e-6, atol=1e-8)
    if name not in ("linear", "conv1d"):  # composites whose torch node depends on the input rank
        xs = [re.tensor(v, requires_grad=True) for v in (x, w)]
        ts = [torch.tensor(v, requires_grad=True) for v in (x, w)]
        assert fn(F, *xs).grad_fn.name() == type(fn(TF, *ts).grad_fn).__name__


def _t(m, v):
    return torch.tensor(v) if m is torch else np.array(v)


@pytest.mark.parametrize("call, err", [
    (lambda f, m: f.layer_norm(m.ones(2, 3), (2,)), RuntimeError),
    (lambda f, m: f.batch_norm(m.ones(1, 3), None, None, training=True), ValueError),
    (lambda f, m: f.batch_norm(m.ones(2, 3), None, None, training=False), RuntimeError),
    (lambda f, m: f.group_norm(m.ones(2, 3, 2), 2), RuntimeError),
    (lambda f, m: f.embedding(_t(m, [5]), m.ones(5, 2)), IndexError),
    (lambda f, m: f.glu(m.ones(2, 3)), RuntimeError),
    (lambda f, m: f.interpolate(m.ones(1, 1, 2, 2), mode="bilinear"), ValueError),
    (lambda f, m: f.interpolate(m.ones(1, 1, 2, 2), size=3, scale_factor=2.0), ValueError),
    (lambda f, m: f.conv_transpose2d(m.ones(1, 2, 3, 3), m.ones(3, 2, 2, 2)), RuntimeError),
    (lambda f, m: f.linear(m.ones(2, 3), m.ones(4, 2)), RuntimeError),
    (lambda f, m: f.adaptive_avg_pool2d(m.ones(2), 1), IndexError),
])
def test_bad_input_errors_match_torch(call, err):
    with pytest.raises(err):
        call(F, re)
    with pytest.raises(err):
        call(TF, torch)
