# property 'vjp' (backward(gradient=cotangent) of a non-scalar output gives the vector-Jacobian product.) failed: leaf grads: v2[0, 1, 0]: got 4.1e-321, expected 1.2 (abs err 1.2 > tol 3.9e-06, oracle numerical; 2 of 3 elements out of tolerance)
# replay: conformance run --engine conformance.engines.peers.mygrad:MyGradAdapter --ops conv1d --properties vjp --seed 0
# It makes the 16 adapter calls the check made, on the engine, and compares what each
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
ATOL, RTOL = 1e-10, 1e-10  # conformance.spec.tolerances: torch-float64 at float64


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


with step(0, 'v0 = A.leaf(np.array([[[1.75], [0.8203678131103516], [-0.5216379165...'):
    v0 = A.leaf(np.array([[[1.75], [0.8203678131103516], [-0.5216379165649414]]], dtype='float64'), 'float64', True)
with step(1, "v1 = A.apply('transpose', [v0], {'dim0': 0, 'dim1': -1})"):
    v1 = A.apply('transpose', [v0], {'dim0': 0, 'dim1': -1})
with step(2, 'v2 = A.leaf(np.array([[[-0.03125], [-0.984299898147583], [1.7602074...'):
    v2 = A.leaf(np.array([[[-0.03125], [-0.984299898147583], [1.7602074146270752]]], dtype='float64'), 'float64', True)
with step(3, "v3 = A.apply('transpose', [v2], {'dim0': 0, 'dim1': -1})"):
    v3 = A.apply('transpose', [v2], {'dim0': 0, 'dim1': -1})
with step(4, "v4 = A.leaf(np.array([-0.5593843460083008], dtype='float64'), 'floa..."):
    v4 = A.leaf(np.array([-0.5593843460083008], dtype='float64'), 'float64', True)
with step(5, "v5 = A.apply('conv1d', [v1, v3, v4], {'stride': 2, 'padding': 0})"):
    v5 = A.apply('conv1d', [v1, v3, v4], {'stride': 2, 'padding': 0})
with step(6, 'v6 = A.leaf(np.array([[[0.7278810739517212], [-0.9523913860321045],...'):
    v6 = A.leaf(np.array([[[0.7278810739517212], [-0.9523913860321045], [-0.06978213787078857]]], dtype='float64'), 'float64', False)
with step(7, "v7 = A.apply('mul', [v1, v6], {})"):
    v7 = A.apply('mul', [v1, v6], {})
with step(8, "v8 = A.apply('sum', [v7], {'dim': None, 'keepdim': False})"):
    v8 = A.apply('sum', [v7], {'dim': None, 'keepdim': False})
with step(9, "v9 = A.apply('add', [v5, v8], {})"):
    v9 = A.apply('add', [v5, v8], {})
with step(10, "v10 = A.leaf(np.array([[[1.4076042175292969]]], dtype='float64'), '..."):
    v10 = A.leaf(np.array([[[1.4076042175292969]]], dtype='float64'), 'float64', False)
with step(11, 'A.backward(v9, v10, None, False)'):
    A.backward(v9, v10, None, False)
with step(12, 'A.grad_of(v0)'):
    see('A.grad_of(v0)', A.grad_of(v0), np.array([[[0.9805808377564063], [-2.726094819663558], [2.379449748980278]]], dtype='float64'))
with step(13, 'A.grad_of(v2)'):
    see('A.grad_of(v2)', A.grad_of(v2), np.array([[[2.4633073806762695], [1.1547531936594169], [-0.734259731380007]]], dtype='float64'))
with step(14, 'A.grad_of(v4)'):
    see('A.grad_of(v4)', A.grad_of(v4), np.array([1.4076042175292969], dtype='float64'))
with step(15, 'A.grad_of(v6)'):
    see('A.grad_of(v6)', A.grad_of(v6), None)

finish()
