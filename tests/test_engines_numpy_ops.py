"""The numpy-style op table translates torch's conventions right: on numpy itself, every op it maps
gives the OpSpec's own float64 reference, on samples the OpSpec draws (dims, keepdim, 0-d inputs...).

A peer built on the table (mygrad, HIPS autograd, jax) then fails only for its own reasons."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

from conformance.engines.numpy_ops import composite_log_softmax, numpy_ops
from conformance.spec.ops import REGISTRY

OPS = numpy_ops(np, composite_log_softmax(np))


def _inputs(spec, shapes, rng: np.random.Generator) -> list[np.ndarray]:
    out = []
    for k, shp in enumerate(shapes):
        dom = spec.domains[k] if k < len(spec.domains) else None
        lo, hi = (dom.lo, dom.hi) if dom is not None else (-3.0, 3.0)
        out.append(rng.uniform(lo, hi, size=shp))
    return out


@pytest.mark.parametrize("op", sorted(OPS))
def test_numpy_table_matches_the_opspec_reference(op: str) -> None:
    spec = REGISTRY[op]

    @settings(max_examples=15, database=None, deadline=None, suppress_health_check=list(HealthCheck))
    @seed(0)
    @given(st.data())
    def check(data: st.DataObject) -> None:
        s = spec.sample(data.draw)
        xs = _inputs(spec, s.shapes, np.random.default_rng(len(data.conjecture_data.choices)))
        expected = np.asarray(spec.reference(*[x.copy() for x in xs], **s.params))
        got = np.asarray(OPS[op]([x.copy() for x in xs], s.params))
        assert got.shape == expected.shape, f"{op}{s.shapes} {s.params}: shape {got.shape}, expected {expected.shape}"
        np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-12, equal_nan=True,
                                   err_msg=f"{op}{s.shapes} {s.params}")
    check()


# -- the translations, value by value against torch itself --------------------------------------------------
# torch conventions a numpy-style mapping can get wrong by convention (not by a bug): rounding half to even,
# the lower median, a vector norm over two dims, pad modes, losses' reductions, cholesky's upper factor...
# Each row: op, inputs, params, torch's own call.  Run on numpy itself (xp = numpy), then on each peer's
# engine-specific functions (jax.nn / jax.lax / jax.image, autograd.scipy.special, mygrad.nnet).

def _torch():
    return pytest.importorskip("torch", reason="torch not installed")


_RNG = np.random.default_rng(7)
_X = _RNG.uniform(-3, 3, size=(2, 3, 4))
_Y = _RNG.uniform(-3, 3, size=(2, 3, 4))
_IMG = _RNG.uniform(-3, 3, size=(2, 2, 5, 4))


def _cases(torch):
    F = torch.nn.functional
    halves = np.array([-2.5, -1.5, -0.5, 0.5, 1.5, 2.5, 0.4, -0.6])
    spd = _RNG.uniform(-2, 2, size=(3, 3))
    dd = (_RNG.uniform(-0.5, 0.5, size=(2, 3, 3)), np.array([2.7, -2.6, 2.9]))
    probs = _RNG.uniform(0.05, 0.95, size=(3, 4))
    return [
        ("round", [halves], {}, lambda x: torch.round(x)),  # half to even
        ("fix", [_X], {}, lambda x: torch.fix(x)),
        ("remainder", [_X, _Y], {}, lambda a, b: torch.remainder(a, b)),  # the divisor's sign
        ("fmod", [_X, _Y], {}, lambda a, b: torch.fmod(a, b)),  # the dividend's sign
        ("std", [_X], {"dim": (0, 2), "correction": 1, "keepdim": True},
         lambda x: torch.std(x, dim=(0, 2), correction=1, keepdim=True)),
        ("median", [_X], {"dim": 2, "keepdim": False}, lambda x: torch.median(x, dim=2)[0]),  # the lower one
        ("median", [_X], {"dim": None, "keepdim": False}, lambda x: torch.median(x)),
        ("kthvalue", [_X], {"k": 2, "dim": -1, "keepdim": True}, lambda x: torch.kthvalue(x, 2, dim=-1, keepdim=True)[0]),
        ("sort", [_X], {"dim": 1, "descending": True}, lambda x: torch.sort(x, dim=1, descending=True)[0]),
        *(("norm", [_X], {"p": p, "dim": d, "keepdim": k}, lambda x, p=p, d=d, k=k: torch.norm(x, p=p, dim=d, keepdim=k))
          for p, d, k in ((1, (0, 2), False), (3.0, (-1, 0), True), (2, None, False), (1, None, False))),
        *(("pad", [x], {"pad": pad, "mode": m, "value": v},
           lambda x, pad=pad, m=m, v=v: F.pad(x, pad, mode=m, value=v) if m == "constant" else F.pad(x, pad, mode=m))
          for x, pad, m, v in ((_IMG, (1, 2), "constant", 1.5), (_IMG, (0, 1, 2, 0), "constant", None),
                               (_IMG, (1, 2, 2, 0), "reflect", None), (_X, (2, 1), "replicate", None),
                               (_X, (3, 1), "reflect", None), (_IMG, (1, 0, 2, 2), "replicate", None))),
        ("leaky_relu", [_X], {"negative_slope": 0.13}, lambda x: F.leaky_relu(x, 0.13)),
        ("elu", [_X], {"alpha": 1.7}, lambda x: F.elu(x, alpha=1.7)),
        ("hardtanh", [_X], {"min_val": -1.5, "max_val": 0.7}, lambda x: F.hardtanh(x, -1.5, 0.7)),
        ("softplus", [_X], {"beta": 1.6}, lambda x: F.softplus(x, beta=1.6)),
        ("silu", [_X], {}, F.silu), ("logsigmoid", [_X], {}, F.logsigmoid),
        ("glu", [_X], {"dim": 2}, lambda x: F.glu(x, dim=2)),
        *(("smooth_l1_loss", [_X, _Y], {"reduction": r, "beta": 0.7},
           lambda a, b, r=r: F.smooth_l1_loss(a, b, reduction=r, beta=0.7)) for r in ("mean", "sum", "none")),
        ("huber_loss", [_X, _Y], {"reduction": "mean", "delta": 1.3},
         lambda a, b: F.huber_loss(a, b, reduction="mean", delta=1.3)),
        ("l1_loss", [_X, _Y], {"reduction": "sum"}, lambda a, b: F.l1_loss(a, b, reduction="sum")),
        *(("kl_div", [np.log(probs), np.log(probs[::-1]) if lt else probs[::-1].copy()], {"reduction": r, "log_target": lt},
           lambda a, b, r=r, lt=lt: F.kl_div(a, b, reduction=r, log_target=lt))
          for r, lt in (("batchmean", False), ("sum", False), ("none", False), ("mean", True))),
        ("binary_cross_entropy", [probs, probs[::-1].copy()], {"reduction": "mean"},
         lambda a, b: F.binary_cross_entropy(a, b)),
        ("binary_cross_entropy_with_logits", [_X, np.abs(_Y) / 3], {"reduction": "none"},
         lambda a, b: F.binary_cross_entropy_with_logits(a, b, reduction="none")),
        ("linear", [_X, _RNG.uniform(-2, 2, (5, 4)), _RNG.uniform(-2, 2, 5)], {}, F.linear),
        ("layer_norm", [_X, _Y[0], _X[1]], {"normalized_shape": (3, 4)},
         lambda x, w, b: F.layer_norm(x, (3, 4), w, b)),
        ("group_norm", [_IMG, np.array([0.5, -2.0]), np.array([1.0, 0.3])], {"num_groups": 2},
         lambda x, w, b: F.group_norm(x, 2, w, b)),
        ("batch_norm", [_IMG, np.array([0.5, -2.0]), np.array([1.0, 0.3])], {},
         lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True)),
        ("normalize", [_X], {"p": 1.0, "dim": -2}, lambda x: F.normalize(x, p=1.0, dim=-2)),
        ("cosine_similarity", [_X, _Y], {"dim": 1}, lambda a, b: F.cosine_similarity(a, b, dim=1)),
        ("embedding", [_X[0]], {"input": np.array([[2, 0], [2, 1]])},
         lambda w: F.embedding(torch.tensor([[2, 0], [2, 1]]), w)),
        ("det", list(dd), {}, lambda a, d: torch.det(a + torch.diag(d))),
        ("slogdet", list(dd), {}, lambda a, d: torch.slogdet(a + torch.diag(d))[1]),
        ("inverse", list(dd), {}, lambda a, d: torch.inverse(a + torch.diag(d))),
        *(("cholesky", [spd, np.array([0.5, 1.0, 2.0])], {"upper": u},
           lambda a, d, u=u: torch.linalg.cholesky(a @ a.T + torch.diag(d), upper=u)) for u in (False, True)),
        ("flip", [_X], {"dims": (0, -1)}, lambda x: torch.flip(x, (0, -1))),
        ("index_select", [_X], {"dim": -1, "index": np.array([3, 0, 3])},
         lambda x: torch.index_select(x, -1, torch.tensor([3, 0, 3]))),
    ]


def _check_against_torch(ops: dict, wrap, unwrap, only: set[str] | None = None) -> set[str]:
    """Every case whose op ``ops`` maps (and is in ``only``): ops[op](wrapped inputs) == torch's, as float64."""
    torch = _torch()
    seen = set()
    for op, xs, params, fn in _cases(torch):
        if op not in ops or (only is not None and op not in only):
            continue
        seen.add(op)
        expected = fn(*[torch.as_tensor(x) for x in xs]).numpy()
        got = unwrap(ops[op]([wrap(x.copy()) for x in xs], params))
        np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-12, err_msg=f"{op} {params}")
    return seen


def test_numpy_translations_match_torch_values() -> None:
    seen = _check_against_torch(OPS, lambda x: x, np.asarray)
    assert {"round", "median", "kthvalue", "norm", "pad", "kl_div", "cholesky", "batch_norm"} <= seen


class _Without:
    """numpy without some functions: the table's fallbacks (trunc for fix, rint for round, indexing for
    flip and index_select) must then give torch's values."""

    def __init__(self, *names: str) -> None:
        self._hidden = set(names)

    def __getattr__(self, name: str):
        if name in self._hidden:
            raise AttributeError(name)
        return getattr(np, name)


def test_fallbacks_where_the_module_lacks_numpys_function() -> None:
    xp = _Without("fix", "round", "around", "flip", "take")
    ops = numpy_ops(xp, composite_log_softmax(xp))
    fallbacks = {"fix", "round", "flip", "index_select"}
    assert _check_against_torch(ops, lambda x: x, np.asarray, fallbacks) == fallbacks


def test_a_module_without_a_function_leaves_its_op_out() -> None:
    ops = numpy_ops(_Without("partition", "pad", "linalg"), None)
    assert not {"kthvalue", "median", "pad", "det", "cholesky", "norm", "normalize"} & set(ops)


# -- the peers' own functions ---------------------------------------------------------------------------

def _jax_cases(torch) -> list:
    F = torch.nn.functional
    w2 = _RNG.uniform(-2, 2, size=(3, 2, 2, 3))
    wt = _RNG.uniform(-2, 2, size=(2, 3, 3, 2))
    b3 = np.array([0.1, -0.4, 0.7])
    interp = [(_IMG, size, ac) for size in ((7, 3), (1, 4), (5, 1), (2, 9)) for ac in (False, True)]
    interp.append((_IMG[:, :, :1, :1].copy(), (3, 2), True))
    return [
        *(("gelu", [_X], {"approximate": a}, lambda x, a=a: F.gelu(x, approximate=a)) for a in ("none", "tanh")),
        ("erf", [_X], {}, torch.erf), ("erfc", [_X], {}, torch.erfc), ("lgamma", [_X + 3.1], {}, torch.lgamma),
        ("digamma", [_X + 3.1], {}, torch.digamma), ("xlogy", [_X, np.abs(_Y) + 0.1], {}, torch.xlogy),
        ("cummax", [_X], {"dim": -2}, lambda x: torch.cummax(x, dim=-2)[0]),
        ("cummin", [_X], {"dim": 0}, lambda x: torch.cummin(x, dim=0)[0]),
        *(("topk", [_X], {"k": 2, "dim": d, "largest": lg}, lambda x, d=d, lg=lg: torch.topk(x, 2, dim=d, largest=lg)[0])
          for d, lg in ((1, True), (-1, False))),
        *(("conv2d", [_IMG, w2[:, :2], b3], {"stride": s, "padding": p},
           lambda x, w, b, s=s, p=p: F.conv2d(x, w, b, stride=s, padding=p)) for s, p in ((1, 0), (2, 1))),
        ("conv1d", [_X, _RNG.uniform(-2, 2, size=(3, 3, 2)), b3], {"stride": 2, "padding": 1},
         lambda x, w, b: F.conv1d(x, w, b, stride=2, padding=1)),
        *(("conv_transpose2d", [_IMG, wt, b3], {"stride": s, "padding": p},
           lambda x, w, b, s=s, p=p: F.conv_transpose2d(x, w, b, stride=s, padding=p)) for s, p in ((1, 0), (2, 1))),
        ("max_pool2d", [_IMG], {"kernel_size": 2, "stride": 3}, lambda x: F.max_pool2d(x, 2, 3)),
        ("avg_pool2d", [_IMG], {"kernel_size": 3, "stride": 1}, lambda x: F.avg_pool2d(x, 3, 1)),
        ("scatter_add", [_X, _Y[:, :2, :3].copy()], {"dim": -1, "index": np.array([[[0, 3, 0]] * 2] * 2)},
         lambda x, s: torch.scatter_add(x, -1, torch.tensor([[[0, 3, 0]] * 2] * 2), s)),
        ("index_add", [_X, _Y[:, :2]], {"dim": 1, "index": np.array([2, 2]), "alpha": -0.5},
         lambda x, s: torch.index_add(x, 1, torch.tensor([2, 2]), s, alpha=-0.5)),
        *(("interpolate", [x], {"size": size, "mode": "bilinear", "align_corners": ac},
           lambda x, size=size, ac=ac: F.interpolate(x, size=size, mode="bilinear", align_corners=ac))
          for x, size, ac in interp),
    ]


def test_jax_functions_match_torch_values() -> None:
    torch = _torch()
    jax = pytest.importorskip("jax", reason="jax not installed")
    jax.config.update("jax_enable_x64", True)
    from conformance.engines.peers.jax_ops import ops

    jops = ops(jax)
    for op, xs, params, fn in _jax_cases(torch) + [c for c in _cases(torch) if c[0] in jops]:
        expected = fn(*[torch.as_tensor(x) for x in xs]).numpy()
        got = np.asarray(jops[op]([jax.numpy.asarray(x) for x in xs], params))
        np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-12, err_msg=f"{op} {params}")


def test_autograd_special_functions_match_torch_values() -> None:
    torch = _torch()
    pytest.importorskip("autograd", reason="autograd not installed")
    from conformance.engines.peers.hips_autograd import AutogradAdapter

    own = AutogradAdapter().engine_ops()
    seen = {c[0] for c in _jax_cases(torch) if c[0] in own}
    assert seen == {"gelu", "erf", "erfc", "lgamma", "digamma"}
    for op, xs, params, fn in _jax_cases(torch):
        if op in own:
            np.testing.assert_allclose(np.asarray(own[op](xs, params)), fn(*[torch.as_tensor(x) for x in xs]).numpy(),
                                       rtol=1e-10, atol=1e-12, err_msg=f"{op} {params}")
            got32 = np.asarray(own[op]([x.astype(np.float32) for x in xs], params))
            assert got32.dtype == np.float32, f"{op} {params}: float32 in, {got32.dtype} out"


def test_mygrad_nnet_functions_match_torch_values() -> None:
    torch = _torch()
    mg = pytest.importorskip("mygrad", reason="mygrad not installed")
    from conformance.engines.peers.mygrad import MyGradAdapter

    own = MyGradAdapter().engine_ops()
    cases = [c for c in _cases(torch) + _jax_cases(torch) if c[0] in own]
    # windows that do not tile the input (cropped: torch never reads the rest); one that does
    cases += [c for c in _jax_cases(torch) if c[0] == "max_pool2d"] + [
        ("max_pool2d", [_IMG], {"kernel_size": 2, "stride": 1}, lambda x: torch.nn.functional.max_pool2d(x, 2, 1))]
    assert {"elu", "leaky_relu", "hardtanh", "glu", "batch_norm", "conv1d", "conv2d", "max_pool2d"} <= {c[0] for c in cases}
    from hypothesis.errors import UnsatisfiedAssumption

    from conformance.checks.properties.base import outside_hypothesis

    for op, xs, params, fn in cases:
        try:
            with outside_hypothesis():  # the adapter's reject() here is not in a hypothesis test, as in the harness
                got = own[op]([mg.Tensor(x) for x in xs], params)
        except UnsatisfiedAssumption:  # padded windows that do not tile the input: not expressible, rejected
            assert op.startswith("conv") and params["padding"] > 0
            continue
        np.testing.assert_allclose(got.data, fn(*[torch.as_tensor(x) for x in xs]).numpy(), rtol=1e-10, atol=1e-12,
                                   err_msg=f"{op} {params}")


class _StrongScalars:
    """numpy whose functions make a Python float a float64 0-d array first, as MyGrad does (docs/findings.md Y6):
    a composite written with Python-float constants would then turn float32 inputs float64."""

    def __getattr__(self, name: str):
        fn = getattr(np, name)
        if not callable(fn) or isinstance(fn, type):
            return fn

        def strong(*args, **kwargs):
            args = tuple(np.asarray(a) if isinstance(a, float) else a for a in args)
            return fn(*args, **{k: np.asarray(v) if isinstance(v, float) else v for k, v in kwargs.items()})
        return strong


@pytest.mark.parametrize("op", ["smooth_l1_loss", "huber_loss", "kl_div", "binary_cross_entropy",
                                "binary_cross_entropy_with_logits", "layer_norm", "group_norm", "batch_norm",
                                "normalize", "cosine_similarity", "silu", "logsigmoid", "softplus", "glu",
                                "leaky_relu", "elu"])
def test_composites_keep_float32_whatever_the_modules_scalars(op: str) -> None:
    """torch's formula constants are written in the input's dtype: float32 in, float32 out."""
    xp = _StrongScalars()
    fn = numpy_ops(xp, composite_log_softmax(xp))[op]
    spec = REGISTRY[op]

    @settings(max_examples=5, database=None, deadline=None, suppress_health_check=list(HealthCheck))
    @seed(0)
    @given(st.data())
    def check(data: st.DataObject) -> None:
        s = spec.sample(data.draw)
        xs = _inputs(spec, s.shapes, np.random.default_rng(0))
        got = np.asarray(fn([x.astype(np.float32) for x in xs], s.params))
        assert got.dtype == np.float32, f"{op} {s.params}: {got.dtype}"
    check()
