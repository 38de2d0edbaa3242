"""The harness's user-facing error and its one-line messages.

A :class:`ConfigError` is bad input or configuration (unknown engine, op or property, an
adapter class that cannot be imported, a malformed file): the CLI prints its message, the
whole explanation on one line, and exits 2.  This module imports nothing of conformance, so
every room may raise it.
"""
from __future__ import annotations

import difflib
from typing import Iterable

__all__ = ["ConfigError", "closest", "unknown_name"]


class ConfigError(Exception):
    """Bad input or configuration (unknown name, missing CUDA, malformed file...): exit code 2."""


def closest(name: str, choices: Iterable[str]) -> str:
    """' (did you mean 'sin'?)' for the closest choice, or '' when nothing is close."""
    match = difflib.get_close_matches(name, list(choices), n=1, cutoff=0.6)
    return f" (did you mean {match[0]!r}?)" if match else ""


def unknown_name(kind: str, name: str, choices: Iterable[str], listing: str) -> str:
    """"unknown op 'sinn' (did you mean 'sin'?); see conformance list-ops"."""
    return f"unknown {kind} {name!r}{closest(name, choices)}; see conformance {listing}"
