"""All properties, registered in display order: ``PROPERTIES[name]`` is a Property."""
from __future__ import annotations

from conformance.checks.properties import extreme  # noqa: F401
from conformance.checks.properties import gradients  # noqa: F401
from conformance.checks.properties import grad_mode  # noqa: F401
from conformance.checks.properties import hooks  # noqa: F401
from conformance.checks.properties import semantics  # noqa: F401
from conformance.checks.properties import stateful  # noqa: F401
from conformance.checks.properties import structural  # noqa: F401
from conformance.checks.properties.base import PROPERTIES, Evidence, Property

__all__ = ["PROPERTIES", "Property", "Evidence"]
