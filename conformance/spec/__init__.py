"""spec: what is checked, independent of any engine.

Holds the op registry (one keyword-only :class:`OpSpec` per op, in ``spec/ops/`` by family),
the shape and value strategies, random :class:`~conformance.spec.programs.Program` DAGs
with their JSON form and reproducer scripts, the tolerance table, and user op specs.

May import: numpy, hypothesis, :mod:`conformance.errors`.  Nothing else of conformance.
A new op goes into ``spec/ops/FAMILY.py``.
"""
