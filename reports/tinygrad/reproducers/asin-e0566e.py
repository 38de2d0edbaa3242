# property 'vjp' (backward(gradient=cotangent) of a non-scalar output gives the vector-Jacobian product.) failed: leaf grads: v0[1, 0, 2]: got -0.41, expected 1.1 (abs err 1.5 > tol 0.017, oracle numerical)
# replay: conformance run --engine conformance.engines.peers.tinygrad:TinygradAdapter --ops asin --properties vjp --seed 0
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


with step(0, 'v0 = A.leaf(np.array([[[0.6216187477111816, -0.14813636243343353, 0...'):
    v0 = A.leaf(np.array([[[0.6216187477111816, -0.14813636243343353, 0.375, 0.49983200430870056], [-0.04817730188369751, 0.8903648257255554, -0.2216426134109497, 0.12724430859088898]], [[0.1641569882631302, 0.49746254086494446, 0.0, 0.894112229347229], [-0.00390625, 0.3781532645225525, 0.611538290977478, 0.38435250520706177]], [[0.07733903080224991, 0.24291661381721497, -0.11506032943725586, 0.20299729704856873], [0.7665264010429382, 0.059786438941955566, -0.8779590725898743, -0.0009765625]]], dtype='float64'), 'float32', True)
with step(1, "v1 = A.apply('asin', [v0], {})"):
    v1 = A.apply('asin', [v0], {})
with step(2, 'v2 = A.leaf(np.array([[[-0.8881523609161377, 0.9026215076446533, 0....'):
    v2 = A.leaf(np.array([[[-0.8881523609161377, 0.9026215076446533, 0.5323630571365356, -0.6135178804397583], [0.6454956531524658, -0.625, 0.5748777389526367, -0.8812518119812012]], [[-0.5659118890762329, -0.02913212776184082, -0.09511029720306396, 0.9104931354522705], [-0.710577130317688, -0.125, -0.0625, -0.7907532453536987]], [[-0.46328210830688477, -0.24171340465545654, -0.001953125, 0.648619532585144], [-0.09985947608947754, 0.32793092727661133, -0.9653713703155518, 0.651792049407959]]], dtype='float64'), 'float32', False)
with step(3, "v3 = A.apply('mul', [v0, v2], {})"):
    v3 = A.apply('mul', [v0, v2], {})
with step(4, "v4 = A.apply('sum', [v3], {'dim': None, 'keepdim': False})"):
    v4 = A.apply('sum', [v3], {'dim': None, 'keepdim': False})
with step(5, "v5 = A.apply('add', [v1, v4], {})"):
    v5 = A.apply('add', [v1, v4], {})
with step(6, 'v6 = A.leaf(np.array([[[1.5653388500213623, -1.2762501239776611, -1...'):
    v6 = A.leaf(np.array([[[1.5653388500213623, -1.2762501239776611, -1.6227729320526123, 0.8563752174377441], [1.7837443351745605, 0.21248435974121094, 1.7500550746917725, 0.4304494857788086]], [[0.15540456771850586, 0.25490283966064453, 1.5, -1.0660638809204102], [0.5277190208435059, 1.8747856616973877, 1.4728028774261475, -2.0]], [[0.07471704483032227, 1.3891406059265137, -1.671428918838501, -0.8945045471191406], [0.1739656925201416, -1.372685432434082, -1.5859341621398926, 1.7445282936096191]]], dtype='float64'), 'float32', False)
with step(7, 'A.backward(v5, v6, None, False)'):
    A.backward(v5, v6, None, False)
with step(8, 'A.grad_of(v0)'):
    see('A.grad_of(v0)', A.grad_of(v0), np.array([[[-1.800087809562683, 2.569819927215576, 0.5262789726257324, -1.6351311206817627], [4.546456813812256, -2.2062392234802246, 4.253314971923828, -3.334937572479248]], [[-2.262735366821289, 0.1692495048046112, 1.0932347774505615, 1.5135319232940674], [-2.5112547874450684, 1.4905719757080078, 1.594146728515625, -5.548282623291016]], [[-1.9064112901687622, 0.3982805013656616, -1.690956950187683, 1.8604744672775269], [-0.15619158744812012, 0.027341246604919434, -7.44143009185791, 4.5320963859558105]]], dtype='float32'))
with step(9, 'A.grad_of(v2)'):
    see('A.grad_of(v2)', A.grad_of(v2), None)

finish()
