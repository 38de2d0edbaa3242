"""A user's engine: refengine plus two custom ops torch does not have.

``squareplus(x) = (x + sqrt(x*x + 4)) / 2`` (a smooth relu) with a correct backward, and
``squareplus_bad``: the same forward with a deliberately wrong backward (it forgets the
``1/2``) while ``BUG`` is true -- set ``BUG = False`` to "fix" it.  Everything else is
refengine's (module ``__getattr__``), so ``--engine torchlike:tests.user_ops.engine`` works.
"""
from __future__ import annotations

from typing import Any

import numpy as np

import refengine
from refengine.function import ArrayFunction

BUG = True


class _SquarePlus(ArrayFunction):
    node_name = "SquarePlusBackward0"
    wrong = False

    @classmethod
    def _forward(cls, ctx: Any, a: np.ndarray) -> np.ndarray:
        ctx.save_for_backward(a)
        return (a + np.sqrt(a * a + 4.0)) / 2.0

    @staticmethod
    def forward(ctx: Any, a: np.ndarray) -> np.ndarray:
        return _SquarePlus._forward(ctx, a)

    @staticmethod
    def backward(ctx: Any, g: Any) -> Any:
        (a,) = ctx.saved_tensors
        return g * (1.0 + a / np.sqrt(a * a + 4.0)) / 2.0


class _SquarePlusBad(ArrayFunction):
    node_name = "SquarePlusBadBackward0"

    @staticmethod
    def forward(ctx: Any, a: np.ndarray) -> np.ndarray:
        return _SquarePlus._forward(ctx, a)

    @staticmethod
    def backward(ctx: Any, g: Any) -> Any:
        (a,) = ctx.saved_tensors
        d = 1.0 + a / np.sqrt(a * a + 4.0)
        return g * d if BUG else g * d / 2.0  # the bug: the factor 1/2 is missing


def squareplus(input: Any) -> Any:
    return _SquarePlus.apply(input)


def squareplus_bad(input: Any) -> Any:
    return _SquarePlusBad.apply(input)


def __getattr__(name: str) -> Any:
    return getattr(refengine, name)
