"""Comparisons (issue 20 item 4): eq, lt, gt -- elementwise, broadcasting, a bool result.

A comparison has no gradient: its result is bool, it never requires grad (torch records no graph
for it, even when an operand requires grad), and the mask it makes drives ``where`` or
``masked_fill``, whose gradients flow only into the input each element selects.  So the result
dtype is declared (``result_dtype="bool"``) and the program-drawing properties, which
differentiate through every op they draw, leave these ops out; the ``comparison`` property
(checks/properties/comparisons.py) asks them instead, on float and integer operands with ties
made common (eq is True only on ties).
"""
from __future__ import annotations

from typing import Any

import numpy as np

from conformance.spec import shapes as S
from conformance.spec.opspec import OpSpec, Sample

FAMILY = "comparison"


def _binary(draw: Any) -> Sample:
    return Sample(S.broadcast_pair(draw))


def _cmp(name: str, reference: Any) -> OpSpec:
    return OpSpec(name=name, family=FAMILY, arity=2, template=f"M.{name}($x0, $x1)", sample=_binary,
                  reference=reference, torch_equivalent=f"torch.{name}", result_dtype="bool",
                  notes="bool result that never requires grad; broadcasts")


SPECS = [
    _cmp("eq", np.equal),
    _cmp("lt", np.less),
    _cmp("gt", np.greater),
]
