"""numpy twin of the reduction kernel (``_reduce.pyx``)."""
from __future__ import annotations

import numpy as np

from refengine.kernels import validate


def sum_to_shape(g: np.ndarray, shape: tuple) -> np.ndarray:
    """Sum ``g`` over the axes numpy broadcasting added or stretched to reach ``g.shape``."""
    g = validate.float_array(g, "grad")
    shape = validate.target_shape(g, shape)
    if g.shape == shape:
        return g
    lead = g.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(lead + i for i, s in enumerate(shape) if s == 1 and g.shape[lead + i] != 1)
    return np.sum(g, axis=axes, keepdims=True).reshape(shape) if axes else g.reshape(shape)
