"""Grad mode: whether operations record a graph.

The flag is thread-local (each thread starts with grad mode on, as in PyTorch),
so one thread's ``no_grad`` block never silences another thread's training step.
Every context manager restores the previous mode on exit, exception or not.
"""
from __future__ import annotations

import functools
from typing import Any, Callable, TypeVar

from refengine.variable import _is_grad_enabled as is_grad_enabled
from refengine.variable import _set_grad_enabled as _set

__all__ = ["no_grad", "enable_grad", "set_grad_enabled", "is_grad_enabled"]

F = TypeVar("F", bound=Callable[..., Any])

# The flag itself is a C thread-local in refengine/variable.pyx, read by the core on every op.


class _GradModeContext:
    """Base for the grad-mode switches: usable as ``with`` block or as a decorator."""

    _mode: bool

    def __enter__(self) -> None:
        self._prev = is_grad_enabled()
        _set(self._mode)

    def __exit__(self, *exc: object) -> None:
        _set(self._prev)

    def __call__(self, fn: F) -> F:
        mode = self._mode

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            prev = is_grad_enabled()
            _set(mode)
            try:
                return fn(*args, **kwargs)
            finally:
                _set(prev)

        return wrapper  # type: ignore[return-value]


class no_grad(_GradModeContext):
    """Disable graph recording: results get ``requires_grad=False`` and no ``grad_fn``."""

    _mode = False


class enable_grad(_GradModeContext):
    """Re-enable graph recording, e.g. inside a ``no_grad`` block."""

    _mode = True


class set_grad_enabled(_GradModeContext):
    """Set grad mode to ``mode``.

    As in PyTorch, calling it switches the mode at once (``set_grad_enabled(False)``
    as a plain statement works); used as a context manager it restores the mode
    that was in force before the call.
    """

    def __init__(self, mode: bool) -> None:
        if not isinstance(mode, bool):
            raise TypeError(f"set_grad_enabled() expects a bool, got {type(mode).__name__}")
        self._prev = is_grad_enabled()
        self._mode = mode
        _set(mode)

    def __enter__(self) -> None:
        pass

    def __exit__(self, *exc: object) -> None:
        _set(self._prev)

    def __call__(self, fn: F) -> F:
        _set(self._prev)  # the decorator form must not switch the mode now
        return super().__call__(fn)
