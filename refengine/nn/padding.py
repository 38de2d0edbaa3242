"""``F.pad``: constant (negative pads crop), reflect and replicate, with torch's checks.

Constant padding by ``pad`` and by ``-pad`` (value 0) are each other's adjoint, so the
backward is a constant pad of the gradient with the pads negated.  Reflect and
replicate copy input elements: a float input is padded by the pad kernels (a gather by
per-dim index maps) and a plain backward scatter-adds with them, so elements copied
several times accumulate their gradients.  A create_graph backward, and an integer input,
take the flat route: positions found by padding an index grid with numpy's ``reflect`` /
``edge`` modes (torch's reflection excludes the edge, as numpy's ``reflect``), gathered
and scatter-added (``ops.index``'s Take / ScatterAdd pair, each the other's adjoint).
"""
from __future__ import annotations

import numpy as np

from refengine import kernels as K
from refengine.function import ArrayFunction
from refengine.ops.common import is_var, shape_of
from refengine.ops.index import scatter_add as flat_scatter_add


def _pairs(pad, ndim):
    """torch's pad tuple (last dim first: left, right, then the dim before, ...) as per-dim pairs."""
    k = len(pad) // 2
    widths = [(0, 0)] * ndim
    for i in range(k):
        widths[ndim - 1 - i] = (int(pad[2 * i]), int(pad[2 * i + 1]))
    return widths


class ConstantPad(ArrayFunction):
    node_name = "ConstantPadNdBackward0"

    @staticmethod
    def forward(ctx, a, widths=(), value=0.0):
        ctx.widths = widths
        out_shape = tuple(s + lo + hi for s, (lo, hi) in zip(a.shape, widths))
        out = np.full(out_shape, value, a.dtype)
        src = tuple(slice(max(-lo, 0), s - max(-hi, 0)) for s, (lo, hi) in zip(a.shape, widths))
        dst = tuple(slice(max(lo, 0), o - max(hi, 0)) for o, (lo, hi) in zip(out_shape, widths))
        if all(d.stop > d.start for d in dst):
            out[dst] = a[src]
        return out

    @staticmethod
    def backward(ctx, g):
        back = tuple((-lo, -hi) for lo, hi in ctx.widths)
        if is_var(g):
            return ConstantPad.apply(g, widths=back, value=0.0)
        return ConstantPad.forward(_Ctx(), g, widths=back, value=0.0)


class _Ctx:
    """A throwaway ctx for calling a forward on arrays."""


def _grid(shape, widths, mode):
    """Flat input position of every output element (the route without the kernels)."""
    grid = np.arange(int(np.prod(shape)), dtype=np.int64).reshape(shape)
    return np.pad(grid, widths, mode="reflect" if mode == "reflect" else "edge")


class CopyPad(ArrayFunction):
    """reflect / replicate padding: ``widths`` are per-dim pairs, ``k`` the padded trailing dims."""

    @staticmethod
    def forward(ctx, a, widths=(), k=1, mode="reflect"):
        ctx.shape, ctx.widths, ctx.k, ctx.mode = a.shape, widths, k, mode
        if a.dtype.kind == "f":
            return K.pad_forward(a, widths[-k:], mode)
        return a.reshape(-1)[_grid(a.shape, widths, mode)]

    @staticmethod
    def backward(ctx, g):
        if not is_var(g):
            return K.pad_backward(g, ctx.shape, ctx.widths[-ctx.k:], ctx.mode)
        return flat_scatter_add(g, _grid(ctx.shape, ctx.widths, ctx.mode), ctx.shape)


_NODES = {("reflect", 1): "ReflectionPad1DBackward0", ("reflect", 2): "ReflectionPad2DBackward0",
          ("reflect", 3): "ReflectionPad3DBackward0", ("replicate", 1): "ReplicationPad1DBackward0",
          ("replicate", 2): "ReplicationPad2DBackward0", ("replicate", 3): "ReplicationPad3DBackward0"}
_CLASSES = {key: type(name[:-len("Backward0")], (CopyPad,), {"node_name": name}) for key, name in _NODES.items()}


def pad(input, pad, mode="constant", value=None):
    """Pad the last ``len(pad) // 2`` dims: ``pad = (left, right, top, bottom, ...)``, last dim first."""
    shape = shape_of(input)
    nd = len(shape)
    if len(pad) % 2:
        raise RuntimeError("Padding length must be divisible by 2")
    if len(pad) // 2 > nd:
        raise RuntimeError(f"Padding length should be less than or equal to two times the input dimension but "
                           f"got padding length {len(pad)} and input of dimension {nd}")
    widths = _pairs(pad, nd)
    if mode == "constant":
        for i, (s, (lo, hi)) in enumerate(zip(shape, widths)):
            if s + min(lo, 0) + min(hi, 0) < 0:  # torch crops first (narrow), then pads
                raise RuntimeError("narrow(): length must be non-negative.")
            if s + lo + hi < 0:
                raise RuntimeError(f"The input size {s}, plus negative padding {lo} and {hi} resulted in a negative "
                                   f"output size, which is invalid. Check dimension {i} of your input.")
        return ConstantPad.apply(input, widths=tuple(widths), value=0.0 if value is None else float(value))
    if mode not in ("reflect", "replicate"):
        raise NotImplementedError(f"pad: mode {mode!r} is not implemented in refengine "
                                  "(constant, reflect, replicate)")
    if value not in (None, 0):
        raise RuntimeError(f"Padding mode \"{mode}\" doesn't take in value argument.")
    k = len(pad) // 2
    if k not in (1, 2, 3) or nd not in (k + 1, k + 2):
        raise NotImplementedError(
            f"Padding size {len(pad)} is not supported for {nd}D input tensor.\nSupported combinations for "
            "non-constant padding:\n  - 2D or 3D input: padding size = 2 (pads last dimension)\n  - 3D or 4D "
            "input: padding size = 4 (pads last 2 dimensions)\n  - 4D or 5D input: padding size = 6 (pads last "
            "3 dimensions)")
    for i, (s, (lo, hi)) in enumerate(zip(shape, widths)):
        if (lo or hi) and mode == "reflect" and (lo >= s or hi >= s):
            raise RuntimeError(f"Argument #4: Padding size should be less than the corresponding input dimension, "
                               f"but got: padding ({lo}, {hi}) at dimension {i} of input {list(shape)}")
        if (lo or hi) and s == 0:
            raise RuntimeError(f"{mode} padding: input dimension {i} must be non-empty")
        if lo < 0 or hi < 0:
            # torch accepts negative reflect/replicate pads (a crop); keep to the documented use
            raise NotImplementedError(f"pad: negative padding in mode {mode!r} is not implemented in refengine")
    return _CLASSES[(mode, k)].apply(input, widths=tuple(widths), k=k, mode=mode)
