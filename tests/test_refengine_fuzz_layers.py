"""Robustness fuzzing of the kernels of issue 16 (scans, normalisation, padding), as
tests/test_refengine_fuzz.py does for the older ones (and with its hostile arrays): each
kernel straight through its ``def`` entry point against its numpy twin on odd, negative,
zero-stride and misaligned views, non-native byte order, read-only buffers, NaN/inf/huge/
subnormal values; the public ops forward and backward against torch; and the raw entry
points on bad strides and arguments in a subprocess, so a crash fails one test.

Exactness: the scans add (multiply) in the same sequential order in double in kernel and
twin and are compared bit for bit, the pads' forward too (a gather); the normalisation kernels sum in another order (8 partial
sums against numpy's pairwise) and are compared with a tolerance scaled to what was summed.
"""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from test_refengine_fuzz import both, finite_scale, fuzz, hostile, plain, run_both, same

import refengine as re
import refengine.nn.functional as F

torch = pytest.importorskip("torch")

SCAN_OPS = {
    "cumsum": (lambda d: lambda x: re.cumsum(x, d), lambda d: lambda x: torch.cumsum(x, d)),
    "cumprod": (lambda d: lambda x: re.cumprod(x, d), lambda d: lambda x: torch.cumprod(x, d)),
}


@given(x=hostile(), data=st.data(), reverse=st.booleans())
@fuzz()
def test_kernel_scans(x, data, reverse):
    nd = max(x.ndim, 1)
    dim = data.draw(st.integers(-nd - 1, nd))          # one past each end: both must refuse it
    kind, rc, rn = both(lambda K: K["scan"].cumsum(x, dim, reverse))
    if kind == "err":
        assert isinstance(rc, IndexError)
        return
    same(rc, rn, what="cumsum on the view")
    same(rc, both(lambda K: K["scan"].cumsum(plain(x), dim, reverse))[2], what="cumsum on a copy")
    kind, rc, rn = both(lambda K: K["scan"].cumprod(x, dim))
    same(rc, rn, what="cumprod")


@pytest.mark.parametrize("name", sorted(SCAN_OPS))
@given(data=st.data())
@fuzz(30)
def test_op_scans(name, data):
    # cumprod on finite normal values only: its gradient divides by x (torch's formula too), so a
    # subnormal product is rounding-dependent (see prod in test_refengine_fuzz.py), and an inf
    # gives inf / inf = NaN in refengine's formula where torch returns the gradient for a single
    # element (a formula difference of the op, not of the scan kernel: not this file's subject)
    x = data.draw(hostile(huge=False, sub=name != "cumprod", special=0.0 if name == "cumprod" else None))
    d = data.draw(st.integers(-max(x.ndim, 1), max(x.ndim, 1) - 1))
    re_fn, t_fn = SCAN_OPS[name]
    run_both(re_fn(d), t_fn(d), [x], [True], "reduce")


@given(data=st.data(), eps=st.sampled_from([1e-5, 0.0]))
@fuzz()
def test_kernel_norm(data, eps):
    x = data.draw(hostile(data.draw(hnp.array_shapes(min_dims=3, max_dims=3, min_side=0, max_side=4))))
    g = data.draw(hostile(x.shape, x.dtype.newbyteorder("=").type))
    kind, rc, rn = both(lambda K: K["norm"].norm_forward(x, eps))
    assert kind == "ok"
    # a sum's rounding is its terms' magnitude times eps, and xhat divides by the spread
    scale = finite_scale(x) * float(np.nanmax(np.where(np.isfinite(rc[2]), rc[2], 0), initial=0))
    for a, b, what in zip(rc, rn, ("xhat", "mean", "rstd")):
        same(a, b, exact=False, scale=scale if what == "xhat" else finite_scale(x), what=what, via=x.dtype)
    kind, rc2, rn2 = both(lambda K: K["norm"].norm_backward(g, x, rc[1], rc[2]))
    assert kind == "ok"
    rmax = float(np.nanmax(np.where(np.isfinite(rc[2]), rc[2], 0), initial=0))
    same(rc2, rn2, exact=False, scale=(1 + rmax) ** 2 * (finite_scale(g) + 1) * (finite_scale(x) + 1),
         what="norm backward")


NORM_OPS = {
    "layer_norm": (lambda x: F.layer_norm(x, x.shape[-1:]), lambda x: torch.nn.functional.layer_norm(x, x.shape[-1:])),
    "group_norm": (lambda x: F.group_norm(x, 2), lambda x: torch.nn.functional.group_norm(x, 2)),
    "batch_norm": (lambda x: F.batch_norm(x, None, None, training=True),
                   lambda x: torch.nn.functional.batch_norm(x, None, None, training=True)),
}


@pytest.mark.parametrize("name", sorted(NORM_OPS))
@given(data=st.data())
@fuzz(30)
def test_op_norms(name, data):
    # finite values, at least 4 per statistic: a group of 2 or 3 close values is ill-conditioned
    # (the harness discards those, COND_MAX), and any two correct engines differ there
    shape = (data.draw(st.integers(2, 3)), 2 * data.draw(st.integers(1, 2)), data.draw(st.integers(4, 6)))
    x = data.draw(hostile(shape, special=0.0, huge=False))
    re_fn, t_fn = NORM_OPS[name]
    run_both(re_fn, t_fn, [x], [True], "reduce")


@given(data=st.data(), mode=st.sampled_from(["reflect", "replicate"]), seed=st.integers(0, 2**32 - 1))
@fuzz()
def test_kernel_pad(data, mode, seed):
    x = data.draw(hostile(data.draw(hnp.array_shapes(min_dims=1, max_dims=5, min_side=0, max_side=4))))
    k = data.draw(st.integers(1, min(3, x.ndim)))
    widths = tuple((data.draw(st.integers(0, 4)), data.draw(st.integers(0, 4))) for _ in range(k))
    kind, rc, rn = both(lambda K: K["pad"].pad_forward(x, widths, mode))
    if kind == "err":                      # a reflect pad as large as its dim, or a pad of an empty one
        assert isinstance(rc, ValueError)
        return
    same(rc, rn, what="pad forward")
    g = np.random.default_rng(seed).standard_normal(rc.shape).astype(rc.dtype)
    kind, gc, gn = both(lambda K: K["pad"].pad_backward(g, x.shape, widths, mode))
    same(gc, gn, exact=False, scale=finite_scale(g), what="pad backward")


PAD_OPS = {
    (mode, k): (lambda x, m=mode, k=k: F.pad(x, (1, 2, 2, 1, 0, 1)[:2 * k], mode=m),
                lambda x, m=mode, k=k: torch.nn.functional.pad(x, (1, 2, 2, 1, 0, 1)[:2 * k], mode=m))
    for mode in ("reflect", "replicate") for k in (1, 2, 3)
}


@pytest.mark.parametrize("key", sorted(PAD_OPS))
@given(data=st.data())
@fuzz(30)
def test_op_pads(key, data):
    mode, k = key
    shape = tuple(data.draw(st.integers(3, 4)) for _ in range(k + data.draw(st.integers(1, 2))))
    re_fn, t_fn = PAD_OPS[key]
    run_both(re_fn, t_fn, [data.draw(hostile(shape))], [True], "reduce")


RISKY_SCRIPT = textwrap.dedent(r"""
    # Bad strides, dims and sizes straight into the issue-16 Cython entry points; run in a
    # subprocess by test_entry_points_survive_hostile_calls so a crash is a failure.
    import numpy as np
    from refengine.kernels import _scan as S, _norm as M, _pad as P
    CLEAR = (TypeError, ValueError, RuntimeError, IndexError)
    rng = np.random.default_rng(0)

    def views(shape, dt):
        a = rng.standard_normal(shape).astype(dt)
        out = [a, a.T, a[::-1] if a.ndim else a, np.asfortranarray(a)]
        s = a.itemsize
        for step in (s + 1, 2 * s - 1, -(s + 1)):
            n = int(np.prod(shape)) if shape else 1
            buf = np.zeros(abs(step) * (n + 2) + 16, np.uint8)
            off = abs(step) * (n + 1) if step < 0 else 3
            strides, acc = [], step
            for d in reversed(shape):
                strides.insert(0, acc)
                acc *= max(d, 1)
            out.append(np.ndarray(shape, dt, buffer=buf, offset=off, strides=tuple(strides)))
        if a.size:
            out.append(np.broadcast_to(a.reshape(-1)[:1].reshape((1,) * len(shape)), shape))
        return out

    calls = 0
    def run(fn, *args):
        global calls
        calls += 1
        try:
            fn(*args)
        except CLEAR as e:
            assert str(e)

    for dt in (np.float32, np.float64):
        for shape in [(), (0,), (7,), (3, 5), (2, 0, 3), (2, 3, 4), (1, 1, 6, 5), (2, 3, 5, 4)]:
            for v in views(shape, dt):
                for d in range(-5, 5):
                    run(S.cumsum, v, d, False)
                    run(S.cumsum, v, d, True)
                    run(S.cumprod, v, d)
                if len(shape) == 3:
                    for eps in (1e-5, 0.0, -1.0, float("nan")):
                        run(M.norm_forward, v, eps)
                    stats = (np.zeros(shape[1]), np.ones(shape[1]))
                    for w in views(shape, dt)[::2]:
                        run(M.norm_backward, v, w, *stats)
                        run(M.norm_backward, v, w, np.zeros(shape[1] + 1), stats[1])
                        run(M.norm_backward, v, w, stats[0][::-1], stats[1])
                run(M.norm_forward, v, 1e-5)
                for mode in ("reflect", "replicate", "edge"):
                    for widths in [((1, 1),), ((0, 2), (3, 0)), ((1, 0), (0, 1), (2, 2)), ((9, 9),), ((-1, 2),),
                                   ((1, 1),) * 4, ((2**40, 0),)]:
                        run(P.pad_forward, v, widths, mode)
                        run(P.pad_backward, v, shape, widths, mode)
                        run(P.pad_backward, v, shape[:-1] + (shape[-1] + 1,) if shape else (1,), widths, mode)
    print("survived", calls, "calls")
""")


def test_entry_points_survive_hostile_calls(tmp_path):
    script = tmp_path / "risky.py"
    script.write_text(RISKY_SCRIPT)
    env = dict(os.environ, PYTHONFAULTHANDLER="1")
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    p = subprocess.run([sys.executable, str(script)], cwd=root, env=env, capture_output=True, text=True,
                       timeout=120)
    assert p.returncode == 0, f"kernel calls crashed (rc {p.returncode}):\n{p.stdout[-2000:]}\n{p.stderr[-4000:]}"
    assert "survived" in p.stdout
