"""The spec of ``squareplus_bad``, the user op whose backward is deliberately wrong."""
from __future__ import annotations

from conformance.spec.ops import OpSpec

from .ops import squareplus_ref, squareplus_sample

OPS = [OpSpec(name="squareplus_bad", family="user", arity=1, template="M.squareplus_bad($x0)",
              sample=squareplus_sample, reference=squareplus_ref, torch_equivalent="")]
