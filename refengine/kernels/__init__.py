"""Numeric kernels: each Cython kernel module (``_name.pyx``) has a numpy twin
(``name_numpy.py``) with the same functions, signatures and validation.

The ops call kernels only through this module's attributes (``kernels.sigmoid_forward``,
...), so switching backend rebinds them all at once: ``REFENGINE_KERNELS=numpy``
in the environment, or ``refengine.kernels.use("numpy")`` at run time.  Cython is
the default; if the extensions were not built, importing falls back to numpy
with a warning rather than failing.
"""
from __future__ import annotations

import importlib
import os
import warnings

import numpy as np

_BACKENDS = ("cython", "numpy")
#: kernel family -> the functions it provides (identical in both implementations)
FAMILIES = {
    "elementwise": ("exp_forward", "log_forward", "sigmoid_forward", "relu_forward", "clamp_forward",
                    "sigmoid_backward", "tanh_backward", "relu_backward", "clamp_backward", "exp_backward",
                    "log_backward", "softplus_forward", "softplus_backward", "silu_forward", "silu_backward",
                    "gelu_forward", "gelu_backward"),
    "reduce": ("sum_to_shape",),
    "softmax": ("softmax_forward", "log_softmax_forward", "softmax_backward", "log_softmax_backward",
                "logsumexp_forward", "logsumexp_backward"),
    "scatter": ("scatter_add",),
    "gather": ("gather_dim", "scatter_add_dim", "index_select", "index_add"),
    "conv": ("im2col", "col2im", "max_pool2d"),
    "scan": ("cumsum", "cumprod"),
    "norm": ("norm_forward", "norm_backward"),
    "pad": ("pad_forward", "pad_backward"),
}
_current = "numpy"


def implementation(family: str, backend: str):
    """The module implementing ``family`` for ``backend`` (used by the twin tests)."""
    name = f"_{family}" if backend == "cython" else f"{family}_numpy"
    return importlib.import_module(f"refengine.kernels.{name}")


def _bind(backend: str) -> None:
    global _current
    mods = {fam: implementation(fam, backend) for fam in FAMILIES}
    for fam, names in FAMILIES.items():
        for name in names:
            globals()[name] = _half(getattr(mods[fam], name))
    _current = backend


def _is_half(a) -> bool:
    return isinstance(a, np.ndarray) and a.dtype == np.float16


def _half(fn):
    """``fn`` taking float16 arrays too: the kernels and twins are float32/float64 only (validate.float_array
    raises TypeError first, before any work), so float16 operands are computed in float32 and the float32
    results rounded back to float16 once -- as torch computes half ops, and accumulating in float32."""
    def call(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except TypeError:
            if not any(_is_half(a) for a in (*args, *kwargs.values())):
                raise
        out = fn(*(a.astype(np.float32) if _is_half(a) else a for a in args),
                 **{k: v.astype(np.float32) if _is_half(v) else v for k, v in kwargs.items()})

        def down(r):
            return r.astype(np.float16) if isinstance(r, np.ndarray) and r.dtype == np.float32 else r
        return tuple(down(r) for r in out) if isinstance(out, tuple) else down(out)
    call.__name__, call.__qualname__, call.__doc__ = fn.__name__, fn.__qualname__, fn.__doc__
    call.__wrapped__ = fn
    return call


def use(backend: str) -> None:
    """Select the kernel implementation: ``"cython"`` (default) or ``"numpy"`` (the twins)."""
    if backend not in _BACKENDS:
        raise ValueError(f"unknown kernel backend {backend!r}; expected one of {_BACKENDS}")
    _bind(backend)


def current() -> str:
    """The backend in use."""
    return _current


def _initial() -> None:
    wanted = os.environ.get("REFENGINE_KERNELS", "cython")
    if wanted not in _BACKENDS:
        raise ValueError(f"REFENGINE_KERNELS={wanted!r}; expected one of {_BACKENDS}")
    try:
        _bind(wanted)
    except ImportError as e:  # extensions not compiled (e.g. a source checkout before build_ext)
        warnings.warn(f"refengine Cython kernels unavailable ({e}); using the numpy twins. "
                      "Run `make build` to compile them.", RuntimeWarning, stacklevel=2)
        _bind("numpy")


_initial()

# the BLAS thread pool the matmul/conv ops run on (see blas.py: 1 thread unless the user chose)
from refengine.kernels import blas  # noqa: E402

blas.configure()
