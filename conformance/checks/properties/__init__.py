"""All properties, registered in display order: ``PROPERTIES[name]`` is a Property.

Each module registers its properties with ``@prop`` (see ``base``) when imported; the import
order below is the display order, and the order of a run's cells.
"""
from __future__ import annotations

# The import order is the registration order: runs, results and reports list cells in it.
# isort: off
from conformance.checks.properties import extreme  # noqa: F401
from conformance.checks.properties import gradients  # noqa: F401
from conformance.checks.properties import forward  # noqa: F401
from conformance.checks.properties import grad_mode  # noqa: F401
from conformance.checks.properties import hooks  # noqa: F401
from conformance.checks.properties import semantics  # noqa: F401
from conformance.checks.properties import stateful  # noqa: F401
from conformance.checks.properties import structural  # noqa: F401
from conformance.checks.properties import stability  # noqa: F401
from conformance.checks.properties import promotion  # noqa: F401
from conformance.checks.properties import integers  # noqa: F401
from conformance.checks.properties import half  # noqa: F401
from conformance.checks.properties import comparisons  # noqa: F401
# isort: on
from conformance.checks.properties.base import PROPERTIES, DeclarationError, Evidence, Property, prop

__all__ = ["PROPERTIES", "Property", "Evidence", "DeclarationError", "prop"]
