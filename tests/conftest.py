"""Shared fixtures of the test suite.

Test files import their helpers (``broken_engines``, ``ops_helpers``, ``report_fixtures``)
directly: pytest's default ``prepend`` import mode puts this directory on ``sys.path``.
"""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def repo_root() -> Path:
    """The repository's root directory (where corpus/, docs/ and the packages live)."""
    return ROOT


@pytest.fixture(autouse=True)
def grad_mode_reset():
    """Grad mode back on after every test: a broken grad-mode engine (or a failing test inside a
    no_grad block) must not turn it off for the tests that follow.  torch and refengine are
    reset only when the test imported them."""
    yield
    for name in ("torch", "refengine"):
        module = sys.modules.get(name)
        if module is not None and hasattr(module, "set_grad_enabled"):
            module.set_grad_enabled(True)
