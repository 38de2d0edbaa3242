"""``--engine tensorflow``: TensorFlow 2.x (CPU, eager) differentiated with ``tf.GradientTape``.

``pip install 'autograd-conformance[tensorflow]'`` (tensorflow-cpu, ~1.6 GB installed).

TensorFlow has no Variable-state autograd: gradients come from a tape that records the ops run
while it is active.  The mapping:

* **tapes**: ops run while two tapes are active, one ``persistent=True`` and one not (both
  ``watch_accessed_variables=False``).  A leaf requiring grad is a ``tf.constant`` that both tapes
  ``watch``; a frozen leaf is one they do not watch.  A tape pair lives until a backward without
  ``retain_graph`` has used it; the next op opens a new pair, which watches every live leaf
  requiring grad (so ``.grad`` accumulates across graphs, as in torch).
* ``backward(out, gradient)`` is ``tape.gradient(out, leaves, output_gradients=gradient)`` of the
  pair that recorded ``out``: the **non-persistent** tape by default (TensorFlow's own
  ``RuntimeError`` on a second use is the freed-graph error), the **persistent** tape with
  ``retain_graph=True``.  The result is added to the adapter's ``.grad`` of each leaf.
* **non-scalar targets**: ``tape.gradient`` of a non-scalar target without ``output_gradients``
  differentiates the sum of the target (documented); it is passed to TensorFlow as is.
* ``grad(..., create_graph=True)`` calls the persistent tape's ``gradient`` *inside* its context,
  so the gradient computation is itself recorded (TensorFlow's documented way to take higher
  derivatives with one persistent tape); without ``create_graph`` it runs under
  ``tape.stop_recording()``.
* ``retain_grad(t)`` makes ``t`` a source of the next backward: TensorFlow differentiates with
  respect to any recorded tensor, intermediates included.
* ``detach`` is ``tf.stop_gradient``.

Ops are ``tf.experimental.numpy`` (numpy semantics, TensorFlow kernels and gradients: the shared
``numpy_ops`` table) and ``tf.nn``/``tf.math`` for softmax, log_softmax, relu, sigmoid, logsumexp, softplus,
log_sigmoid, the cross-entropies, conv2d and pooling (NCHW <-> NHWC is a layout translation: TensorFlow's CPU conv
and pooling kernels are NHWC only).  ``var`` and ``std`` with ``correction=1`` are not TensorFlow functions
(``reduce_variance``, ``reduce_std`` and ``tnp.std`` have no ddof): such samples are rejected, and so are
replicate pads wider than 1 (no edge mode; width 1 is ``tf.pad``'s SYMMETRIC).  ``flip``
is ``tf.reverse`` (``tnp.flip`` takes a single int axis).  An op that returns its input tensor itself
(``tnp.moveaxis(x, d, d)``, the shared table's no-op squeeze and 0-d scans) is wrapped in
``tf.identity``: torch gives each of these a new node.  No ``view`` (TensorFlow tensors
have no views).

What is the adapter's, not TensorFlow's (TensorFlow has no such notion): ``.grad`` storage and
accumulation, ``is_leaf``, ``requires_grad`` of op results (an input requires grad) and
``grad_fn`` (the op's name).  The harness has no capability to gate the rules that check only
these (``leaf_rule``, ``accumulation``, ``freezing``, ``detach``; docs/findings.md H2): their
gradients are TensorFlow's, their flags are this file's bookkeeping.

Not declared, with the reason: ``no_grad`` (TensorFlow has no global grad mode: ``stop_recording``
pauses one tape and has no ``enable_grad`` counterpart), ``hooks`` (no tensor hooks), ``inplace``
(tensors are immutable; no version counter).

Process-wide state: ``tf.experimental.numpy.experimental_enable_numpy_behavior()`` (numpy
indexing and type promotion on every tf.Tensor); TF_CPP_MIN_LOG_LEVEL=2 unless set.
"""
from __future__ import annotations

import os
import weakref
from typing import Any, Sequence

import numpy as np

from conformance.engines.adapter import (FLOAT32, FLOAT64, FUNCTIONAL_GRAD, HIGHER_ORDER, ND, RETAIN_GRAD,
                                         RETAIN_GRAPH, Adapter, ConfigError)
from conformance.engines.numpy_ops import axis_of, numpy_ops
from conformance.engines.numpy_ops_more import torch_pad_widths
from conformance.spec.ops import decompositions

HINT = "pip install 'autograd-conformance[tensorflow]'"


class Misuse(RuntimeError):
    """Raised by the adapter for a misuse TensorFlow cannot see (backward of a constant, an unused input)."""


class TFT:
    """A TensorFlow value and the adapter's bookkeeping for it."""

    __slots__ = ("value", "requires_grad", "leaf", "op", "grad", "pair", "__weakref__")

    def __init__(self, value: Any, requires_grad: bool, leaf: bool, op: str | None, pair: "Pair | None") -> None:
        self.value, self.requires_grad, self.leaf, self.op, self.pair = value, requires_grad, leaf, op, pair
        self.grad: Any = None


class Pair:
    """A persistent and a non-persistent tape, active together."""

    def __init__(self, tf: Any, watch: list[Any]) -> None:
        self.persistent = tf.GradientTape(persistent=True, watch_accessed_variables=False)
        self.once = tf.GradientTape(watch_accessed_variables=False)
        self.persistent.__enter__()
        self.once.__enter__()
        self.used = False  # the non-persistent tape has computed its one set of gradients
        self.retained: list[TFT] = []
        for v in watch:
            self.watch(v)

    def watch(self, v: Any) -> None:
        self.persistent.watch(v)
        self.once.watch(v)

    def close(self) -> None:
        for tape in (self.once, self.persistent):
            try:
                tape.__exit__(None, None, None)
            except Exception:  # noqa: BLE001 - a used non-persistent tape may already be released
                pass


class TensorFlowAdapter(Adapter):
    name = "tensorflow"
    capabilities = frozenset({FLOAT64, FLOAT32, ND, FUNCTIONAL_GRAD, HIGHER_ORDER, RETAIN_GRAD, RETAIN_GRAPH})

    def __init__(self) -> None:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        try:
            import tensorflow as tf
        except ImportError as e:
            raise ConfigError(f"--engine tensorflow needs the 'tensorflow-cpu' package ({HINT}): {e}") from None
        tf.get_logger().setLevel("ERROR")
        self.tf = tf
        self.tnp = tnp = tf.experimental.numpy
        tnp.experimental_enable_numpy_behavior()
        self._leaves: weakref.WeakSet[TFT] = weakref.WeakSet()
        self._pair: Pair | None = None
        self.ops = numpy_ops(tnp, lambda x, axis: tf.nn.log_softmax(x, axis=-1 if axis is None else axis))
        del self.ops["var"]
        nn = tf.nn

        def nhwc(x: Any) -> Any:
            return tf.transpose(x, [0, 2, 3, 1])

        def nchw(x: Any) -> Any:
            return tf.transpose(x, [0, 3, 1, 2])

        def conv(i: list[Any], p: dict[str, Any]) -> Any:
            pad = p["padding"]
            y = nn.conv2d(nhwc(i[0]), tf.transpose(i[1], [2, 3, 1, 0]), strides=p["stride"],
                          padding=[[0, 0], [pad, pad], [pad, pad], [0, 0]])
            return nchw(nn.bias_add(y, i[2]))

        def reduce(v: Any, r: str) -> Any:
            return tf.reduce_mean(v) if r == "mean" else tf.reduce_sum(v) if r == "sum" else v

        self.ops.update({
            "relu": lambda i, p: nn.relu(i[0]), "sigmoid": lambda i, p: tf.math.sigmoid(i[0]),
            "softmax": lambda i, p: nn.softmax(i[0], axis=p["dim"]),
            "log_softmax": lambda i, p: nn.log_softmax(i[0], axis=p["dim"]),
            "logsumexp": lambda i, p: tf.reduce_logsumexp(i[0], axis=axis_of(i[0], p["dim"]), keepdims=p["keepdim"]),
            "var": lambda i, p: self._var(i[0], p),
            "std": lambda i, p: self._var(i[0], p, std=True),  # tnp.std has no ddof ("Unsupported arguments: ... ddof")
            "flip": lambda i, p: tf.reverse(i[0], axis=list(p["dims"])),  # tnp.flip takes one int axis only
            # TensorFlow's own functions, not the shared table's compositions of tnp.logaddexp (F8 at x = 0)
            "softplus": lambda i, p: tf.math.softplus(i[0] * p["beta"]) / p["beta"],
            "logsigmoid": lambda i, p: tf.math.log_sigmoid(i[0]),
            "binary_cross_entropy_with_logits": lambda i, p: reduce(nn.sigmoid_cross_entropy_with_logits(
                labels=i[1], logits=i[0]), p["reduction"]),
            "cross_entropy": lambda i, p: reduce(nn.sparse_softmax_cross_entropy_with_logits(
                labels=p["target"], logits=i[0]), p["reduction"]),
            "conv2d": conv,
            "max_pool2d": lambda i, p: nchw(nn.max_pool2d(nhwc(i[0]), p["kernel_size"], p["stride"], "VALID")),
            "avg_pool2d": lambda i, p: nchw(nn.avg_pool2d(nhwc(i[0]), p["kernel_size"], p["stride"], "VALID")),
        })
        # solve, qr, eigh, svd: tf.linalg's (tf.linalg.svd returns (s, u, v), v not transposed)
        def svd(a: Any) -> tuple[Any, Any, Any]:
            s, u, v = tf.linalg.svd(a)
            return u, s, tf.linalg.matrix_transpose(v)

        self.ops.update(decompositions.numpy_style_ops(tnp, tf.linalg.solve, tf.linalg.qr, tf.linalg.eigh, svd))
        shared_pad = self.ops["pad"]
        self.ops["pad"] = lambda i, p: self._replicate_pad(i[0], p) if p["mode"] == "replicate" else shared_pad(i, p)

    def _replicate_pad(self, x: Any, p: dict[str, Any]) -> Any:
        """torch's replicate pad: TensorFlow has no edge mode (``tnp.pad``: "Unsupported padding mode: edge";
        ``tf.pad`` has CONSTANT, REFLECT, SYMMETRIC).  Widths of at most 1 are SYMMETRIC's; wider samples are
        rejected."""
        widths = torch_pad_widths(x, p["pad"])
        if max((w for pair in widths for w in pair), default=0) > 1:
            from hypothesis import reject
            reject()
        return self.tf.pad(x, widths, mode="SYMMETRIC")

    def _var(self, x: Any, p: dict[str, Any], std: bool = False) -> Any:
        if p["correction"]:
            from hypothesis import reject
            reject()  # reduce_variance/reduce_std have no ddof: the unbiased ones are no TensorFlow function
        reduce = self.tf.math.reduce_std if std else self.tf.math.reduce_variance
        return reduce(x, axis=axis_of(x, p["dim"]), keepdims=p["keepdim"])

    def version(self) -> str | None:
        return str(self.tf.__version__)

    def has_op(self, op: str) -> bool:
        return op in self.ops

    # -- tapes -------------------------------------------------------------------------
    def _active(self) -> Pair:
        if self._pair is None or self._pair.used:
            if self._pair is not None:
                self._pair.close()
            self._pair = Pair(self.tf, [t.value for t in self._leaves if t.requires_grad])
        return self._pair

    # -- building ----------------------------------------------------------------------
    def leaf(self, value: np.ndarray, dtype: str, requires_grad: bool) -> TFT:
        v = self.tf.constant(np.array(value, dtype=dtype))
        t = TFT(v, requires_grad, True, None, None)
        self._leaves.add(t)
        if requires_grad and self._pair is not None and not self._pair.used:
            self._pair.watch(v)
        return t

    def apply(self, op: str, inputs: Sequence[TFT], params: dict[str, Any]) -> TFT:
        pair = self._active()
        # a param may be the engine's own tensor (comparison's mask for where / masked_fill): its tf value
        params = {k: v.value if isinstance(v, TFT) else v for k, v in params.items()}
        value = self.ops[op]([t.value for t in inputs], params)
        if any(value is t.value for t in inputs):
            # a no-op (squeeze of a non-1 dim, moveaxis(x, d, d), a scan or sort of a 0-d tensor) returned its
            # input tensor itself; torch returns a new node for each of these ops, and so does tf.identity (a
            # recorded op: the gradient with respect to it is the gradient through it alone, not the input's whole)
            value = self.tf.identity(value)
        # a bool or integer result (eq, lt, gt) is not differentiable: it never requires grad, as in torch
        rg = any(t.requires_grad for t in inputs) and (value.dtype.is_floating or value.dtype.is_complex)
        return TFT(value, rg, not rg, op if rg else None, pair)

    def detach(self, t: TFT) -> TFT:
        self._active()
        return TFT(self.tf.stop_gradient(t.value), False, True, None, None)

    # -- differentiation -----------------------------------------------------------------
    def _sources(self, pair: Pair) -> list[TFT]:
        return [t for t in self._leaves if t.requires_grad] + [t for t in pair.retained]

    def backward(self, out: TFT, gradient: TFT | None = None, retain_graph: bool | None = None,
                 create_graph: bool = False) -> None:
        if not out.requires_grad or out.pair is None:
            raise Misuse("backward of a value that depends on no leaf requiring grad")
        pair = out.pair
        sources = self._sources(pair)
        cot = None if gradient is None else gradient.value
        if retain_graph or create_graph:
            tape = pair.persistent
            if create_graph:
                gs = tape.gradient(out.value, [s.value for s in sources], output_gradients=cot)
            else:
                with tape.stop_recording():
                    gs = tape.gradient(out.value, [s.value for s in sources], output_gradients=cot)
        else:
            pair.used = True
            gs = pair.once.gradient(out.value, [s.value for s in sources], output_gradients=cot)
        for s, g in zip(sources, gs):
            if g is not None:
                g = self.tf.convert_to_tensor(g)
                s.grad = TFT(g if s.grad is None else s.grad.value + g, False, True, None, None)

    def grad(self, outputs: Sequence[TFT], inputs: Sequence[TFT], grad_outputs: Sequence[TFT | None],
             retain_graph: bool | None = None, create_graph: bool = False,
             allow_unused: bool = False) -> list[TFT | None]:
        pair = next((o.pair for o in outputs if o.pair is not None), None)
        if pair is None:
            raise Misuse("grad of values that depend on no leaf requiring grad")
        target = [o.value for o in outputs]
        cots = None if all(g is None for g in grad_outputs) else [
            self.tf.ones_like(o) if g is None else g.value for o, g in zip(target, grad_outputs)]
        tape = pair.persistent
        if create_graph:
            gs = tape.gradient(target, [t.value for t in inputs], output_gradients=cots)
        else:
            with tape.stop_recording():
                gs = tape.gradient(target, [t.value for t in inputs], output_gradients=cots)
        if not allow_unused and any(g is None for g in gs):
            raise Misuse("one of the differentiated tensors was not used in the graph")
        return [None if g is None else TFT(self.tf.convert_to_tensor(g), create_graph, not create_graph,
                                           "GradientTape.gradient" if create_graph else None, pair)
                for g in gs]

    # -- reading -------------------------------------------------------------------------
    def to_numpy(self, t: TFT) -> np.ndarray:
        return np.array(t.value.numpy(), copy=True)

    def grad_tensor(self, t: TFT) -> Any:
        return t.grad

    def grad_of(self, t: TFT) -> np.ndarray | None:
        return None if t.grad is None else self.to_numpy(t.grad)

    def dtype_of(self, t: TFT) -> str:
        return t.value.dtype.name

    def is_leaf(self, t: TFT) -> bool:
        return t.leaf

    def requires_grad(self, t: TFT) -> bool:
        return t.requires_grad

    def grad_fn_name(self, t: TFT) -> str | None:
        return None if t.leaf else t.op

    def set_requires_grad(self, t: TFT, flag: bool) -> None:
        t.requires_grad = flag
        if flag and self._pair is not None and not self._pair.used:
            self._pair.watch(t.value)

    def zero_grad(self, t: TFT) -> None:
        t.grad = None

    def retain_grad(self, t: TFT) -> None:
        if t.pair is not None and not t.leaf:
            t.pair.retained.append(t)

    def is_autograd_error(self, exc: BaseException) -> bool:
        # TensorFlow's own: RuntimeError for a second gradient() of a non-persistent tape; Misuse: the adapter's
        return isinstance(exc, RuntimeError)
