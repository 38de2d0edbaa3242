"""All properties, registered in display order: ``PROPERTIES[name]`` is a Property."""
from __future__ import annotations

from . import extreme, gradients, grad_mode, hooks, semantics, stateful, structural  # noqa: F401
from .base import PROPERTIES, Evidence, Property

__all__ = ["PROPERTIES", "Property", "Evidence"]
