"""``--engine jax``: JAX (CPU), a functional engine, through the recorded-program base.

Gradients are ``jax.vjp`` / ``jax.grad`` of the whole recorded function; ``create_graph``
gives records whose function is itself a ``jax.vjp`` (so second order is jax's own).
Global state: building the adapter sets ``jax_enable_x64`` (otherwise jax silently
computes in float32); leaves are then made with explicit dtypes.
Variable-state capabilities (hooks, retain_grad, in-place, grad mode, retain_graph) do
not exist in jax and are not declared.
Compiled executables go to jax's persistent compilation cache, in the user's cache directory
(``$XDG_CACHE_HOME/autograd-conformance/jax``, or wherever ``JAX_COMPILATION_CACHE_DIR`` says), so
worker processes and later runs do not compile the same op and shapes again: XLA compiling each
op per shape is most of a jax run (a cold ci cell of grad_vs_numerical: ~3.7 compiles of ~50 ms
per example; the same cells with the cache warm took 12 s of CPU instead of 23 s).
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from conformance.engines.adapter import COMPILES, FORWARD_AD
from conformance.engines.numpy_style import Op, axis_of
from conformance.engines.peers import require
from conformance.engines.peers._functional import CAPABILITIES, FunctionalAdapter, Misuse, Rec, replay
from conformance.spec.ops import decompositions


def _persistent_compilation_cache(jax: Any) -> None:
    """Every compiled executable cached on disk (jax's defaults skip those compiled in under 1 s,
    which is all of them here); a directory the user chose is left alone."""
    if not os.environ.get("JAX_COMPILATION_CACHE_DIR"):
        cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
        jax.config.update("jax_compilation_cache_dir", str(cache / "autograd-conformance" / "jax"))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)


class JaxAdapter(FunctionalAdapter):
    name = "jax"
    # XLA compiles every op for every new input shape: runs draw shapes from a small pool (--shapes)
    capabilities = CAPABILITIES | {COMPILES, FORWARD_AD}

    def __init__(self) -> None:
        self.jax = require("jax", "jax")
        self.jax.config.update("jax_enable_x64", True)  # process-wide
        _persistent_compilation_cache(self.jax)
        import jax.numpy as jnp

        self.xp = jnp

    def log_softmax(self, x: Any, axis: Any) -> Any:
        return self.jax.nn.log_softmax(x, axis=axis)

    def engine_ops(self) -> dict[str, Op]:
        from jax.scipy.special import logsumexp

        from conformance.engines.peers.jax_ops import ops

        nn, jnp = self.jax.nn, self.xp
        return {
            **ops(self.jax),  # jax.nn, jax.scipy.special, jax.lax, jax.image beyond jax.numpy
            "relu": lambda i, p: nn.relu(i[0]), "sigmoid": lambda i, p: nn.sigmoid(i[0]),
            "softmax": lambda i, p: nn.softmax(i[0], axis=axis_of(i[0], p["dim"])),
            "logsumexp": lambda i, p: logsumexp(i[0], axis=axis_of(i[0], p["dim"]), keepdims=p["keepdim"]),
            "where": lambda i, p: jnp.where(np.asarray(p["cond"]), i[0], i[1]),
            # solve, qr, eigh, svd: the registry's matrices and gauge-invariant outputs, jax.numpy.linalg's own
            # decompositions (eigh symmetrizes its input, which the registry's matrices are up to rounding)
            **decompositions.numpy_style_ops(jnp, jnp.linalg.solve, jnp.linalg.qr, jnp.linalg.eigh,
                                             lambda a: jnp.linalg.svd(a, full_matrices=False)),
        }

    def version(self) -> str | None:
        return self.jax.__version__

    def array(self, value: np.ndarray, dtype: str) -> Any:
        return self.xp.asarray(value, dtype=dtype)

    def vjp(self, f: Callable[..., Any], args: list[Any], cot: Any) -> list[Any]:
        _, pullback = self.jax.vjp(f, *args)
        return list(pullback(self.xp.asarray(cot)))

    def scalar_grad(self, f: Callable[..., Any], args: list[Any]) -> list[Any]:
        return list(self.jax.grad(f, argnums=tuple(range(len(args))))(*args))

    def stop_gradient(self, x: Any) -> Any:
        return self.jax.lax.stop_gradient(x)

    def jvp(self, fn: Callable[[list[Rec]], list[Rec]], primals: Sequence[Rec],
            tangents: Sequence[np.ndarray | None]) -> list[np.ndarray | None]:
        """``jax.jvp`` of what ``fn`` records: ``fn`` runs once on the records, then jax
        differentiates the replayed computation as a function of the primals that carry a tangent
        (the rest stay constants).  Forward-over-reverse (``grad`` inside ``fn``) is jax's own:
        its records replay through ``jax.vjp``."""
        outs = fn(list(primals))
        moving = [(p, t) for p, t in zip(primals, tangents) if t is not None]
        if not moving:
            return [None for _ in outs]

        def f(*xs: Any) -> list[Any]:
            return replay(outs, {id(p): x for (p, _), x in zip(moving, xs)})
        _, touts = self.jax.jvp(f, tuple(p.value for p, _ in moving),
                                tuple(self.xp.asarray(t, dtype=p.value.dtype) for p, t in moving))
        return [np.array(t, copy=True) for t in touts]

    def is_autograd_error(self, exc: BaseException) -> bool:
        # jax.grad of a non-scalar raises TypeError; Misuse is the adapter's backward-of-a-constant
        return isinstance(exc, (TypeError, Misuse))
