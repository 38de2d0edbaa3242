# property 'grad_vs_numerical' (Leaf gradients equal central differences of the float64 numpy forward.) failed: leaf grads: v0[0, 1, 1, 0]: got 0, expected -2.1 (abs err 2.1 > tol 0.0088, oracle numerical; 3 of 4 elements out of tolerance)
# replay: conformance run --engine conformance.engines.peers.mygrad:MyGradAdapter --ops max_pool2d --properties grad_vs_numerical --seed 0
# It makes the 7 adapter calls the check made, on the engine, and compares what each
# shows with what torch showed for the same calls (the literals below): every difference is
# printed and the exit status is 1; with none it prints OK.  `python THIS.py torch` runs it on torch.
# vN is what the call of step N returned (numbering of its own, not the program's).
import sys
import warnings

import numpy as np
from numpy import inf, nan  # noqa: F401

ENGINE = sys.argv[1] if len(sys.argv) > 1 else 'conformance.engines.peers.mygrad:MyGradAdapter'

if ENGINE == "torch":
    from conformance.engines.torch import TorchAdapter
    A = TorchAdapter()
else:
    import os
    sys.path.insert(0, os.getcwd())  # run from where the adapter imports
    from conformance.engines.peers.mygrad import MyGradAdapter
    A = MyGradAdapter()
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


with step(0, 'v0 = A.leaf(np.array([[[[-1.125], [-0.769601583480835]], [[-0.77252...'):
    v0 = A.leaf(np.array([[[[-1.125], [-0.769601583480835]], [[-0.7725237607955933], [-1.0715982913970947]]]], dtype='float64'), 'float32', True)
with step(1, "v1 = A.apply('transpose', [v0], {'dim0': 0, 'dim1': -1})"):
    v1 = A.apply('transpose', [v0], {'dim0': 0, 'dim1': -1})
with step(2, "v2 = A.apply('max_pool2d', [v1], {'kernel_size': 1, 'stride': 1})"):
    v2 = A.apply('max_pool2d', [v1], {'kernel_size': 1, 'stride': 1})
with step(3, "v3 = A.apply('mul', [v2, v2], {})"):
    v3 = A.apply('mul', [v2, v2], {})
with step(4, "v4 = A.apply('sum', [v3], {'dim': None, 'keepdim': False})"):
    v4 = A.apply('sum', [v3], {'dim': None, 'keepdim': False})
with step(5, 'A.backward(v4, None, None, False)'):
    A.backward(v4, None, None, False)
with step(6, 'A.grad_of(v0)'):
    see('A.grad_of(v0)', A.grad_of(v0), np.array([[[[-2.25], [-1.53920316696167]], [[-1.5450475215911865], [-2.1431965827941895]]]], dtype='float32'))

finish()
