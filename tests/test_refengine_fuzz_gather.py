"""Robustness fuzzing of the gather / scatter kernels of issue 16 (``_gather.pyx``), as
tests/test_refengine_fuzz_layers.py does for the scans, norms and pads: each kernel straight
through its ``def`` entry point against its numpy twin on hostile inputs and indices (odd,
negative, zero-stride and misaligned views, non-native byte order, read-only buffers, int32 /
uint8 / big-endian indices, NaN/inf/huge/subnormal values, out-of-range index values); the
public ops (gather, take_along_dim, scatter_add, index_select, index_add) forward, backward and
double-backward against torch; and the raw entry points on bad strides and arguments in a
subprocess, so a crash fails one test.

Exactness: all four kernels copy or add in the order of the index (the twin's ``np.add.at`` adds
unbuffered in that order too), so kernel and twin are compared bit for bit.
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
from test_refengine_fuzz import both, fuzz, hostile, layout, plain, run_both, same, shapes

import refengine as re

torch = pytest.importorskip("torch")

@st.composite
def hostile_input(draw):
    """A hostile float array, non-empty half the time (an empty one reaches no loop)."""
    return draw(hostile(draw(st.one_of(hnp.array_shapes(min_dims=0, max_dims=4, min_side=1, max_side=4), shapes))))


INDEX_LAYOUTS = ["c", "fortran", "reversed", "neg2", "odd", "bigendian", "readonly", "zero_stride"]


def hostile_index(data, shape, n, bad=True):
    """Integer indices of ``shape`` in [0, n) in a hostile layout and width; with ``bad``, sometimes
    one value out of range (-1, n, or a uint64 above 2**63)."""
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    idx = rng.integers(0, max(n, 1), shape)
    dt = data.draw(st.sampled_from([np.int64, np.int32, np.uint8, np.uint64]))
    if bad and idx.size and data.draw(st.integers(0, 5)) == 0:
        flat = idx.reshape(-1)
        flat[rng.integers(0, flat.size)] = n if dt in (np.uint8, np.uint64) else data.draw(st.sampled_from([-1, n]))
    if dt == np.uint8 and idx.size and idx.max() > 255:
        dt = np.int32
    idx = idx.astype(dt)
    if dt == np.uint64 and idx.size and bad and data.draw(st.integers(0, 5)) == 0:
        idx.reshape(-1)[0] = np.uint64(2**64 - 1)
    return layout(idx, data.draw(st.sampled_from(INDEX_LAYOUTS)))


def any_dim(nd):
    """A dim of ``nd`` dims, now and then one past either end (both must refuse it)."""
    return st.sampled_from(list(range(-nd, nd)) * 6 + [-nd - 1, nd])


def gather_shapes(data, x_shape):
    """dim and an index shape for gather on ``x_shape`` (no larger outside dim)."""
    nd = max(len(x_shape), 1)
    dim = data.draw(any_dim(nd))
    xs = x_shape or (1,)
    d = dim % nd
    shape = tuple(data.draw(st.sampled_from([1, 2, 3, 4, 0] if xs[d] else [0, 1])) if a == d
                  else data.draw(st.integers(min(s, 1), s)) for a, s in enumerate(xs))
    return dim, (shape if x_shape else data.draw(st.sampled_from([(), (2,)]))), xs[d]


def _clear(kind, rc):
    """An error both raised must be the clear one: range (RuntimeError) or dim (IndexError)."""
    if kind == "err":
        assert isinstance(rc, (RuntimeError, IndexError)), repr(rc)
        return True
    return False


@given(x=hostile_input(), data=st.data())
@fuzz()
def test_kernel_gather(x, data):
    dim, ishape, n = gather_shapes(data, x.shape)
    idx = hostile_index(data, ishape, n)
    kind, rc, rn = both(lambda K: K["gather"].gather_dim(x, dim, idx))
    if _clear(kind, rc):
        return
    same(rc, rn, what="gather on the views")
    same(rc, both(lambda K: K["gather"].gather_dim(plain(x), dim, plain(idx)))[2], what="gather on copies")


@given(x=hostile_input(), data=st.data(), with_base=st.booleans())
@fuzz()
def test_kernel_scatter_add(x, data, with_base):
    dim, ishape, n = gather_shapes(data, x.shape)
    idx = hostile_index(data, ishape, n)
    src = data.draw(hostile(tuple(ishape), x.dtype.newbyteorder("=").type))
    base = x if with_base else None
    kind, rc, rn = both(lambda K: K["gather"].scatter_add_dim(x.shape, dim, idx, src, base=base))
    if _clear(kind, rc):
        return
    same(rc, rn, what="scatter_add on the views")
    copies = both(lambda K: K["gather"].scatter_add_dim(x.shape, dim, plain(idx), plain(src),
                                                        base=None if base is None else plain(base)))
    same(rc, copies[2], what="scatter_add on copies")


@given(x=hostile_input(), data=st.data(), with_base=st.booleans())
@fuzz()
def test_kernel_index_select_and_add(x, data, with_base):
    nd = max(x.ndim, 1)
    dim = data.draw(any_dim(nd))
    n = (x.shape or (1,))[dim % nd]
    idx = hostile_index(data, data.draw(st.sampled_from([(), (0,), (3,), (6,)])), n)
    kind, rc, rn = both(lambda K: K["gather"].index_select(x, dim, idx))
    if _clear(kind, rc):
        return
    same(rc, rn, what="index_select")
    src = data.draw(hostile(rc.shape if x.ndim else (idx.size,), x.dtype.newbyteorder("=").type))
    kind, ac, an = both(lambda K: K["gather"].index_add(x.shape, dim, idx, src, base=x if with_base else None))
    assert kind == "ok"
    same(ac, an, what="index_add")


# ---------------------------------------------------------------------------------------------
# the public ops against torch (forward, backward, double backward)
# ---------------------------------------------------------------------------------------------

def _op_case(data):
    """A hostile float input of 1-3 dims, a dim, and an in-range int64 index for each op."""
    x = data.draw(hostile(data.draw(hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=4)),
                          huge=False))
    d = data.draw(st.integers(-x.ndim, x.ndim - 1))
    dd = d % x.ndim
    shape = tuple(data.draw(st.integers(1, 4)) if a == dd else data.draw(st.integers(1, s)) for a, s in enumerate(x.shape))
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    idx = rng.integers(0, x.shape[dd], shape)
    vec = rng.integers(0, x.shape[dd], data.draw(st.integers(0, 5)))
    return x, d, idx, vec


OPS = {
    "gather": (lambda x, d, i, v: (lambda a: re.gather(a, d, i), lambda a: torch.gather(a, d, torch.from_numpy(i)))),
    "take_along_dim": (lambda x, d, i, v: (lambda a: re.take_along_dim(a, i, d),
                                           lambda a: torch.take_along_dim(a, torch.from_numpy(i), d))),
    "index_select": (lambda x, d, i, v: (lambda a: re.index_select(a, d, v),
                                         lambda a: torch.index_select(a, d, torch.from_numpy(v)))),
}


@pytest.mark.parametrize("name", sorted(OPS))
@given(data=st.data())
@fuzz(30)
def test_op_selection(name, data):
    x, d, idx, vec = _op_case(data)
    re_fn, t_fn = OPS[name](x, d, idx, vec)
    run_both(re_fn, t_fn, [x], [True], "reduce")


@pytest.mark.parametrize("name", ["scatter_add", "index_add"])
@given(data=st.data())
@fuzz(30)
def test_op_accumulation(name, data):
    x, d, idx, vec = _op_case(data)
    if name == "scatter_add":
        src = data.draw(hostile(idx.shape, x.dtype.newbyteorder("=").type, huge=False))
        ti = torch.from_numpy(idx)
        run_both(lambda a, s: re.scatter_add(a, d, idx, s), lambda a, s: torch.scatter_add(a, d, ti, s),
                 [x, src], [True, True], "reduce")
    else:
        shape = tuple(len(vec) if a == d % x.ndim else s for a, s in enumerate(x.shape))
        src = data.draw(hostile(shape, x.dtype.newbyteorder("=").type, huge=False))
        alpha = data.draw(st.sampled_from([1, 0.5, -2.0]))
        tv = torch.from_numpy(vec)
        run_both(lambda a, s: re.index_add(a, d, vec, s, alpha=alpha),
                 lambda a, s: torch.index_add(a, d, tv, s, alpha=alpha), [x, src], [True, True], "reduce")


def _double_backward(fn, x, cot, v, lib):
    """d/dcot <d/dx <fn(x), cot>, v>: the gradient's own gradient (the adjoint pair again)."""
    if lib is torch:
        a = torch.from_numpy(plain(x)).requires_grad_()
        c = torch.from_numpy(cot).requires_grad_()
        (gx,) = torch.autograd.grad(fn(a), a, c, create_graph=True)
        return torch.autograd.grad(gx, c, torch.from_numpy(v))[0].numpy()
    a, c = re.tensor(x, requires_grad=True), re.tensor(cot, requires_grad=True)
    (gx,) = re.grad(fn(a), [a], grad_outputs=c, create_graph=True)
    return re.grad(gx, [c], grad_outputs=re.tensor(v))[0].data


@given(data=st.data())
@fuzz(30)
def test_op_double_backward(data):
    x, d, idx, vec = _op_case(data)
    x = plain(x)
    x = np.where(np.isfinite(x), x, 1.0).astype(x.dtype)
    rng = np.random.default_rng(0)
    ti, tv = torch.from_numpy(idx), torch.from_numpy(vec)
    cases = [(lambda a: re.gather(a, d, idx), lambda a: torch.gather(a, d, ti), idx.shape),
             (lambda a: re.index_select(a, d, vec), lambda a: torch.index_select(a, d, tv),
              tuple(len(vec) if k == d % x.ndim else s for k, s in enumerate(x.shape)))]
    for re_fn, t_fn, shape in cases:
        cot = rng.standard_normal(shape).astype(x.dtype)
        v = rng.standard_normal(x.shape).astype(x.dtype)
        same(_double_backward(re_fn, x, cot, v, re), _double_backward(t_fn, x, cot, v, torch), exact=False,
             what="double backward")


def test_op_errors_match_torch():
    """Out-of-range indices: the kernels raise the ops' (torch's) RuntimeError, on every backend."""
    from refengine import kernels
    x = re.tensor(np.ones((2, 3)), requires_grad=True)
    for backend in ("cython", "numpy"):
        kernels.use(backend)
        try:
            with pytest.raises(RuntimeError, match="index 3 is out of bounds for dimension 1 with size 3"):
                re.gather(x, 1, np.array([[0, 3], [1, 1]]))
            with pytest.raises(RuntimeError, match="index -1 is out of bounds for dimension 0 with size 2"):
                re.scatter_add(x, 0, np.array([[-1, 0, 0]]), re.tensor(np.ones((1, 3))))
            with pytest.raises(RuntimeError, match="INDICES element is out of DATA bounds, id=3 axis_dim=3"):
                re.index_select(x, 1, np.array([0, 3]))
            with pytest.raises(RuntimeError, match="id=2 axis_dim=2"):
                re.index_add(x, 0, np.array([2]), re.tensor(np.ones((1, 3))))
        finally:
            kernels.use("cython")


RISKY_SCRIPT = textwrap.dedent(r"""
    # Bad strides, dims, shapes and index values straight into the gather Cython entry points; run
    # in a subprocess by test_entry_points_survive_hostile_calls so a crash is a failure.
    import numpy as np
    from refengine.kernels import _gather as G
    CLEAR = (TypeError, ValueError, RuntimeError, IndexError)
    rng = np.random.default_rng(0)

    def views(shape, dt):
        a = rng.standard_normal(shape).astype(dt) if np.dtype(dt).kind == "f" else rng.integers(-1, 4, shape).astype(dt)
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
    def run(fn, *args, **kw):
        global calls
        calls += 1
        try:
            fn(*args, **kw)
        except CLEAR as e:
            assert str(e)

    for dt in (np.float32, np.float64):
        for shape in [(), (0,), (7,), (3, 5), (2, 0, 3), (2, 3, 4), (1, 1, 6, 5)]:
            ishapes = [shape, shape[:-1] + (2,) if shape else (2,), tuple(max(s - 1, 0) for s in shape), (3,), ()]
            for v in views(shape, dt)[::2]:
                for ishape in ishapes:
                    for i in views(ishape, np.int64)[::2] + [np.full(ishape, 2**40, np.int64),
                                                           np.full(ishape, 2**64 - 1, np.uint64)]:
                        for d in range(-5, 5):
                            run(G.gather_dim, v, d, i)
                            run(G.scatter_add_dim, shape, d, i, v)
                            run(G.scatter_add_dim, shape, d, i, np.ones(ishape, dt), base=v)
                            run(G.scatter_add_dim, ishape, d, i, v, base=v)
                            run(G.index_select, v, d, i)
                            run(G.index_add, shape, d, i, v, base=v)
                            run(G.index_add, shape, d, i, np.ones(np.shape(i) + shape[1:], dt))
                run(G.gather_dim, v, 0, np.zeros(shape, np.float64))
                run(G.scatter_add_dim, (-1,) + shape, 0, np.zeros(shape, np.int64), v)
                run(G.scatter_add_dim, shape, 0, np.zeros(shape, np.int64), v, base=v.astype(np.float16))
    print("survived", calls, "calls")
""")


def test_entry_points_survive_hostile_calls(tmp_path):
    script = tmp_path / "risky.py"
    script.write_text(RISKY_SCRIPT)
    env = dict(os.environ, PYTHONFAULTHANDLER="1")
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    p = subprocess.run([sys.executable, str(script)], cwd=root, env=env, capture_output=True, text=True,
                       timeout=300)
    assert p.returncode == 0, f"kernel calls crashed (rc {p.returncode}):\n{p.stdout[-2000:]}\n{p.stderr[-4000:]}"
    assert "survived" in p.stdout
