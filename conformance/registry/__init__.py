"""The op registry: every op the harness knows, by name, split by family.

``REGISTRY[name]`` is an :class:`OpSpec`.  Import order is the display order.
"""
from __future__ import annotations

from . import elementwise, index, linalg, nn, reduce, shape
from .spec import DEFAULT_TOL, Domain, OpSpec, Sample

REGISTRY: dict[str, OpSpec] = {}
for _family in (elementwise, reduce, linalg, shape, index, nn):
    for _spec in _family.SPECS:
        assert _spec.name not in REGISTRY, _spec.name
        REGISTRY[_spec.name] = _spec


def get(name: str) -> OpSpec:
    return REGISTRY[name]


__all__ = ["REGISTRY", "OpSpec", "Domain", "Sample", "DEFAULT_TOL", "get"]
