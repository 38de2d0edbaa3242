"""The op registry: every op the harness knows, by name, split by family.

``REGISTRY[name]`` is an :class:`OpSpec`.  Import order is the display order.
"""
from __future__ import annotations

import importlib
import pkgutil

from conformance.spec.ops import elementwise
from conformance.spec.ops import index
from conformance.spec.ops import linalg
from conformance.spec.ops import nn
from conformance.spec.ops import reduce
from conformance.spec.ops import shape
from conformance.spec.opspec import Domain, Extreme, OpSpec, Sample

REGISTRY: dict[str, OpSpec] = {}
_FAMILIES = [elementwise, reduce, linalg, shape, index, nn]
# any other module of this package with a SPECS list is a family too (``conformance new-op --family NEW``)
for _info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
    if _info.name not in {"spec", "shapes", *(f.__name__.rsplit(".", 1)[1] for f in _FAMILIES)}:
        _mod = importlib.import_module(f"{__name__}.{_info.name}")
        if hasattr(_mod, "SPECS"):
            _FAMILIES.append(_mod)
for _family in _FAMILIES:
    for _spec in _family.SPECS:
        assert _spec.name not in REGISTRY, _spec.name
        REGISTRY[_spec.name] = _spec



def get(name: str) -> OpSpec:
    return REGISTRY[name]


__all__ = ["REGISTRY", "OpSpec", "Domain", "Extreme", "Sample", "get"]
