"""refengine: a small reference autograd engine with PyTorch's Variable/Function/backward semantics.

    >>> import refengine as re
    >>> w = re.tensor([2.0], requires_grad=True)
    >>> (w * w).sum().backward()
    >>> w.grad
    tensor([4.])

The API mirrors torch's names so one program reads the same on both engines:
``refengine.tensor``, ``no_grad``, ``autograd.grad``, ``nn.functional`` and ops
as module functions and Variable methods.
"""
from __future__ import annotations

import numpy as np

from refengine import ops
from refengine.engine import backward, grad
from refengine.function import AccumulateGrad, ArrayFunction, Function, Node
from refengine.grad_mode import enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from refengine.ops import *  # noqa: F401,F403  (the op functions: refengine.exp, ...)
from refengine.variable import Variable, as_array, bind_ops

__version__ = "0.1.0"

Tensor = Variable

float16 = np.dtype(np.float16)  # through the numpy twins: the Cython kernels are float32/float64 only
float32 = np.dtype(np.float32)
float64 = np.dtype(np.float64)
int64 = np.dtype(np.int64)
int32 = np.dtype(np.int32)
bool = np.dtype(np.bool_)  # noqa: A001  (torch.bool)

bind_ops(ops)


def tensor(data, dtype=None, requires_grad: "builtins.bool" = False) -> Variable:
    """A new leaf Variable holding a copy of ``data`` (array, nested list or scalar)."""
    v = Variable(as_array(data, dtype, copy=True))
    if requires_grad:
        v.requires_grad = True
    return v


def zeros(*shape, dtype=float64, requires_grad=False) -> Variable:
    return tensor(np.zeros(_shape(shape), dtype), requires_grad=requires_grad)


def ones(*shape, dtype=float64, requires_grad=False) -> Variable:
    return tensor(np.ones(_shape(shape), dtype), requires_grad=requires_grad)


def _shape(shape):
    return tuple(shape[0]) if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else shape


from refengine import autograd, nn  # noqa: E402  (they import the names above)
from refengine import linalg  # noqa: E402
from refengine import func  # noqa: E402  (torch.func: jvp)
import builtins  # noqa: E402
