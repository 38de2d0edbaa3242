"""tinynp: a tiny numpy reverse-mode engine (``engine``) and its adapter on NumpyStyleAdapter (``adapter``).

It stands for "an engine not named in the repository": tests/test_engines_numpy_style.py runs it
through the harness, and docs/adapters.md shows its adapter.
"""
