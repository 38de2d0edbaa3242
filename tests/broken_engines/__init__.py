"""Deliberately broken engines: each is a small TorchAdapter subclass with one plausible bug.

``BROKEN`` maps a class to the cells that must flag it (ops, properties) under the ci
profile; tests/test_detection_broken_engines.py asserts each is caught.  Adding a bug = one
class + one BROKEN entry.
"""
from __future__ import annotations

from .engines import BROKEN

__all__ = ["BROKEN"]
