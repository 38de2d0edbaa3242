"""``--engine mygrad``: MyGrad (numpy-based, n-d, stateful ``Tensor`` with ``.backward()``).

Ops are MyGrad's numpy-style functions (the NumpyStyleAdapter table) plus ``mygrad.nnet``
activations, ``batchnorm``, ``conv_nd`` (conv1d, conv2d: a cross-correlation of (N, C, ...) by
(F, C, ...), torch's layout; the bias added as torch defines it) and ``max_pool`` (MyGrad has no
differentiable logsumexp, no average pooling, no transposed convolution).  MyGrad's windows must tile
the (padded) input exactly, where torch drops the trailing elements no window reaches: without
padding those are cropped first (torch never reads them: their gradient is 0 either way); with
padding they are not expressible (MyGrad pads both ends alike) and such samples are rejected.  A leaf that does not require grad is ``constant=True``.  MyGrad fills ``.grad``
of every non-constant tensor in the graph, intermediates included, so ``retain_grad`` is a
no-op and RETAIN_GRAD is declared.  Not declared: RETAIN_GRAPH (the graph is cleared after
every backward; there is no way to keep it), NO_GRAD (``mygrad.no_autodiff`` exists, but no
``enable_grad`` / ``set_grad_enabled``), HOOKS, INPLACE (not mapped yet), FUNCTIONAL_GRAD.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from conformance.engines.adapter import RETAIN_GRAD
from conformance.engines.numpy_style import NumpyStyleAdapter, Op, axis_of
from conformance.engines.peers import require


class MyGradAdapter(NumpyStyleAdapter):
    name = "mygrad"
    capabilities = NumpyStyleAdapter.capabilities | {RETAIN_GRAD}

    def __init__(self) -> None:
        self.xp = self.mg = require("mygrad", "mygrad")
        import mygrad.nnet as nn

        self.nn = nn

    def log_softmax(self, x: Any, axis: Any) -> Any:
        return self.nn.logsoftmax(x, axis=axis)

    def engine_ops(self) -> dict[str, Op]:
        nn, mg = self.nn, self.mg

        def windows(x: Any, k: tuple[int, ...], stride: int, pad: int) -> Any:
            """x cropped to what torch's windows reach (MyGrad wants an exact tiling)."""
            spatial = x.shape[2:]
            used = tuple((n + 2 * pad - kk) // stride * stride + kk for n, kk in zip(spatial, k))
            if all(u == n + 2 * pad for u, n in zip(used, spatial)):
                return x
            if pad:
                from hypothesis import reject
                reject()  # the trailing elements torch drops include padding on one end only
            return x[(slice(None), slice(None)) + tuple(slice(0, u) for u in used)]

        def conv(i: list[Any], p: dict[str, Any]) -> Any:
            x = windows(i[0], i[1].shape[2:], p["stride"], p["padding"])
            y = nn.conv_nd(x, i[1], stride=p["stride"], padding=p["padding"])
            return y + mg.reshape(i[2], (1, -1) + (1,) * (i[0].ndim - 2))

        def batch_norm(i: list[Any], p: dict[str, Any]) -> Any:  # training mode: the batch's statistics
            return nn.batchnorm(i[0], gamma=i[1], beta=i[2], eps=1e-5)

        return {"relu": lambda i, p: nn.relu(i[0]), "sigmoid": lambda i, p: nn.sigmoid(i[0]),
                "softmax": lambda i, p: nn.softmax(i[0], axis=axis_of(i[0], p["dim"])),
                "elu": lambda i, p: nn.elu(i[0], p["alpha"]),
                "leaky_relu": lambda i, p: nn.leaky_relu(i[0], p["negative_slope"]),
                "hardtanh": lambda i, p: nn.hard_tanh(i[0], lower_bound=p["min_val"], upper_bound=p["max_val"]),
                "glu": lambda i, p: nn.glu(i[0], axis=p["dim"]),
                "batch_norm": batch_norm, "conv1d": conv, "conv2d": conv,
                "max_pool2d": lambda i, p: nn.max_pool(windows(i[0], (p["kernel_size"],) * 2, p["stride"], 0),
                                                       (p["kernel_size"],) * 2, p["stride"])}

    def version(self) -> str | None:
        return self.mg.__version__

    def values(self, t: Any) -> Any:
        return t.data

    def leaf(self, value: np.ndarray, dtype: str, requires_grad: bool) -> Any:
        return self.mg.Tensor(np.array(value, dtype=dtype), constant=not requires_grad)

    def integer_leaf(self, value: np.ndarray, dtype: str, requires_grad: bool = False) -> Any:
        return self.mg.Tensor(np.array(value, dtype=dtype), constant=not requires_grad)

    def backward(self, out: Any, gradient: Any = None, retain_graph: bool | None = None,
                 create_graph: bool = False) -> None:
        out.backward(None if gradient is None else gradient.data)

    def grad_tensor(self, t: Any) -> Any:
        return t.grad  # a numpy array (or None): MyGrad keeps gradients as plain arrays

    def is_leaf(self, t: Any) -> bool:
        return getattr(t, "creator", None) is None  # a numpy bool from a comparison is a leaf of nothing

    def requires_grad(self, t: Any) -> bool:
        # comparisons give plain numpy bools, not Tensors: nothing to differentiate
        return isinstance(t, self.mg.Tensor) and not t.constant

    def grad_fn_name(self, t: Any) -> str | None:
        return None if getattr(t, "creator", None) is None else type(t.creator).__name__

    def zero_grad(self, t: Any) -> None:
        t.null_grad()

    def retain_grad(self, t: Any) -> None:
        pass  # MyGrad keeps the gradient of every non-constant tensor

    def detach(self, t: Any) -> Any:
        return self.mg.Tensor(t.data, constant=True)  # MyGrad's idiom: a constant copy of the data

    def is_autograd_error(self, exc: BaseException) -> bool:
        from mygrad.errors import InvalidBackprop, InvalidGradient
        return isinstance(exc, (InvalidBackprop, InvalidGradient))
