"""A user op whose spec names a torch function in the wrong namespace: torch has no
``torch.softplus`` (it is ``torch.nn.functional.softplus``)."""
from __future__ import annotations

import numpy as np

from conformance.spec import shapes as S
from conformance.spec.ops import OpSpec, Sample

OPS = [OpSpec(name="softplus_misplaced", family="user", arity=1, template="M.softplus($x0)",
              sample=lambda draw: Sample((S.shape(draw),)), reference=lambda x: np.logaddexp(0.0, x),
              torch_equivalent="torch.softplus")]
