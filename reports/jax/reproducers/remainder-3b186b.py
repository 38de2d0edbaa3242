# property 'promotion' (An op on operands of mixed dtypes (float32, float64, int64 tensors, Python floats and ints) returns torch's result dtype and values, and each leaf's gradient has the leaf's dtype.) failed: remainder of float32 with float64 zero-dim returned float64; torch returns float32: remainder(float32, float64 zero-dim)
# replay: conformance run --engine conformance.engines.peers.jax:JaxAdapter --ops remainder --properties promotion --seed 0
# It makes the 4 adapter calls the check made, on the engine, and compares what each
# shows with what torch showed for the same calls (the literals below): every difference is
# printed and the exit status is 1; with none it prints OK.  `python THIS.py torch` runs it on torch.
# vN is what the call of step N returned (numbering of its own, not the program's).
import sys
import warnings

import numpy as np
from numpy import inf, nan  # noqa: F401

ENGINE = sys.argv[1] if len(sys.argv) > 1 else 'conformance.engines.peers.jax:JaxAdapter'

if ENGINE == "torch":
    from conformance.engines.torch import TorchAdapter
    A = TorchAdapter()
else:
    import os
    sys.path.insert(0, os.getcwd())  # run from where the adapter imports
    from conformance.engines.peers.jax import JaxAdapter
    A = JaxAdapter()
is_autograd_error = A.is_autograd_error


def value(t):
    return t  # adapters hand out numpy arrays already

warnings.filterwarnings('ignore')  # torch warns when .grad of a non-leaf is read
ATOL, RTOL = 1e-05, 1e-05  # conformance.spec.tolerances: torch-float64 at float32


def difference(got, exp, atol, rtol):  # copied verbatim into reproducer scripts: no annotations
    """None when observation ``got`` matches ``exp``, else what differs (arrays: shape, dtype, values).

    conformance.spec.tolerances' rule for one observation, as trace replays and reproducer scripts apply it."""
    got = got.item() if isinstance(got, np.generic) else got
    if isinstance(got, np.ndarray) and isinstance(exp, np.ndarray):
        if got.shape != exp.shape:
            return f"got shape {got.shape}, expected shape {exp.shape}"
        if got.dtype != exp.dtype:
            return f"got dtype {got.dtype}, expected {exp.dtype}"
        g, e = got.astype(np.float64), exp.astype(np.float64)
        finite = np.abs(e[np.isfinite(e)])
        scale = max(1.0, float(finite.max())) if finite.size else 1.0
        close = (np.abs(g - e) <= atol * scale + rtol * np.abs(e)) | (g == e) | (np.isnan(g) & np.isnan(e))
        return None if close.all() else f"got {got.tolist()}, expected {exp.tolist()}"
    if isinstance(got, np.ndarray) or isinstance(exp, np.ndarray) or type(got) is not type(exp) or got != exp:
        show = [v.tolist() if isinstance(v, np.ndarray) else v for v in (got, exp)]
        return f"got {show[0]!r}, expected {show[1]!r}"
    return None

class BlockExit(Exception):
    """The exception that leaves a grad-mode block (the check raised one there)."""


DIFFS, RAISED, STEP = [], [], [None]


class step:
    """One call: an exception is compared with torch's there (by category), and never stops the script."""

    def __init__(self, n, code, raises=None, any_outcome=False):
        self.n, self.code, self.raises, self.any_outcome = n, code, raises, any_outcome

    def __enter__(self):
        STEP[0] = self.n

    def __exit__(self, typ, exc, tb):
        if isinstance(exc, NameError) and RAISED:
            return True  # it uses the result of a call that raised, reported there
        got = None if exc is None else ("autograd error" if is_autograd_error(exc) else "error")
        if exc is not None:
            RAISED.append(self.n)
        if got != self.raises and not self.any_outcome:
            what = "did not raise" if exc is None else f"raised {type(exc).__name__}: {exc}"[:300] + f" ({got})"
            report(f"{self.code}: {what}, expected {self.raises or 'no error'}")
        return True


def report(what):
    DIFFS.append(f"step {STEP[0]}: {what}")
    print(DIFFS[-1])


def see(label, got, exp):
    if got is not None and not isinstance(got, (np.ndarray, np.generic, bool, int, float, str)):
        got = value(got)
    why = difference(got, exp, ATOL, RTOL)
    if why:
        report(f"{label}: {why}")


def finish():
    if DIFFS:
        print(f"{len(DIFFS)} difference(s) from torch on engine {ENGINE}")
        sys.exit(1)
    print("OK")


with step(0, "v0 = A.leaf(np.array([0.369498610496521], dtype='float64'), 'float3..."):
    v0 = A.leaf(np.array([0.369498610496521], dtype='float64'), 'float32', False)
with step(1, "v1 = A.leaf(np.array(2.784223580360413, dtype='float64'), 'float64'..."):
    v1 = A.leaf(np.array(2.784223580360413, dtype='float64'), 'float64', True)
with step(2, "v2 = A.apply('remainder', [v0, v1], {})"):
    v2 = A.apply('remainder', [v0, v1], {})
with step(3, 'A.dtype_of(v2)'):
    see('A.dtype_of(v2)', A.dtype_of(v2), 'float32')

finish()
