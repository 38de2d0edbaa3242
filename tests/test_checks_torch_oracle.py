"""grad_vs_torch where torch itself is wrong: the engine is not blamed for the oracle's bug."""
from __future__ import annotations

import json
import pathlib
from typing import Any, Sequence

import numpy as np
import pytest
import torch
from hypothesis.errors import UnsatisfiedAssumption

from conformance.checks import oracles as O
from conformance.checks.properties import PROPERTIES
from conformance.checks.properties.base import outside_hypothesis
from conformance.engines import resolve
from conformance.spec.program_json import decode_example
from conformance.spec.programs import Node, Program
from tests.broken_engines.engines import SinBackwardOff, _Broken

FIXTURE = pathlib.Path(__file__).parent / "fixtures" / "batch_norm_strided_program.json"


def _check(prop: str, engine: Any, p: Program) -> str:
    """'passed', 'rejected' (not judged) or the failure message."""
    with outside_hypothesis():
        try:
            ev = PROPERTIES[prop].check(engine, p.copy())
        except UnsatisfiedAssumption:
            return "rejected"
    return "passed" if ev.ok else ev.message


def _sin_sum() -> Program:
    return Program([Node(value=np.linspace(-2, 2, 5), requires_grad=True), Node("sin", (0,)), Node("mul", (1, 1)),
                    Node("sum", (2,), {"dim": None, "keepdim": False})], 3, "float64", None, "sin")


class _SinDoubled(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, x: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(x)
        return torch.sin(x)

    @staticmethod
    def backward(ctx: Any, g: torch.Tensor) -> torch.Tensor:
        return 2 * g * torch.cos(ctx.saved_tensors[0])


class SinBackwardDoubled(_Broken):
    """sin's derivative doubled."""

    def apply(self, op: str, inputs: Sequence[Any], params: dict[str, Any]) -> Any:
        return _SinDoubled.apply(inputs[0]) if op == "sin" else super().apply(op, inputs, params)


@pytest.fixture
def torch_doubles_gradients(monkeypatch: pytest.MonkeyPatch) -> None:
    """The torch oracle, made wrong: every leaf gradient doubled."""
    real = O.torch_grads

    def wrong(p: Program) -> Any:
        out, grads = real(p)
        return out, {i: None if g is None else 2 * g for i, g in grads.items()}
    monkeypatch.setattr(O, "torch_grads", wrong)


def test_torch_2_13_batch_norm_gradient_is_wrong_for_a_transposed_input() -> None:
    # PyTorch P4 in docs/findings.md, drawn by a ci run: batch_norm (training) of a (1, 2, 1, 3) input whose
    # strides are (1, 1, 1, 2) -- a transpose of a (3, 2, 1, 1) tensor -- gets a wrong weight gradient
    p = decode_example(json.loads(FIXTURE.read_text()))
    assert "leaf grads: v2" in _check("grad_vs_numerical", resolve("torch"), p)  # fails once torch fixes it
    assert _check("grad_vs_numerical", resolve("refengine"), p) == "passed"
    assert _check("grad_vs_torch", resolve("refengine"), p) == "rejected"  # torch's bug, not refengine's


def test_a_right_engine_is_not_failed_where_torch_is_wrong(torch_doubles_gradients: None) -> None:
    assert _check("grad_vs_torch", resolve("refengine"), _sin_sum()) == "rejected"


def test_a_wrong_engine_still_fails_against_a_right_torch() -> None:
    assert "leaf grads" in _check("grad_vs_torch", SinBackwardOff(), _sin_sum())  # off by 1e-4 relative
    assert "leaf grads" in _check("grad_vs_torch", SinBackwardDoubled(), _sin_sum())


def test_a_wrong_engine_still_fails_where_torch_is_wrong_too(torch_doubles_gradients: None) -> None:
    class SinBackwardTripled(SinBackwardDoubled):
        def apply(self, op: str, inputs: Sequence[Any], params: dict[str, Any]) -> Any:
            out = super().apply(op, inputs, params)
            return out * 1.5 + torch.sin(inputs[0]) * -0.5 if op == "sin" else out  # value sin, slope 2.5 cos
    assert "leaf grads" in _check("grad_vs_torch", SinBackwardTripled(), _sin_sum())
