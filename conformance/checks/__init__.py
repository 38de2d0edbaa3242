"""checks: how an engine's answers are judged.

Holds the oracles (central differences, torch in float64, numpy forward, mpmath) and the
properties: one rule each, registered by the ``@prop`` decorator that declares what the
rule needs (capabilities, adapter methods, oracles, profiles).  A property gets a Program
and an adapter and returns :class:`Evidence`; it never prints and never decides a status.

May import: :mod:`conformance.spec`, :mod:`conformance.engines` (the torch oracle is an engine,
imported lazily), :mod:`conformance.errors`.  A new property goes into ``checks/properties/``.
"""
