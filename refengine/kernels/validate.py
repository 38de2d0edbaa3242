"""Argument checks shared by every kernel and its numpy twin.

Kernels run with bounds checking off, so everything they index is validated
here first: a bad call raises a TypeError/ValueError naming what was wrong and
what was expected, never a crash inside a loop.  The twins call the same checks
so both implementations reject the same inputs with the same message.
"""
from __future__ import annotations

import numpy as np

FLOATS = (np.dtype(np.float32), np.dtype(np.float64))
MAX_NDIM = 32


def float_array(x, name: str) -> np.ndarray:
    """``x`` as a float32/float64 ndarray (any strides; a numpy scalar becomes 0-d), or TypeError.

    A non-native byte order (``astype('>f8')``) or an unaligned buffer (a byte offset, or
    strides that are not a multiple of the itemsize) is copied to a native, aligned array
    first: the kernels read elements through typed pointers, and the vectorised loops
    may assume natural alignment, so they must never see such a buffer.
    """
    if isinstance(x, np.generic):
        x = np.asarray(x)
    if not isinstance(x, np.ndarray):
        raise TypeError(f"{name} must be a numpy.ndarray, got {type(x).__name__}")
    dt = x.dtype
    if dt.kind != "f" or dt.newbyteorder("=") not in FLOATS or dt.fields is not None:
        raise TypeError(f"{name} must be float32 or float64, got {dt}")
    if x.ndim > MAX_NDIM:
        raise ValueError(f"{name} has {x.ndim} dims; kernels support at most {MAX_NDIM}")
    if not dt.isnative or not x.flags.aligned:
        x = np.array(x, dtype=dt.newbyteorder("="), order="C", copy=True)
    return x


def same_layout(a: np.ndarray, b: np.ndarray, names=("grad", "saved")) -> tuple:
    """Two operands of an elementwise backward kernel: equal shapes and dtypes (returned as arrays)."""
    a = float_array(a, names[0])
    b = float_array(b, names[1])
    if a.shape != b.shape:
        raise ValueError(f"{names[0]} has shape {a.shape} but {names[1]} has shape {b.shape}; "
                         "expected equal shapes")
    if a.dtype != b.dtype:
        raise TypeError(f"{names[0]} is {a.dtype} but {names[1]} is {b.dtype}; expected one dtype")
    return a, b


def norm_input(x, name: str) -> np.ndarray:
    """A 3-D float array ``(A, C, B)``: the normalisation kernels' view of their input."""
    x = float_array(x, name)
    if x.ndim != 3:
        raise ValueError(f"{name} must be 3-D (A, C, B), got shape {x.shape}")
    return x


def norm_operands(g, x, mean, rstd) -> tuple:
    """The normalisation backward's operands: ``g`` and ``x`` of one 3-D shape and dtype, the
    statistics float64 vectors of length C (returned as arrays)."""
    g, x = same_layout(g, x, ("grad", "input"))
    x = norm_input(x, "input")
    stats = []
    for name, s in (("mean", mean), ("rstd", rstd)):
        s = np.asarray(s)
        if s.dtype != np.float64 or s.shape != (x.shape[1],):
            raise ValueError(f"{name} must be float64 of shape ({x.shape[1]},), got {s.dtype} {s.shape}")
        stats.append(np.ascontiguousarray(s))
    return (g, x, *stats)


def pad_maps(shape, widths, mode) -> tuple:
    """Checked reflect/replicate padding of the last ``len(widths)`` (1-3) dims of ``shape``:
    ``(in4, out4, maps, out_shape)``, the input and output viewed as ``(P, D1, D2, D3)`` and the
    three int64 maps (output position -> input position, every value in range)."""
    if mode not in ("reflect", "replicate"):
        raise ValueError(f"mode must be 'reflect' or 'replicate', got {mode!r}")
    try:
        shape = tuple(int(s) for s in shape)
        widths = tuple((int(lo), int(hi)) for lo, hi in widths)
    except (TypeError, ValueError):
        raise TypeError(f"shape must be ints and widths (lo, hi) pairs of ints, got {shape!r}, {widths!r}") from None
    k = len(widths)
    if not 1 <= k <= min(3, len(shape)) or len(shape) > MAX_NDIM or min(shape) < 0:
        raise ValueError(f"cannot pad the last {k} dims of shape {shape}: expected 1 to 3 padded dims of a "
                         f"non-negative shape with at most {MAX_NDIM} dims")
    maps = [np.zeros(1, np.int64)] * (3 - k)
    for n, (lo, hi) in zip(shape[-k:], widths):
        if lo < 0 or hi < 0 or n + lo + hi >= 2**31:
            raise ValueError(f"{mode} pad ({lo}, {hi}) of a dim of size {n}: expected non-negative pads "
                             "and a padded size below 2**31")
        if (lo or hi) and (n == 0 or mode == "reflect" and max(lo, hi) >= n):
            raise ValueError(f"{mode} pad ({lo}, {hi}) of a dim of size {n}: expected a non-empty dim"
                             + (" larger than each pad" if mode == "reflect" else ""))
        o = np.arange(-lo, n + hi, dtype=np.int64)
        if mode == "reflect":   # the edge is not repeated (torch's and numpy's "reflect")
            o = np.abs(o)
            o = np.where(o >= n, 2 * (n - 1) - o, o)
        else:
            o = np.clip(o, 0, max(n - 1, 0))
        maps.append(o)
    lead = shape[:-k]
    P = int(np.prod(lead, dtype=np.int64))
    in4 = (P,) + (1,) * (3 - k) + shape[-k:]
    out4 = (P,) + tuple(len(m) for m in maps)
    return in4, out4, tuple(maps), lead + out4[4 - k:]


def bounds(lo, hi) -> tuple[float, float]:
    """clamp bounds as floats (None = unbounded)."""
    lo = -np.inf if lo is None else float(lo)
    hi = np.inf if hi is None else float(hi)
    return lo, hi


def target_shape(g: np.ndarray, shape) -> tuple:  # g already checked by float_array
    """``shape`` as a tuple that broadcasts to ``g.shape`` (the sum_to_shape contract)."""
    try:
        shape = tuple(int(s) for s in shape)
    except TypeError:
        raise TypeError(f"shape must be a sequence of ints, got {shape!r}") from None
    lead = g.ndim - len(shape)
    ok = lead >= 0 and all(s in (1, n) for s, n in zip(shape, g.shape[lead:]))
    if not ok:
        raise ValueError(f"cannot sum a gradient of shape {g.shape} to shape {shape}: "
                         f"{shape} does not broadcast to {g.shape}")
    return shape


def axis(dim: int, ndim: int) -> int:
    """A dim in ``[-ndim, ndim)`` (0-d arrays accept -1 and 0) as a non-negative axis."""
    n = max(ndim, 1)
    if not -n <= dim < n:
        raise IndexError(f"Dimension out of range (expected to be in range of [{-n}, {n - 1}], but got {dim})")
    return dim % n


def indices(idx, size: int, src: np.ndarray) -> np.ndarray:
    """Flat int64 indices in ``[0, size)``, one per element of ``src`` (already checked)."""
    idx = np.asarray(idx)
    if idx.dtype.kind not in "iu":
        raise TypeError(f"indices must be integers, got {idx.dtype}")
    if idx.shape != src.shape:
        raise ValueError(f"indices have shape {idx.shape} but src has shape {src.shape}; expected equal")
    if idx.size:
        # compared before any cast: a uint64 above 2**63 must not wrap to a valid int64
        lo, hi = idx.min(), idx.max()
        if lo < 0 or hi >= size:
            bad = lo if lo < 0 else hi
            raise IndexError(f"index {int(bad)} is out of bounds for size {size}")
    # native, aligned int64 (any byte order, stride or width in): the kernel's typed view
    return np.asarray(idx, dtype=np.int64) if idx.flags.aligned else np.array(idx, dtype=np.int64)


def pair(v, name: str) -> tuple[int, int]:
    """An int or a pair of ints (torch's kernel_size/stride/padding/dilation convention)."""
    if isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_)):
        return int(v), int(v)
    if not isinstance(v, (tuple, list)):
        raise ValueError(f"{name} must be an int or a pair of ints, got {v!r}")
    v = tuple(v)
    if len(v) == 1:
        v = v * 2
    if len(v) != 2 or not all(isinstance(i, (int, np.integer)) for i in v):
        raise ValueError(f"{name} must be an int or a pair of ints, got {v!r}")
    return int(v[0]), int(v[1])


def window(x_shape, kernel, stride, padding, dilation, what="conv2d") -> tuple:
    """Checked window geometry: (kh, kw, sh, sw, ph, pw, dh, dw, oh, ow) for NCHW ``x_shape``."""
    if len(x_shape) != 4:
        raise ValueError(f"{what} expects a 4-D (N, C, H, W) input, got shape {tuple(x_shape)}")
    kh, kw = pair(kernel, "kernel_size")
    sh, sw = pair(stride, "stride")
    ph, pw = pair(padding, "padding")
    dh, dw = pair(dilation, "dilation")
    if min(kh, kw, sh, sw, dh, dw) <= 0 or min(ph, pw) < 0:
        raise ValueError(f"{what}: kernel_size, stride and dilation must be positive and padding "
                         f"non-negative, got kernel ({kh}, {kw}) stride ({sh}, {sw}) padding ({ph}, {pw}) "
                         f"dilation ({dh}, {dw})")
    if min(x_shape) < 0:
        raise ValueError(f"{what}: input shape must be non-negative, got {tuple(x_shape)}")
    H, W = x_shape[2], x_shape[3]
    oh = (H + 2 * ph - dh * (kh - 1) - 1) // sh + 1
    ow = (W + 2 * pw - dw * (kw - 1) - 1) // sw + 1
    if oh <= 0 or ow <= 0:
        raise RuntimeError(f"{what}: calculated output size ({oh}x{ow}) is too small for input "
                           f"{H}x{W} with kernel ({kh}, {kw}), padding ({ph}, {pw}), dilation ({dh}, {dw})")
    # the kernels take the geometry as C ints and index with products of it: keep every
    # term (and the padded extent) well inside 32 bits rather than overflow in a loop
    if max(kh, kw, sh, sw, ph, pw, dh, dw, oh, ow, H + 2 * ph, W + 2 * pw,
           dh * kh, dw * kw, sh * oh, sw * ow) >= 2**31:
        raise ValueError(f"{what}: geometry too large: kernel ({kh}, {kw}), stride ({sh}, {sw}), padding "
                         f"({ph}, {pw}), dilation ({dh}, {dw}) for input {H}x{W}; expected values below 2**31")
    return kh, kw, sh, sw, ph, pw, dh, dw, oh, ow


def alloc(shape, dtype, what: str, zero: bool = False) -> np.ndarray:
    """A new array for a kernel's result, or a RuntimeError naming the size asked for: a
    geometry (padding, size) can ask for far more than the input's memory, and numpy's bare
    MemoryError would not say which argument did it."""
    try:
        return np.zeros(shape, dtype) if zero else np.empty(shape, dtype)
    except (MemoryError, ValueError) as e:
        shape = tuple(np.atleast_1d(shape).tolist())
        n = float(np.prod([float(s) for s in shape])) * np.dtype(dtype).itemsize
        raise RuntimeError(f"{what}: cannot allocate a result of shape {shape} "
                           f"({n / 2**30:.3g} GiB): {type(e).__name__}: {e}") from None
