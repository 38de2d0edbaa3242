"""``--engine torch-compile`` (backend ``aot_eager``) and ``--engine torch-compile:inductor``.

torch.compile is a different engine in all but name: dynamo traces a Python function into
an FX graph and AOTAutograd builds its backward graph ahead of time, so the tensors a user
sees are outputs of one ``CompiledFunction`` autograd node.  This adapter makes the harness's
programs *programs* again: ``apply`` records an op in the open **region** (no torch call);
the first time anything of the region is read (values, flags, ``backward``), the whole
region is generated as Python source (``def program(a0, a1, ...): v0 = torch.sin(a0); ...``),
compiled with ``torch.compile(..., fullgraph=True, dynamic=False)`` and run on its inputs:
the leaves, tensors of earlier regions, and index/mask/target arrays.  Every op result of
the region is an output of that one compiled call.  Reading again after more ops were
recorded recompiles and reruns the longer region from its inputs, so what ``backward`` sees
is always the whole program as one compiled function.  A region is closed by ``backward`` /
``grad`` and by a change of grad mode; ops recorded afterwards start a new region.

Proof that compiled code ran: the backend is wrapped so that every *execution* of the
compiled graph is counted per program; if a call of the compiled function did not run the
graph exactly once (dynamo skipped the frame, fell back to eager after the recompile limit,
was disabled), the read raises :class:`NotCompiled` and the cell is an ERROR that says so.
Graph breaks cannot run eagerly either: ``fullgraph=True`` turns them into an exception
(``torch._dynamo.exc.Unsupported``, an ERROR with dynamo's reason), and
``torch._dynamo.config.fail_on_recompile_limit_hit`` is set so that the recompile limit
raises instead of silently running eagerly.  Dynamo errors are never the autograd-error
category (they subclass RuntimeError, torch's autograd error).

Compile cost: compiled functions are cached by program structure -- the generated source,
the inputs' dtypes, shapes, strides, requires_grad and leaf-ness, and the grad mode (LRU,
2000 programs) -- so a program seen before costs one guarded call.  Shapes are static
(``dynamic=False``): with automatic dynamic shapes and a size-free cache key, a quick run of
two ops took ~5x longer (symbolic tracing and recompiles cost more than the hits saved).
aot_eager: ~0.2-0.4 s per new program on this machine; inductor: seconds.  The adapter contract
check asks every op's shape as it is applied: ``shape_of`` answers from meta tensors
(peers/_torch_compile_region.py), so a new program is compiled once, when it is first read
(it was compiled once per prefix before: harness note H8); a region read and then grown (a
property reading an intermediate value) is compiled again.

Capabilities: float64, float32, nd, compiles (static shapes: runs draw shapes from a small pool,
``--shapes``), functional_grad, retain_graph (AOTAutograd saves
tensors with ``save_for_backward``: a second backward raises, ``retain_graph=True`` keeps
them), hooks (on leaves: ordinary tensors), no_grad + decorator (the grad mode is recorded
per op and the region is compiled under it: dynamo guards on it), inplace (recorded in the
region, so dynamo functionalizes it).  Not declared: higher_order (AOTAutograd raises
"torch.compile with aot_autograd does not currently support double backward", see
docs/findings.md), retain_grad (an intermediate of a compiled program is not an autograd
node: retain_grad on it is a sibling output of the CompiledFunction and gets no gradient
from the program's output).

Process-wide state: sets ``torch._dynamo.config.fail_on_recompile_limit_hit``,
``suppress_errors = False`` and ``capture_dynamic_output_shape_ops`` (boolean-mask indexing
has a data-dependent shape; without it fullgraph raises), and torch's intra-op threads to 1.
Run it in its own ``conformance run`` process (the default: a non-built-in engine is isolated).
"""
from __future__ import annotations

import collections
import os
import re
import warnings
import weakref
from contextlib import AbstractContextManager
from typing import Any, Callable, Sequence

import numpy as np

from conformance.engines.adapter import (COMPILES, FLOAT32, FLOAT64, FUNCTIONAL_GRAD, GRAD_MODE_DECORATOR, HOOKS,
                                         INPLACE, ND, NO_GRAD, RETAIN_GRAPH, Adapter)
from conformance.engines.peers import require
from conformance.engines.peers._torch_compile_region import Node, Region, meta_of
from conformance.spec.ops import REGISTRY
from conformance.spec.opspec import literal

_VAR = re.compile(r"\$(\w+)")
_NP = {"float64": np.float64, "float32": np.float32}
CACHE_SIZE = 2000
#: a program function is replaced by a fresh one after this many dynamo compiles (new sizes, guards), so
#: the cache never reaches dynamo's recompile limit (8) by itself; that limit still raises if hit
RETIRE_AFTER = 4


class NotCompiled(Exception):
    """dynamo ran (part of) a program eagerly: the compiled engine was not tested on it."""


class CompiledCallError(Exception):
    """The call of a compiled program raised a RuntimeError that is not dynamo's (kept out of the autograd category)."""


class TorchCompileAdapter(Adapter):
    name = "torch-compile"
    backend_name = "aot_eager"
    dynamic = os.environ.get("CONFORMANCE_TORCH_COMPILE_DYNAMIC", "0") == "1"
    fullgraph = True  # graph breaks and the recompile limit raise; False is dynamo's default (silent eager parts)
    # compiles: static shapes compile once per shape, so runs draw shapes from a small pool (--shapes)
    capabilities = frozenset({FLOAT64, FLOAT32, ND, FUNCTIONAL_GRAD, RETAIN_GRAPH, HOOKS, NO_GRAD,
                              GRAD_MODE_DECORATOR, INPLACE, COMPILES})

    def __init__(self) -> None:
        torch = self.torch = require("torch", self.name)
        import torch._dynamo as dynamo

        self.dynamo = dynamo
        torch.set_num_threads(1)
        dynamo.config.fail_on_recompile_limit_hit = True
        dynamo.config.suppress_errors = False
        dynamo.config.capture_dynamic_output_shape_ops = True
        self._inner_backend = self._make_backend()
        self._cache: collections.OrderedDict[Any, Callable[..., Any]] = collections.OrderedDict()
        self._runs: collections.Counter[Any] = collections.Counter()  # graph executions per program key
        self._frames: collections.Counter[Any] = collections.Counter()  # dynamo compiles per program key
        self.compiles = 0  # distinct programs compiled (for tests and cost reports)
        self._region: Region | None = None

    def version(self) -> str | None:
        return f"torch {self.torch.__version__}, backend {self.backend_name}"

    def _make_backend(self) -> Callable[..., Any]:
        from torch._dynamo.backends.debugging import aot_eager
        return aot_eager

    def has_op(self, op: str) -> bool:
        return op in REGISTRY

    # -- building ----------------------------------------------------------------------
    def leaf(self, value: np.ndarray, dtype: str, requires_grad: bool) -> Any:
        t = self.torch.tensor(np.array(value, dtype=_NP[dtype]), dtype=getattr(self.torch, dtype))
        return t.requires_grad_(requires_grad)

    def _record(self, kind: str, op: str, inputs: Sequence[Any], params: dict[str, Any]) -> Node:
        mode = bool(self.torch.is_grad_enabled())
        if self._region is not None and (self._region.closed or self._region.grad_mode != mode):
            self._close()
        if self._region is None:
            self._region = Region(mode)
        n = Node(kind, op, inputs, params, self._region)
        self._region.nodes.append(weakref.ref(n))
        self._region.dirty = True
        return n

    def apply(self, op: str, inputs: Sequence[Any], params: dict[str, Any]) -> Any:
        # a param may be one of our tensors (comparison's mask for where / masked_fill): a constant of the
        # program, passed like the harness's own index and mask arrays (its repr is no source code)
        params = {k: self.to_numpy(v) if isinstance(v, Node) else v for k, v in params.items()}
        return self._record("op", op, inputs, params)

    def apply_inplace(self, op: str, target: Any, other: Any) -> Any:
        n = self._record("inplace", op, [target, other], {})
        assert self._region is not None
        self._region.keep.append(n)
        return target  # torch's x.add_(y) returns x: later ops read the mutated value through it

    def detach(self, t: Any) -> Any:
        return self._record("detach", "detach", [t], {})

    # -- compiling a region --------------------------------------------------------------
    def _t(self, x: Any) -> Any:
        """The torch tensor of ``x`` (compiling and running its region if needed)."""
        if not isinstance(x, Node):
            return x
        if x.error is not None:
            raise x.error
        if x.t is None or (not x.region.closed and x.region.dirty):
            self._flush(x.region)
            if x.error is not None:
                raise x.error
        return x.t

    def _close(self) -> None:
        r, self._region = self._region, None
        if r is not None and not r.closed:
            try:
                if r.dirty:
                    self._flush(r)
            finally:
                r.closed = True

    def _members(self, region: Region) -> list[Node]:
        """The region's live nodes and their ancestors in the region, in recording order."""
        seen: dict[int, Node] = {}
        stack = [n for n in (ref() for ref in region.nodes) if n is not None] + list(region.keep)
        while stack:
            n = stack.pop()
            if id(n) in seen:
                continue
            seen[id(n)] = n
            stack.extend(i for i in n.inputs if isinstance(i, Node) and i.region is region)
        return sorted(seen.values(), key=lambda n: n.seq)

    def _flush(self, region: Region) -> None:
        nodes = self._members(region)
        region.nodes = [weakref.ref(n) for n in nodes]
        if not nodes:  # every op of it died unread (a program built and dropped): nothing to compile or run
            region.dirty = False
            return
        try:
            args: list[Any] = []
            arg_names: dict[int, str] = {}

            def arg(v: Any) -> str:
                if isinstance(v, np.ndarray):
                    v = self.torch.from_numpy(np.array(v))
                if id(v) not in arg_names:
                    arg_names[id(v)] = f"a{len(args)}"
                    args.append(v)
                return arg_names[id(v)]

            names = {id(n): f"v{k}" for k, n in enumerate(nodes)}

            def ref(x: Any) -> str:
                if isinstance(x, Node) and x.region is region:
                    return names[id(x)]
                if isinstance(x, Node):
                    x = self._t(x)
                if isinstance(x, (float, int)):
                    return repr(x)
                return arg(x)

            lines = []
            for n in nodes:
                a = [ref(i) for i in n.inputs]
                if n.kind == "detach":
                    expr = f"{a[0]}.detach()"
                elif n.kind == "inplace":
                    expr = f"{a[0]}.{n.op}_({a[1]})"
                else:
                    sub = {f"x{i}": s for i, s in enumerate(a)}
                    sub.update({k: self._lit(v, arg) for k, v in n.params.items()})
                    expr = _VAR.sub(lambda m: sub[m.group(1)], REGISTRY[n.op].template_for(n.params))
                lines.append(f"    {names[id(n)]} = {expr}")
            src = (f"def program({', '.join(f'a{i}' for i in range(len(args)))}):\n" + "\n".join(lines)
                   + f"\n    return ({''.join(names[id(n)] + ', ' for n in nodes)})\n")
            key = (src, region.grad_mode, tuple(self._meta(a) for a in args))
            fn = self._compiled(key, src)
            before = self._runs[key]
            try:
                with self.torch.set_grad_enabled(region.grad_mode):
                    outs = fn(*args)
            except RuntimeError as e:
                if isinstance(e, self.dynamo.exc.TorchDynamoException):
                    raise
                # not an autograd misuse (torch's RuntimeError category): the compiled call itself failed,
                # e.g. "torch.compile with fullgraph=True found no compiled frames" when dynamo is disabled
                raise CompiledCallError(f"the compiled program raised {type(e).__name__}: {e}") from e
            if self._runs[key] != before + 1:
                raise NotCompiled(f"dynamo did not run the compiled graph of this program (graph runs "
                                  f"{self._runs[key] - before}, expected 1): it ran eagerly")
        except BaseException as e:
            for n in nodes:
                n.error = e
            region.closed = True
            if self._region is region:
                self._region = None
            raise
        for n, t in zip(nodes, outs):
            n.t = t
        region.dirty = False

    def _lit(self, v: Any, arg: Callable[[Any], str]) -> str:
        if isinstance(v, np.ndarray):
            return arg(v)
        if isinstance(v, tuple):
            inner = ", ".join(self._lit(x, arg) for x in v)
            return f"({inner},)" if len(v) == 1 else f"({inner})"
        if isinstance(v, list):
            return "[" + ", ".join(self._lit(x, arg) for x in v) + "]"
        return literal(v)

    def _meta(self, a: Any) -> Any:
        """What a program's cache key says about one input.  Static shapes: everything dynamo guards on.
        Dynamic shapes: the rank and which sizes are 0 or 1 (dynamo specializes those), not the sizes."""
        if isinstance(a, self.torch.Tensor):
            if self.dynamic:
                shape: Any = tuple(s if s < 2 else -1 for s in a.shape)
                return (str(a.dtype), shape, a.is_contiguous(), a.requires_grad, a.is_leaf, a._base is not None)
            return (str(a.dtype), tuple(a.shape), a.stride(), a.requires_grad, a.is_leaf, a._base is not None)
        return (type(a).__name__, a)

    def _compiled(self, key: Any, src: str) -> Callable[..., Any]:
        fn = self._cache.get(key)
        if fn is not None and self._frames[key] < RETIRE_AFTER:
            self._cache.move_to_end(key)
            return fn
        ns: dict[str, Any] = {"torch": self.torch, "M": self.torch}
        exec(compile(src, f"<torch-compile program {self.compiles}>", "exec"), ns)  # noqa: S102
        runs, frames = self._runs, self._frames
        frames[key] = 0
        inner = self._inner_backend

        def backend(gm: Any, example_inputs: Any) -> Callable[..., Any]:
            frames[key] += 1
            compiled = inner(gm, example_inputs)

            def run(*a: Any) -> Any:
                runs[key] += 1
                return compiled(*a)
            return run

        fn = self.torch.compile(ns["program"], backend=backend, fullgraph=self.fullgraph, dynamic=self.dynamic)
        self.compiles += 1
        self._cache[key] = fn
        if len(self._cache) > CACHE_SIZE:
            old, _ = self._cache.popitem(last=False)
            self._runs.pop(old, None)
            self._frames.pop(old, None)
        return fn

    # -- differentiation -----------------------------------------------------------------
    def backward(self, out: Any, gradient: Any = None, retain_graph: bool | None = None,
                 create_graph: bool = False) -> None:
        t, g = self._t(out), self._t(gradient)
        self._close()
        t.backward(gradient=g, retain_graph=retain_graph, create_graph=create_graph)

    def grad(self, outputs: Sequence[Any], inputs: Sequence[Any], grad_outputs: Sequence[Any],
             retain_graph: bool | None = None, create_graph: bool = False,
             allow_unused: bool = False) -> list[Any]:
        outs, ins = [self._t(o) for o in outputs], [self._t(i) for i in inputs]
        gos = [self._t(g) for g in grad_outputs]
        self._close()
        kw = {"allow_unused": True} if allow_unused else {}
        return list(self.torch.autograd.grad(outs, ins, grad_outputs=gos, retain_graph=retain_graph,
                                             create_graph=create_graph, **kw))

    # -- reading -------------------------------------------------------------------------
    def to_numpy(self, t: Any) -> np.ndarray:
        t = self._t(t).detach()
        if getattr(t, "_is_zerotensor", lambda: False)():
            return np.zeros(tuple(t.shape), dtype=str(t.dtype).replace("torch.", ""))
        return np.array(t.numpy(), copy=True)

    def grad_tensor(self, t: Any) -> Any:
        with warnings.catch_warnings():  # torch warns when reading .grad of a non-leaf
            warnings.simplefilter("ignore")
            return self._t(t).grad

    def grad_of(self, t: Any) -> np.ndarray | None:
        g = self.grad_tensor(t)
        return None if g is None else self.to_numpy(g)

    def shape_of(self, t: Any) -> tuple[int, ...]:
        """From meta tensors, so that the contract check's shape query of each op compiles nothing; an op
        meta cannot answer (no meta kernel, a boolean mask's data-dependent shape) is computed."""
        try:
            return tuple(meta_of(self.torch, t).shape)
        except Exception:  # noqa: BLE001 - any refusal of the meta run: the compiled values answer instead
            return tuple(self._t(t).shape)

    def dtype_of(self, t: Any) -> str:
        return str(self._t(t).dtype).replace("torch.", "")

    def is_leaf(self, t: Any) -> bool:
        return bool(self._t(t).is_leaf)

    def requires_grad(self, t: Any) -> bool:
        return bool(self._t(t).requires_grad)

    def grad_fn_name(self, t: Any) -> str | None:
        gf = self._t(t).grad_fn
        return None if gf is None else gf.name()

    def set_requires_grad(self, t: Any, flag: bool) -> None:
        self._t(t).requires_grad_(flag)

    def zero_grad(self, t: Any) -> None:
        self._t(t).grad = None

    def register_hook(self, t: Any, fn: Callable[[Any], Any]) -> Any:
        return self._t(t).register_hook(lambda g: self._t(fn(g)))

    def version_counter(self, t: Any) -> int | None:
        return int(self._t(t)._version)

    # -- grad mode -----------------------------------------------------------------------
    def no_grad(self) -> AbstractContextManager[Any]:
        return self.torch.no_grad()

    def enable_grad(self) -> AbstractContextManager[Any]:
        return self.torch.enable_grad()

    def set_grad_enabled(self, flag: bool) -> AbstractContextManager[Any]:
        return self.torch.set_grad_enabled(flag)

    def is_grad_enabled(self) -> bool:
        return bool(self.torch.is_grad_enabled())

    def no_grad_decorator(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        return self.torch.no_grad()(fn)

    def is_autograd_error(self, exc: BaseException) -> bool:
        from torch._dynamo.exc import TorchDynamoException
        return isinstance(exc, RuntimeError) and not isinstance(exc, TorchDynamoException)


class InductorAdapter(TorchCompileAdapter):
    """``--engine torch-compile:inductor``: the default backend (C++ kernels; needs a C++ compiler)."""

    name = "torch-compile:inductor"
    backend_name = "inductor"

    def _make_backend(self) -> Callable[..., Any]:
        from torch._inductor.compile_fx import compile_fx
        return compile_fx
