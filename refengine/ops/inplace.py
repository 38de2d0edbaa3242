"""In-place ops: ``add_ sub_ mul_ div_ zero_ fill_``.

An in-place op computes its out-of-place twin on a snapshot of the old value,
writes the result into the Variable's own buffer (so every alias sees it),
bumps the version counter (so a backward that saved the old value raises) and
moves the Variable's history onto the new node, as PyTorch does.
"""
from __future__ import annotations

import numpy as np

from refengine.function import ArrayFunction
from refengine.grad_mode import is_grad_enabled
from refengine.ops import arith
from refengine.ops.common import method
from refengine.variable import Variable

_LEAF_MESSAGE = "a leaf Variable that requires grad is being used in an in-place operation."


class Fill(ArrayFunction):
    node_name = "FillBackward0"

    @staticmethod
    def forward(ctx, a, value=0.0):
        return np.full(a.shape, value, a.dtype)

    @staticmethod
    def backward(ctx, g):
        return g * 0


def _inplace(self: Variable, fn, *args, **kwargs) -> Variable:
    if not isinstance(self, Variable):
        raise TypeError(f"in-place op needs a Variable, got {type(self).__name__}")
    if self.is_leaf and self.requires_grad and is_grad_enabled():
        raise RuntimeError(_LEAF_MESSAGE)
    old = Variable.__new__(Variable)
    old.data = self.data.copy()
    old.grad_fn, old.output_nr = self.grad_fn, self.output_nr
    old._requires_grad, old._volatile = self._requires_grad, self._volatile
    old._accumulator = self._accumulator
    old._version = type(self._version)()
    result = fn.apply(old, *args, **kwargs)
    if result.shape != self.shape:
        raise RuntimeError(
            f"output with shape {list(self.shape)} doesn't match the broadcast shape {list(result.shape)}")
    if not self.data.flags.writeable:
        raise RuntimeError("cannot modify a read-only tensor in place")
    np.copyto(self.data, result.data, casting="unsafe")
    self._version.value += 1
    if result.grad_fn is not None:
        self.grad_fn, self.output_nr = result.grad_fn, 0
    return self


@method()
def add_(self, other):
    return _inplace(self, arith.Add, other)


@method()
def sub_(self, other):
    return _inplace(self, arith.Sub, other)


@method()
def mul_(self, other):
    return _inplace(self, arith.Mul, other)


@method()
def div_(self, other):
    return _inplace(self, arith.Div, other)


@method()
def zero_(self):
    return _inplace(self, Fill, value=0.0)


@method()
def fill_(self, value):
    return _inplace(self, Fill, value=float(value))
