# property 'retain_graph_twice' (Two retained backwards accumulate identical grads; inputs, cotangent not mutated; no aliasing.) failed: AssertionError: memory coalescing should be on INDEX, not Ops.LOAD
# replay: conformance run --engine conformance.engines.peers.tinygrad:TinygradAdapter --ops split --properties retain_graph_twice --seed 0
# It makes the 10 adapter calls the check made, on the engine, and compares what each
# shows with what torch showed for the same calls (the literals below): every difference is
# printed and the exit status is 1; with none it prints OK.  `python THIS.py torch` runs it on torch.
# vN is what the call of step N returned (numbering of its own, not the program's).
import sys
import warnings

import numpy as np
from numpy import inf, nan  # noqa: F401

ENGINE = sys.argv[1] if len(sys.argv) > 1 else 'conformance.engines.peers.tinygrad:TinygradAdapter'

if ENGINE == "torch":
    from conformance.engines.torch import TorchAdapter
    A = TorchAdapter()
else:
    import os
    sys.path.insert(0, os.getcwd())  # run from where the adapter imports
    from conformance.engines.peers.tinygrad import TinygradAdapter
    A = TinygradAdapter()
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


with step(0, 'v0 = A.leaf(np.array([[[-1.5674951076507568, 0.1261310577392578, 0....'):
    v0 = A.leaf(np.array([[[-1.5674951076507568, 0.1261310577392578, 0.9489734172821045, 0.001953125], [1.875, -1.875, -0.19391298294067383, -2.3556103706359863], [-1.0178521871566772, -2.543487310409546, 1.1813549995422363, 0.09618151187896729]], [[2.5396732091903687, -1.341341257095337, -2.9474998712539673, 0.19404029846191406], [1.4788931608200073, -1.1489267349243164, -1.375, -2.4670228958129883], [1.25, -0.03125, -1.0227019786834717, -1.1704115867614746]], [[0.6098839044570923, 2.103912591934204, -2.519173264503479, -0.7611637115478516], [-1.2168946266174316, -2.581964135169983, -1.875, -1.2031159400939941], [-1.0002379417419434, 0.875, 1.9691916704177856, 2.248726487159729]]], dtype='float64'), 'float64', True)
with step(1, "v1 = A.leaf(np.array(-1.0, dtype='float64'), 'float64', False)"):
    v1 = A.leaf(np.array(-1.0, dtype='float64'), 'float64', False)
with step(2, "v2 = A.apply('mul', [v0, v1], {})"):
    v2 = A.apply('mul', [v0, v1], {})
with step(3, "v3 = A.apply('split', [v2], {'size': 1, 'dim': -2, 'k': 0})"):
    v3 = A.apply('split', [v2], {'size': 1, 'dim': -2, 'k': 0})
with step(4, 'v4 = A.leaf(np.array([[[1.4301221370697021, 0.015015363693237305, -...'):
    v4 = A.leaf(np.array([[[1.4301221370697021, 0.015015363693237305, -1.3793213367462158, 0.6697893142700195]], [[-1.57204270362854, -1.6157052516937256, -0.612058162689209, 1.4733142852783203]], [[-1.9054341316223145, -0.49524354934692383, -0.1785597801208496, -1.0]]], dtype='float64'), 'float64', False)
with step(5, 'A.backward(v3, v4, True, False)'):
    A.backward(v3, v4, True, False)
with step(6, 'A.to_numpy(v4)'):
    see('A.to_numpy(v4)', A.to_numpy(v4), np.array([[[1.4301221370697021, 0.015015363693237305, -1.3793213367462158, 0.6697893142700195]], [[-1.57204270362854, -1.6157052516937256, -0.612058162689209, 1.4733142852783203]], [[-1.9054341316223145, -0.49524354934692383, -0.1785597801208496, -1.0]]], dtype='float64'))
with step(7, 'A.grad_of(v0)'):
    see('A.grad_of(v0)', A.grad_of(v0), np.array([[[-1.4301221370697021, -0.015015363693237305, 1.3793213367462158, -0.6697893142700195], [-0.0, -0.0, -0.0, -0.0], [-0.0, -0.0, -0.0, -0.0]], [[1.57204270362854, 1.6157052516937256, 0.612058162689209, -1.4733142852783203], [-0.0, -0.0, -0.0, -0.0], [-0.0, -0.0, -0.0, -0.0]], [[1.9054341316223145, 0.49524354934692383, 0.1785597801208496, 1.0], [-0.0, -0.0, -0.0, -0.0], [-0.0, -0.0, -0.0, -0.0]]], dtype='float64'))
with step(8, 'A.backward(v3, v4, True, False)'):
    A.backward(v3, v4, True, False)
with step(9, 'A.grad_of(v0)'):
    see('A.grad_of(v0)', A.grad_of(v0), np.array([[[-2.8602442741394043, -0.03003072738647461, 2.7586426734924316, -1.339578628540039], [-0.0, -0.0, -0.0, -0.0], [-0.0, -0.0, -0.0, -0.0]], [[3.14408540725708, 3.231410503387451, 1.224116325378418, -2.9466285705566406], [-0.0, -0.0, -0.0, -0.0], [-0.0, -0.0, -0.0, -0.0]], [[3.810868263244629, 0.9904870986938477, 0.3571195602416992, 2.0], [-0.0, -0.0, -0.0, -0.0], [-0.0, -0.0, -0.0, -0.0]]], dtype='float64'))

finish()
