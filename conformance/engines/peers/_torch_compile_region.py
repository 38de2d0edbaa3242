"""The torch-compile adapter's recording: ops recorded in a region, and their shapes without running them.

A :class:`Node` is one recorded op; a :class:`Region` the ops recorded since the last
backward/grad under one grad mode, compiled as one function (peers/torch_compile.py).

:func:`meta_of` answers ``shape_of`` without compiling: the op is run on *meta* tensors
(torch's tensors with a shape, strides and a dtype but no data), from the meta results of
the node's inputs.  A meta kernel is torch's own shape and dtype rule for the op -- the one
the compiled program is traced with -- so the answer is exact where it exists; an op without
one, or whose shape depends on values (a boolean mask: ``nonzero`` has no meta kernel),
raises, and the adapter computes the tensor instead.
"""
from __future__ import annotations

import itertools
import weakref
from typing import Any, Sequence

import numpy as np

from conformance.spec.ops import REGISTRY


class Node:
    """An op recorded in a region; ``t`` is its tensor once the region has been compiled and run,
    ``meta`` its result on meta tensors once ``meta_of`` was asked."""

    __slots__ = ("kind", "op", "inputs", "params", "seq", "region", "t", "error", "meta", "__weakref__")
    _counter = itertools.count()

    def __init__(self, kind: str, op: str, inputs: Sequence[Any], params: dict[str, Any], region: "Region") -> None:
        self.kind, self.op, self.inputs, self.params = kind, op, tuple(inputs), params
        self.seq, self.region, self.t, self.error, self.meta = next(Node._counter), region, None, None, None


class Region:
    """Ops recorded since the last backward/grad under one grad mode: compiled as one function."""

    def __init__(self, grad_mode: bool) -> None:
        self.grad_mode = grad_mode
        self.nodes: list[weakref.ref[Node]] = []
        self.keep: list[Node] = []  # in-place ops: side effects, kept even when nobody holds them
        self.dirty = False
        self.closed = False


def meta_of(torch: Any, x: Any) -> Any:
    """``x`` as a meta tensor: a recorded op's result computed on meta tensors (cached on the node), a
    tensor's shape, strides and dtype; a Python number as it is.  Raises where torch has no meta kernel."""
    if isinstance(x, Node):
        if x.meta is None:
            if x.t is not None:  # computed already (a region read, or an op meta could not answer)
                x.meta = meta_of(torch, x.t)
            elif x.kind == "op":
                ins = [meta_of(torch, i) for i in x.inputs]
                # the device context makes the params' index and mask tensors (to_namespace) meta too
                with torch.device("meta"), torch.no_grad():
                    x.meta = REGISTRY[x.op].call(torch, ins, x.params)
            elif x.kind == "detach":
                x.meta = meta_of(torch, x.inputs[0])
            else:  # in-place ops return their target: nobody asks for the op node itself
                raise NotImplementedError(f"no meta result for a {x.kind} node")
        return x.meta
    if isinstance(x, np.ndarray):
        x = torch.from_numpy(np.array(x))
    if isinstance(x, torch.Tensor):
        return torch.empty_strided(tuple(x.shape), tuple(x.stride()), dtype=x.dtype, device="meta")
    return x
