"""Broken engines for diagnosis: a bug in a glue op, and several independent bugs at once.

A glue op (add, mul, sum, tanh, transpose) appears around every focus op the program
generator draws, so its bug shows up in other ops' cells; diagnosis must file it under the
glue op and read the other cells as blocked-by.  An engine with two or three bugs must yield
one finding per bug, each on its own culprit.  ``CULPRITS`` is what each engine must yield,
and the cells (ops, properties) of the ci run that shows it.
"""
from __future__ import annotations

from typing import Any, Sequence

from .engines import (AddDropsBroadcastReduction, DetachKeepsGraph, RetainGradIgnored, SinBackwardOff,
                      UnusedLeafGetsZeros, _Broken)


class TanhReturnsFloat64(_Broken):
    """tanh of a float32 tensor returns float64 (computed in double, never cast back); every op
    whose program puts tanh after it sees float64 downstream."""

    def apply(self, op: str, inputs: Sequence[Any], params: dict[str, Any]) -> Any:
        if op == "tanh" and inputs[0].dtype.is_floating_point and inputs[0].element_size() == 4:
            return inputs[0].double().tanh()
        return super().apply(op, inputs, params)


class SinOffAndRetainGradIgnored(SinBackwardOff, RetainGradIgnored):
    """Two independent bugs: sin's derivative off by 1e-4 relative, and retain_grad() a no-op."""


class AddUnusedLeafDetach(AddDropsBroadcastReduction, UnusedLeafGetsZeros, DetachKeepsGraph):
    """Three independent bugs: add's backward skips the broadcast reduction, an unused leaf gets a
    zero .grad, and detach() returns the tensor itself."""


#: engine class -> (expected culprits, ops, properties of the ci run that must show exactly them)
CULPRITS: dict[type, tuple[set[tuple[str, str]], list[str], list[str]]] = {
    AddDropsBroadcastReduction: ({("op", "add")}, ["add", "sin", "exp", "mul"], ["grad_vs_torch", "vjp"]),
    TanhReturnsFloat64: ({("op", "tanh")}, ["tanh", "sin", "exp"], ["forward", "grad_dtype_shape", "grad_vs_torch"]),
    SinOffAndRetainGradIgnored: ({("op", "sin"), ("rule", "retain_grad")}, ["sin", "exp", "mul"],
                                 ["grad_vs_torch", "retain_grad"]),
    AddUnusedLeafDetach: ({("op", "add"), ("rule", "leaf_rule"), ("rule", "detach")}, ["add", "exp", "sin"],
                          ["grad_vs_torch", "leaf_rule", "detach"]),
}
