"""The spec of ``squareplus_bad``, the user op whose backward is deliberately wrong."""
from __future__ import annotations

from conformance.spec.ops import OpSpec

from .ops import squareplus_ref, squareplus_sample

OPS = [OpSpec("squareplus_bad", "user", 1, "M.squareplus_bad($x0)", squareplus_sample, squareplus_ref,
              torch_equivalent="")]
