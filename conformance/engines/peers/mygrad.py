"""``--engine mygrad``: MyGrad (numpy-based, n-d, stateful ``Tensor`` with ``.backward()``).

Ops are MyGrad's numpy-style functions (shared table in ``_numpylike``) plus ``mygrad.nnet``
activations (MyGrad has no differentiable logsumexp).  A leaf that does not require grad is ``constant=True``.  MyGrad fills ``.grad``
of every non-constant tensor in the graph, intermediates included, so ``retain_grad`` is a
no-op and RETAIN_GRAD is declared.  Not declared: RETAIN_GRAPH (the graph is cleared after
every backward; there is no way to keep it), NO_GRAD (``mygrad.no_autodiff`` exists, but no
``enable_grad`` / ``set_grad_enabled``), HOOKS, INPLACE (not mapped yet), FUNCTIONAL_GRAD.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from conformance.engines.adapter import FLOAT32, FLOAT64, ND, RETAIN_GRAD, Adapter
from conformance.engines.peers import require
from conformance.engines.peers._numpylike import axis_of, numpy_ops


class MyGradAdapter(Adapter):
    name = "mygrad"
    capabilities = frozenset({FLOAT64, FLOAT32, ND, RETAIN_GRAD})

    def __init__(self) -> None:
        self.mg = mg = require("mygrad", "mygrad")
        import mygrad.nnet as nn

        self.ops = numpy_ops(mg, lambda x, axis: nn.logsoftmax(x, axis=axis))
        self.ops.update({
            "relu": lambda i, p: nn.relu(i[0]), "sigmoid": lambda i, p: nn.sigmoid(i[0]),
            "softmax": lambda i, p: nn.softmax(i[0], axis=axis_of(i[0], p["dim"])),
        })

    def version(self) -> str | None:
        return self.mg.__version__

    def has_op(self, op: str) -> bool:
        return op in self.ops

    def leaf(self, value: np.ndarray, dtype: str, requires_grad: bool) -> Any:
        return self.mg.Tensor(np.array(value, dtype=dtype), constant=not requires_grad)

    def apply(self, op: str, inputs: Sequence[Any], params: dict[str, Any]) -> Any:
        return self.ops[op](list(inputs), params)

    def backward(self, out: Any, gradient: Any = None, retain_graph: bool | None = None,
                 create_graph: bool = False) -> None:
        out.backward(None if gradient is None else gradient.data)

    def to_numpy(self, t: Any) -> np.ndarray:
        return np.array(t.data, copy=True)

    def grad_tensor(self, t: Any) -> Any:
        return t.grad

    def grad_of(self, t: Any) -> np.ndarray | None:
        return None if t.grad is None else np.array(t.grad, copy=True)

    def dtype_of(self, t: Any) -> str:
        return str(np.asarray(t).dtype if isinstance(t, np.ndarray) else t.dtype)

    def is_leaf(self, t: Any) -> bool:
        return t.creator is None

    def requires_grad(self, t: Any) -> bool:
        return not t.constant

    def grad_fn_name(self, t: Any) -> str | None:
        return None if t.creator is None else type(t.creator).__name__

    def zero_grad(self, t: Any) -> None:
        t.null_grad()

    def retain_grad(self, t: Any) -> None:
        pass  # MyGrad keeps the gradient of every non-constant tensor

    def detach(self, t: Any) -> Any:
        return self.mg.Tensor(t.data, constant=True)  # MyGrad's idiom: a constant copy of the data

    def is_autograd_error(self, exc: BaseException) -> bool:
        from mygrad.errors import InvalidBackprop, InvalidGradient
        return isinstance(exc, (InvalidBackprop, InvalidGradient))
