"""More elementwise ops (issue 16): unary maths and binary broadcasting ops.

Same conventions as ``elementwise.py``: domains keep inputs a margin away from poles and
branch points (tan's poles at pi/2 + k*pi, asin/acos/atanh inside (-1, 1), acosh > 1,
logarithms > 0, rsqrt/reciprocal away from 0); references are float64 numpy (math.erf /
math.erfc through np.vectorize: scipy is not a dependency).
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from conformance.spec import shapes as S
from conformance.spec.opspec import Domain, OpSpec, Sample

FAMILY = "elementwise_more"
POS = Domain(0.1, 3.0)
NONZERO = Domain(-3.0, 3.0, avoid=(0.0,), margin=0.3)
UNIT = Domain(-0.9, 0.9)  # inside (-1, 1), 0.1 from the branch points
TAN = Domain(-3.0, 3.0, avoid=(-math.pi / 2, math.pi / 2), margin=0.25)  # poles of tan in [-3, 3]


def _unary(draw: Any) -> Sample:
    return Sample((S.shape(draw),))


def _binary(draw: Any) -> Sample:
    return Sample(S.broadcast_pair(draw))


def _unary_spec(name: str, ref: Any, domain: Domain | None = None, notes: str = "") -> OpSpec:
    return OpSpec(name=name, family=FAMILY, arity=1, template=f"M.{name}($x0)", sample=_unary, reference=ref,
                  domains=(domain,) if domain else (), torch_equivalent=f"torch.{name}", notes=notes)


def _binary_spec(name: str, ref: Any, domains: tuple[Domain, ...] = (), notes: str = "") -> OpSpec:
    return OpSpec(name=name, family=FAMILY, arity=2, template=f"M.{name}($x0, $x1)", sample=_binary, reference=ref,
                  domains=domains, torch_equivalent=f"torch.{name}", notes=notes)


_erf = np.vectorize(math.erf, otypes=[np.float64])
_erfc = np.vectorize(math.erfc, otypes=[np.float64])

SPECS = [
    # -- unary, smooth on their domains
    _unary_spec("tan", np.tan, TAN),
    _unary_spec("asin", np.arcsin, UNIT),
    _unary_spec("acos", np.arccos, UNIT),
    _unary_spec("atan", np.arctan),
    _unary_spec("sinh", np.sinh),
    _unary_spec("cosh", np.cosh),
    _unary_spec("asinh", np.arcsinh),
    _unary_spec("acosh", np.arccosh, Domain(1.1, 3.0)),
    _unary_spec("atanh", np.arctanh, UNIT),
    _unary_spec("log1p", np.log1p, Domain(-0.9, 3.0)),
    _unary_spec("expm1", np.expm1),
    _unary_spec("log2", np.log2, POS),
    _unary_spec("log10", np.log10, POS),
    _unary_spec("exp2", np.exp2),
    _unary_spec("rsqrt", lambda x: 1.0 / np.sqrt(x), POS),
    _unary_spec("reciprocal", lambda x: 1.0 / x, NONZERO),
    _unary_spec("square", lambda x: x * x),
    _unary_spec("erf", lambda x: _erf(x), notes="reference: math.erf through np.vectorize"),
    _unary_spec("erfc", lambda x: _erfc(x), notes="reference: math.erfc through np.vectorize"),
]

# -- binary, broadcasting like add/mul (gradients summed back to each input's shape)
SPECS += [
    # y kept away from 0: atan2's branch cut (x < 0, y = 0) and its singular origin
    _binary_spec("atan2", np.arctan2, (NONZERO, Domain()), notes="atan2(y, x): y = $x0 kept 0.3 from 0"),
    # one side kept away from 0, so the pair never nears the origin, where hypot is not differentiable
    _binary_spec("hypot", np.hypot, (NONZERO, Domain())),
    _binary_spec("logaddexp", np.logaddexp),
    _binary_spec("xlogy", lambda x, y: x * np.log(y), (Domain(), POS), notes="x * log(y), y > 0.1"),
]
