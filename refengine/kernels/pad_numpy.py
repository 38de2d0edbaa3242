"""numpy twins of the padding kernels (``_pad.pyx``): a gather by the per-dim index maps, and
its adjoint with ``np.add.at`` (repeated positions accumulate)."""
from __future__ import annotations

import numpy as np

from refengine.kernels import validate


def _index(in4, maps):
    """Open-mesh indices of ``maps`` over a ``(P, D1, D2, D3)`` array."""
    return np.ix_(np.arange(in4[0]), *maps)


def pad_forward(x, widths, mode):
    x = validate.float_array(x, "input")
    in4, out4, maps, out_shape = validate.pad_maps(x.shape, widths, mode)
    return np.ascontiguousarray(x.reshape(in4)[_index(in4, maps)]).reshape(out_shape)


def pad_backward(g, shape, widths, mode):
    g = validate.float_array(g, "grad")
    in4, out4, maps, out_shape = validate.pad_maps(shape, widths, mode)
    if g.shape != out_shape:
        raise ValueError(f"grad has shape {g.shape} but padding {tuple(shape)} by {tuple(widths)} gives "
                         f"{out_shape}; expected equal shapes")
    out = validate.alloc(in4, g.dtype, "pad backward", zero=True)
    np.add.at(out, _index(in4, maps), g.reshape(out4))
    return out.reshape(tuple(shape))
