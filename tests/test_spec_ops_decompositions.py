"""The decompositions family (conformance/spec/ops/decompositions.py): solve, qr, eigh, svd are registered, their
samples are as well-conditioned and gapped as the module says (measured over many draws), their numpy
references match torch, torch's float32 error follows the measured condition (the derived float32 tolerance),
and an engine with correct values but a wrong eigenvector (singular vector) backward is caught on the op."""
from __future__ import annotations

import types
from collections.abc import Sequence
from typing import Any

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conformance import run
from conformance.engines.torch import TorchAdapter
from conformance.runner.results import Status
from conformance.spec.ops import REGISTRY
from conformance.spec.ops import decompositions as D
from conformance.spec.programs import KINK_MARGIN

OPS = ("solve", "qr", "eigh", "svd")
DRAWS = settings(max_examples=400, deadline=None, database=None, suppress_health_check=list(HealthCheck))


def _draw(data: Any, op: str, dtype: str = "float64") -> tuple[Any, list[np.ndarray]]:
    s = REGISTRY[op].sample(data.draw)
    return s, [data.draw(d.arrays(shp, dtype)) for d, shp in zip(s.domains, s.shapes)]


def test_registered_in_their_family() -> None:
    for op in OPS:
        spec = REGISTRY[op]
        assert spec.family == "decompositions" and spec.torch_equivalent == f"torch.linalg.{op}"
        assert spec.kink is not None and spec.formula_scale is not None and spec.notes


@pytest.mark.parametrize("op", OPS)
def test_samples_are_conditioned_and_gapped_as_claimed(op: str) -> None:
    """By construction (Weyl): solve / qr sigma_min >= 0.75, cond <= (kappa + 0.25) / 0.75; eigh eigenvalue gaps
    >= 0.5; svd singular values >= 0.75 and >= 0.5 apart; the measure never reaches the kink gate; and the drawn
    condition covers both ends of 1 .. COND_MAX."""
    seen: dict[str, list[float]] = {"measure": [], "gap": [], "cond": [], "drawn": []}

    @DRAWS
    @given(st.data())
    def draws(data: Any) -> None:
        s, xs = _draw(data, op)
        spec = REGISTRY[op]
        m = {"solve": D._solve_measure, "qr": D._qr_measure, "eigh": D._eigh_measure, "svd": D._svd_measure}[op](
            xs, s.params)
        assert spec.formula_scale(xs, s.params) >= m  # the measure, times the reflections' cancelling terms
        assert spec.kink(xs, s.params) >= KINK_MARGIN
        seen["measure"].append(m)
        seen["drawn"].append(s.domains[2].hi)  # kappa (solve, qr) or 1 + w of the cumsum's steps (eigh, svd)
        if op in ("solve", "qr"):
            a = D._matrix(xs[0], xs[1], xs[2], xs[3], s.params["k"])
            sv = np.linalg.svd(a, compute_uv=False)
            kappa = s.domains[2].hi
            assert np.all(sv[..., -1] >= 0.75 - 1e-12)
            cond = float(np.max(sv[..., 0] / sv[..., -1]))
            assert cond <= (kappa + 0.25) / 0.75 + 1e-9
            seen["cond"].append(cond)
            seen["gap"].append(float(np.min(sv)))
        elif op == "eigh":
            w = np.linalg.eigvalsh(D._sym(xs[0], xs[1], xs[2], s.params["shift"]))
            if w.shape[-1] > 1:
                gap = float(np.min(np.diff(w, axis=-1)))
                assert gap >= 0.5 - 1e-12
                seen["gap"].append(gap)
            seen["cond"].append(m)  # the drawn number here: spread over gap
        else:
            sv = np.linalg.svd(D._matrix(xs[0], xs[1], np.cumsum(xs[2]), xs[3], s.params["k"]), compute_uv=False)
            assert np.all(sv >= 0.75 - 1e-12)
            if sv.shape[-1] > 1:
                gap = float(np.min(-np.diff(sv, axis=-1)))
                assert gap >= 0.5 - 1e-12
                seen["gap"].append(gap)
            seen["cond"].append(m)
        assert m <= D.BOUND

    draws()
    print(op, {k: (round(min(v), 3), round(max(v), 1)) for k, v in seen.items() if v})
    # drawn, not fixed: both ends of the grid, and measured conditions from ~1 to within 30x of COND_MAX
    assert min(seen["drawn"]) <= 1.0 + 1e-12 and max(seen["drawn"]) >= D.COND_MAX / 4
    assert min(seen["cond"]) < 2 and max(seen["cond"]) > D.COND_MAX / 30
    assert max(seen["measure"]) <= D.BOUND <= D.LIMIT


def test_the_kink_gate_fires_on_a_repeated_eigenvalue() -> None:
    """A matrix the template did not build: two equal eigenvalues measure infinite, a sample to discard."""
    spec = REGISTRY["eigh"]
    xs = [np.zeros((2, 2)), np.array([1.0, 0.5]), np.array([1.0, 0.0])]
    assert spec.kink(xs, {"shift": 0.0}) < KINK_MARGIN
    assert spec.kink([np.zeros((2, 2)), np.array([1.0, 0.5]), np.array([1.0, 1.0])], {"shift": 0.0}) >= KINK_MARGIN


@pytest.mark.parametrize("op", OPS)
def test_reference_matches_torch(op: str) -> None:
    """The numpy reference and the template run on torch (float64) agree to rounding, gauge included."""
    @DRAWS
    @given(st.data())
    def draws(data: Any) -> None:
        s, xs = _draw(data, op)
        ref = REGISTRY[op].reference(*xs, **s.params)
        out = REGISTRY[op].call(torch, [torch.tensor(x) for x in xs], s.params).numpy()
        assert out.shape == ref.shape
        np.testing.assert_allclose(out, ref, rtol=1e-11, atol=1e-11 * max(1.0, float(np.max(np.abs(ref)))))

    draws()


@pytest.mark.parametrize("op", OPS)
def test_float32_error_follows_the_condition(op: str) -> None:
    """torch's float32 output and gradients vs its float64, relative to the compared scale (compare's max(1,
    max|expected|) over every leaf), stay below F32_ROUNDINGS u32 times the measured condition: the derivation
    of the ops' float32 tolerance (module doc)."""
    worst = [0.0]

    @DRAWS
    @given(st.data())
    def draws(data: Any) -> None:
        s, xs = _draw(data, op, "float32")
        spec = REGISTRY[op]
        c = spec.formula_scale(xs, s.params)
        got = {}
        for dt in (torch.float32, torch.float64):
            ins = [torch.tensor(x, dtype=dt, requires_grad=True) for x in xs]
            out = spec.call(torch, ins, s.params)
            cot = torch.tensor(np.random.default_rng(0).uniform(-2, 2, out.shape), dtype=dt)
            gs = torch.autograd.grad(out, ins, cot)
            got[dt] = [out.detach().double().numpy()] + [g.double().numpy() for g in gs]
        lo, hi = got[torch.float32], got[torch.float64]
        err_out = np.max(np.abs(lo[0] - hi[0])) / max(1.0, float(np.max(np.abs(hi[0]))))
        scale = max([1.0] + [float(np.max(np.abs(g))) for g in hi[1:] if g.size])
        err_grad = max(float(np.max(np.abs(a - b))) / scale for a, b in zip(lo[1:], hi[1:]) if b.size)
        worst[0] = max(worst[0], err_out / (D.U32 * c), err_grad / (D.U32 * c))

    draws()
    print(op, "float32 error / (u32 measure) <=", round(worst[0], 2))
    assert worst[0] <= D.F32_ROUNDINGS, worst[0]


# -- a wrong vector backward with correct values ---------------------------------------------------------
class _EighFlippedGap(torch.autograd.Function):
    """eigh's values and vectors exactly; its backward with the eigenvalue differences reversed (l_i - l_j for
    l_j - l_i: the skew(V^T gV) term's sign), the eigenvalue part right."""

    @staticmethod
    def forward(ctx: Any, a: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        w, v = torch.linalg.eigh(a)
        ctx.save_for_backward(w, v)
        return w, v

    @staticmethod
    def backward(ctx: Any, gw: torch.Tensor, gv: torch.Tensor) -> torch.Tensor:
        w, v = ctx.saved_tensors
        e = w.unsqueeze(-1) - w.unsqueeze(-2)  # should be w_j - w_i
        e = e + torch.eye(w.shape[-1], dtype=w.dtype)
        vgv = v.mT @ gv
        inner = (vgv - vgv.mT) / 2 / e * (1 - torch.eye(w.shape[-1], dtype=w.dtype)) + torch.diag_embed(gw)
        return v @ inner @ v.mT


class _SvdNoVhGrad(torch.autograd.Function):
    """svd's values and vectors exactly; its backward drops gVh (as if Vh were a constant), the rest right."""

    @staticmethod
    def forward(ctx: Any, a: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        ctx.save_for_backward(a)
        u, s, vh = torch.linalg.svd(a, full_matrices=False)
        return u, s, vh

    @staticmethod
    def backward(ctx: Any, gu: torch.Tensor, gs: torch.Tensor, gvh: torch.Tensor) -> torch.Tensor:
        (a,) = ctx.saved_tensors
        with torch.enable_grad():
            x = a.detach().requires_grad_()
            u, s, vh = torch.linalg.svd(x, full_matrices=False)
            (g,) = torch.autograd.grad((u * gu).sum() + (s * gs).sum() + (vh.detach() * gvh).sum(), x)
        return g


class WrongVectorBackward(TorchAdapter):
    """torch, except linalg.eigh's and linalg.svd's backward through the vectors is wrong (values exact)."""

    def __init__(self) -> None:
        super().__init__("cpu")
        self.name = "broken:WrongVectorBackward"
        linalg = types.SimpleNamespace(eigh=lambda a: _EighFlippedGap.apply(a),
                                       svd=lambda a, full_matrices=True: _SvdNoVhGrad.apply(a))
        self.M = types.SimpleNamespace(**{k: getattr(torch, k) for k in dir(torch) if not k.startswith("__")})
        self.M.linalg = linalg

    def apply(self, op: str, inputs: Sequence[Any], params: dict[str, Any]) -> Any:
        return REGISTRY[op].call(self.M, inputs, params)


@pytest.mark.parametrize("op", ["eigh", "svd"])
def test_wrong_vector_backward_is_caught(op: str) -> None:
    rr = run(WrongVectorBackward(), profile="quick", ops=[op], properties=["grad_vs_torch", "grad_vs_numerical"],
             seed=0, corpus=False)
    failed = [r for r in rr.results if r.status == Status.FAILED]
    assert failed and all(r.op == op for r in failed), [(r.op, r.property, r.status) for r in rr.results]
    assert {r.dtype for r in failed} == {"float64", "float32"}  # the float32 tolerance does not hide it
    assert rr.results and all(r.status in (Status.FAILED, Status.PASSED) for r in rr.results)
    assert not any(r.status == Status.PASSED and r.property == "grad_vs_torch" for r in rr.results)
    found = rr.findings()
    assert found and all(f.culprit == {"op": op} for f in found)


def test_the_broken_engine_is_right_on_values() -> None:
    """The broken engine differs from torch only in the backward: forward passes on both ops."""
    rr = run(WrongVectorBackward(), profile="quick", ops=["eigh", "svd"], properties=["forward"], seed=0,
             corpus=False)
    assert rr.results and all(r.status == Status.PASSED for r in rr.results), [(r.op, r.status) for r in rr.results]
