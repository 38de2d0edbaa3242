"""NumpyStyleAdapter: the base for an engine whose ops are numpy-style functions of one module.

An engine "numpy-style" when its ops are module functions spelled as numpy spells them --
``xp.add(a, b)``, ``xp.sum(x, axis=, keepdims=)``, ``xp.swapaxes``, ``xp.var(x, ddof=)`` -- and
its tensors can be read with ``np.asarray`` (directly or through one attribute, e.g. ``t.data``).
MyGrad, ``autograd.numpy``, ``jax.numpy`` and most small teaching engines are.  For such an
engine this class does the generic half of an adapter:

* the op table: every registry op the module has the functions for (``numpy_ops``: torch's
  ``dim``/``keepdim``/``correction`` translated to ``axis``/``keepdims``/``ddof``, a 0-d input's
  dim, squeeze of a non-1 dim...), plus the engine's own functions from :meth:`engine_ops`;
  ``has_op`` and ``apply`` read it;
* reading: ``to_numpy``, ``grad_of`` (from ``grad_tensor``) and ``dtype_of``, fresh numpy copies
  as the Adapter contract wants.

The subclass keeps what is the engine's own: it sets ``xp`` in ``__init__`` (importing the
engine there, raising ConfigError when it is missing), and writes ``leaf``, ``backward``,
``grad_tensor``, ``is_leaf``, ``requires_grad``, ``grad_fn_name`` and the optional methods its
engine has.  Hooks it may override: :meth:`values` (where a tensor keeps its array),
:meth:`log_softmax` (the engine's own; default: a composite of max/exp/log/sum) and
:meth:`engine_ops`.  Capabilities default to float64, float32, n-d arrays and Python-number operands
(numpy-style functions take ``xp.multiply(x, 0.5)``).
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from conformance.engines.adapter import FLOAT32, FLOAT64, ND, SCALAR_OPERANDS, Adapter, Tensor
from conformance.engines.numpy_ops import COMPOSITE_NEEDS, Op, axis_of, composite_log_softmax, numpy_ops

__all__ = ["NumpyStyleAdapter", "Op", "axis_of"]


class NumpyStyleAdapter(Adapter):
    """Subclass it, set ``self.xp`` in ``__init__``, and write the engine's autograd methods (see the module doc)."""

    capabilities = frozenset({FLOAT64, FLOAT32, ND, SCALAR_OPERANDS})
    #: the engine's numpy-style module (``mygrad``, ``autograd.numpy``...), set by the subclass's ``__init__``
    xp: Any = None

    # -- hooks -------------------------------------------------------------------------
    def values(self, t: Tensor) -> Any:
        """The array an engine tensor holds, as ``np.asarray`` reads it (default: the tensor itself).

        A plain ``np.ndarray`` is never passed here (an engine whose ``.grad`` is a numpy array
        is read directly), so ``return t.data`` is safe.
        """
        return t

    def log_softmax(self, x: Tensor, axis: Any) -> Tensor:
        """log_softmax over ``axis`` (None: a 0-d input); override with the engine's own where it has one.

        The default is ``x - max - log(sum(exp(x - max)))`` with the module's functions; without
        them, log_softmax, softmax and cross_entropy are left out of the table.
        """
        return composite_log_softmax(self.xp)(x, axis)

    def engine_ops(self) -> dict[str, Op]:
        """Registry ops as the engine's own functions (``nn.softmax``, ``sigmoid``...): they replace or add to
        the table's.  Each is ``f(inputs, params) -> tensor``; ``axis_of(x, params["dim"])`` gives numpy's axis."""
        return {}

    # -- the op table ------------------------------------------------------------------
    @property
    def ops(self) -> dict[str, Op]:
        """Registry op -> ``f(inputs, params)``: ``numpy_ops(xp)`` updated by ``engine_ops()``, built once."""
        table = self.__dict__.get("_ops")
        if table is None:
            if self.xp is None:
                raise NotImplementedError(f"{type(self).__name__}.__init__ must set self.xp, the engine's "
                                          "numpy-style module")
            own = type(self).log_softmax is not NumpyStyleAdapter.log_softmax
            usable = own or all(hasattr(self.xp, n) for n in COMPOSITE_NEEDS)
            table = numpy_ops(self.xp, self.log_softmax if usable else None)
            table.update(self.engine_ops())
            self.__dict__["_ops"] = table
        return table

    @ops.setter
    def ops(self, table: dict[str, Op]) -> None:
        """An adapter may also set its whole table (``self.ops = numpy_ops(xp, ...)``, as older adapters do)."""
        self.__dict__["_ops"] = table

    def has_op(self, op: str) -> bool:
        return op in self.ops

    def apply(self, op: str, inputs: Sequence[Tensor], params: dict[str, Any]) -> Tensor:
        return self.ops[op](list(inputs), params)

    # -- reading -----------------------------------------------------------------------
    def _array(self, t: Any) -> Any:
        return t if isinstance(t, np.ndarray) else self.values(t)

    def to_numpy(self, t: Tensor) -> np.ndarray:
        return np.array(self._array(t), copy=True)

    def grad_of(self, t: Tensor) -> np.ndarray | None:
        """A copy of ``grad_tensor(t)`` (write ``grad_tensor``; override this only if ``.grad`` cannot be returned)."""
        if not self.implements("grad_tensor"):
            raise NotImplementedError(f"{type(self).__name__}: write grad_tensor(t) (return t.grad), or grad_of(t)")
        g = self.grad_tensor(t)
        return None if g is None else self.to_numpy(g)

    def dtype_of(self, t: Tensor) -> str:
        return str(np.asarray(self._array(t)).dtype)
