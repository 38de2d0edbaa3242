"""A user's own package, as the tests see it: a torch-like engine with custom ops (engine.py) and
the OpSpecs that describe them (ops.py, wrong_ops.py), loaded with ``--ops-from``."""
