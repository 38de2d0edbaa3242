"""OpSpecs of the user's custom op (the ``--ops-from`` convention: a module-level OPS list)."""
from __future__ import annotations

from typing import Any

import numpy as np

from conformance.spec.ops import OpSpec, Sample
from conformance.spec import shapes as S


def squareplus_sample(draw: Any) -> Sample:
    return Sample((S.shape(draw),))


def squareplus_ref(x: np.ndarray) -> np.ndarray:
    return (x + np.sqrt(x * x + 4.0)) / 2.0


OPS = [OpSpec(name="squareplus", family="user", arity=1, template="M.squareplus($x0)", sample=squareplus_sample,
              reference=squareplus_ref, torch_equivalent="",
              notes="no torch equivalent: numerical and numpy oracles only")]
