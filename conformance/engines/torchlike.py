"""Generic adapter for any module that mimics the PyTorch API (``--engine torchlike:MODULE``).

It uses only the documented torch-like surface: ``M.tensor(ndarray, dtype=M.float64|M.float32,
requires_grad=b)``, grad-mode functions, ops as module functions with torch names
(``M.nn.functional.*`` for nn ops), tensor attributes ``.grad .grad_fn .is_leaf
.requires_grad``, methods ``.retain_grad() .backward() .detach() .numpy()
.register_hook()`` and ``M.autograd.grad``.  Capabilities are derived from which of
these the module and its tensors expose, so a partial engine gets not-applicable
cells rather than errors.  ``torch`` itself goes through this very class, which is
why ``torchlike:torch`` and ``torch`` give identical results.
"""
from __future__ import annotations

import re
import warnings
from contextlib import AbstractContextManager
from typing import Any, Callable, Sequence

import numpy as np
from hypothesis import reject

from conformance.engines import adapter as base
from conformance.engines.adapter import Adapter, Tensor
from conformance.spec.dtypes import NP_DTYPES
from conformance.spec.ops import REGISTRY

_NAMES = re.compile(r"\bM\.([\w.]+)")
#: the numpy type a floating dtype's values travel in to ``M.tensor``
NP_TYPES = {"float64": np.float64, "float32": np.float32, "float16": np.float16,
            "bfloat16": np.float32}  # numpy has no bfloat16: the values (bfloat16-exact) travel as float32
#: the dtypes ``dtype_of`` names (torch.float16 -> "float16"); floats first, as the common case
DTYPE_NAMES = ("float64", "float32", "float16", "bfloat16", "int64", "int32", "int16", "int8", "uint8", "bool")


class TorchLikeAdapter(Adapter):
    """Adapter over a torch-like module ``module``."""

    def __init__(self, module: Any, name: str | None = None, capabilities: frozenset[str] | None = None) -> None:
        self.M = module
        self.name = name or f"torchlike:{getattr(module, '__name__', module)}"
        self._probe = module.tensor(np.zeros(2), dtype=module.float64, requires_grad=True)
        self.capabilities = capabilities if capabilities is not None else self._probe_capabilities()
        self._op_cache: dict[str, bool] = {}

    # -- identity --------------------------------------------------------------------
    def version(self) -> str | None:
        return getattr(self.M, "__version__", None)

    def _probe_capabilities(self) -> frozenset[str]:
        M, t = self.M, self._probe
        # torch-like modules take Python numbers as operands (torch.mul(x, 2.0)): SCALAR_OPERANDS always
        caps = {base.FLOAT64, base.ND, base.RETAIN_GRAPH, base.SCALAR_OPERANDS}
        # a dtype the module names is a dtype it computes in (torch: all four; refengine: no bfloat16)
        caps |= {dt for dt in (base.FLOAT32, base.FLOAT16, base.BFLOAT16) if hasattr(M, dt)}
        if hasattr(getattr(M, "autograd", None), "grad"):
            caps |= {base.FUNCTIONAL_GRAD, base.HIGHER_ORDER}
        if all(hasattr(M, n) for n in ("no_grad", "enable_grad", "set_grad_enabled", "is_grad_enabled")):
            caps |= {base.NO_GRAD, base.GRAD_MODE_DECORATOR}
        if hasattr(t, "register_hook"):
            caps.add(base.HOOKS)
        if hasattr(t, "retain_grad"):
            caps.add(base.RETAIN_GRAD)
        if hasattr(t, "add_") and hasattr(t, "mul_") and hasattr(t, "_version"):
            caps.add(base.INPLACE)
        fwd = getattr(getattr(M, "autograd", None), "forward_ad", None)
        if all(hasattr(fwd, n) for n in ("dual_level", "make_dual", "unpack_dual")):
            caps.add(base.FORWARD_AD)
        return frozenset(caps)

    def _has(self, path: str) -> bool:
        obj: Any = self._probe if path.startswith("Tensor.") else self.M
        for part in (path.split(".")[1:] if path.startswith("Tensor.") else path.split(".")):
            if not hasattr(obj, part):
                return False
            obj = getattr(obj, part)
        return True

    def has_op(self, op: str) -> bool:
        if op not in self._op_cache:
            self._op_cache[op] = not self.missing_names(op)
        return self._op_cache[op]

    def missing_names(self, op: str) -> list[str]:
        """The names the op's template (and ``requires``) use that this namespace lacks, e.g. ['softplus']."""
        spec = REGISTRY[op]
        tpls = [spec.template_for({"dim": d}) for d in (None, 0)] if callable(spec.template) else [spec.template]
        needed = set(spec.requires) | {n for tpl in tpls for n in _NAMES.findall(tpl)}
        return sorted(n for n in needed if not self._has(n))

    # -- building --------------------------------------------------------------------
    def leaf(self, value: np.ndarray, dtype: str, requires_grad: bool) -> Tensor:
        return self.M.tensor(np.array(value, dtype=NP_TYPES[dtype]), dtype=getattr(self.M, dtype),
                             requires_grad=requires_grad)

    def integer_leaf(self, value: np.ndarray, dtype: str, requires_grad: bool = False) -> Tensor:
        """``M.tensor(value, dtype=M.int64|M.int32|M.bool, requires_grad=...)``: torch raises for requires_grad."""
        if not hasattr(self.M, dtype):
            reject()  # the module has no such dtype: an example this engine cannot express, not judged
        return self.M.tensor(np.array(value, dtype=dtype), dtype=getattr(self.M, dtype), requires_grad=requires_grad)

    def apply(self, op: str, inputs: Sequence[Tensor], params: dict[str, Any]) -> Tensor:
        return REGISTRY[op].call(self.M, inputs, params)

    def apply_inplace(self, op: str, target: Tensor, other: Tensor | float) -> Tensor:
        return getattr(target, op + "_")(other)

    # -- differentiation -------------------------------------------------------------
    def backward(self, out: Tensor, gradient: Tensor | None = None, retain_graph: bool | None = None,
                 create_graph: bool = False) -> None:
        out.backward(gradient=gradient, retain_graph=retain_graph, create_graph=create_graph)

    def grad(self, outputs: Sequence[Tensor], inputs: Sequence[Tensor], grad_outputs: Sequence[Tensor | None],
             retain_graph: bool | None = None, create_graph: bool = False,
             allow_unused: bool = False) -> list[Tensor | None]:
        kw = {"allow_unused": True} if allow_unused else {}  # only passed when needed: not every engine has it
        return list(self.M.autograd.grad(list(outputs), list(inputs), grad_outputs=list(grad_outputs),
                                         retain_graph=retain_graph, create_graph=create_graph, **kw))

    def jvp(self, fn: Callable[[list[Tensor]], list[Tensor]], primals: Sequence[Tensor],
            tangents: Sequence[np.ndarray | None]) -> list[np.ndarray | None]:
        """Dual tensors: ``make_dual`` each primal with its tangent inside one ``dual_level``, run
        ``fn``, ``unpack_dual`` each output.  Tangents are read before the level closes (they die with it).

        An op without a forward-mode formula raises NotImplementedError (torch: "Trying to use forward
        AD with cholesky that does not support it"): like an op the engine lacks, that is not a wrong
        answer, so the example is rejected and a cell whose every example needs such an op is
        not-applicable."""
        fwd = self.M.autograd.forward_ad
        with fwd.dual_level():
            duals = [p if t is None else fwd.make_dual(p, self.M.tensor(np.asarray(t, dtype=NP_TYPES[self.dtype_of(p)]),
                                                                        dtype=p.dtype))
                     for p, t in zip(primals, tangents)]
            try:
                outs = fn(duals)
            except NotImplementedError:
                reject()
            tangent_outs = [fwd.unpack_dual(o).tangent for o in outs]
            return [None if t is None else self.to_numpy(t) for t in tangent_outs]

    # -- reading ---------------------------------------------------------------------
    def to_numpy(self, t: Tensor) -> np.ndarray:
        t = t.detach()
        name = self.dtype_of(t)
        zero = getattr(t, "_is_zerotensor", None)
        if zero is not None and zero():  # torch's lazy zeros (e.g. abs'' ) refuse .numpy()
            return np.zeros(tuple(t.shape), dtype=NP_DTYPES.get(name, name))
        if name == "bfloat16":  # torch's .numpy() refuses bfloat16; float32 holds it exactly
            return t.float().numpy().astype(NP_DTYPES["bfloat16"])
        return np.array(t.numpy(), copy=True)

    def grad_tensor(self, t: Tensor) -> Tensor | None:
        if getattr(t, "is_leaf", False) is True or getattr(t, "retains_grad", False) is True:
            return t.grad  # no warning to silence (silencing costs more than the read)
        with warnings.catch_warnings():  # torch warns when reading .grad of a non-leaf
            warnings.simplefilter("ignore")
            return t.grad

    def grad_of(self, t: Tensor) -> np.ndarray | None:
        g = self.grad_tensor(t)
        return None if g is None else self.to_numpy(g)

    def dtype_of(self, t: Tensor) -> str:
        for name in DTYPE_NAMES:  # M's dtype objects, named as numpy names them
            if t.dtype == getattr(self.M, name, None):
                return name
        return str(t.dtype)

    def is_leaf(self, t: Tensor) -> bool:
        return bool(t.is_leaf)

    def requires_grad(self, t: Tensor) -> bool:
        return bool(t.requires_grad)

    def grad_fn_name(self, t: Tensor) -> str | None:
        gf = t.grad_fn
        if gf is None:
            return None
        return gf.name() if hasattr(gf, "name") else type(gf).__name__

    def set_requires_grad(self, t: Tensor, flag: bool) -> None:
        if hasattr(t, "requires_grad_"):
            t.requires_grad_(flag)
        else:
            t.requires_grad = flag

    def zero_grad(self, t: Tensor) -> None:
        t.grad = None

    def retain_grad(self, t: Tensor) -> None:
        t.retain_grad()

    def detach(self, t: Tensor) -> Tensor:
        return t.detach()

    def register_hook(self, t: Tensor, fn: Callable[[Tensor], Tensor | None]) -> Any:
        return t.register_hook(fn)

    def version_counter(self, t: Tensor) -> int | None:
        return getattr(t, "_version", None)

    # -- grad mode -------------------------------------------------------------------
    def no_grad(self) -> AbstractContextManager[Any]:
        return self.M.no_grad()

    def enable_grad(self) -> AbstractContextManager[Any]:
        return self.M.enable_grad()

    def set_grad_enabled(self, flag: bool) -> AbstractContextManager[Any]:
        return self.M.set_grad_enabled(flag)

    def is_grad_enabled(self) -> bool:
        return bool(self.M.is_grad_enabled())

    def no_grad_decorator(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        return self.M.no_grad()(fn)
