"""Reproducer scripts: a failing check as a standalone program, with the command that replays it.

A rule failure (a second backward, accumulation across calls, a no_grad result reused later)
does not show in one forward and one backward of the program: it shows in the sequence of
calls the check made.  So ``script`` re-runs the check on a recording adapter
(conformance/runner/trace.py), replays the recorded calls on torch for the expected
observations, and writes a script that makes every call on the engine and compares each
observation with torch's, written in as literals: it prints each difference and exits 1
while the bug is there, prints OK and exits 0 once it is gone (``python SCRIPT torch`` runs
the same steps on torch).  Where calls cannot be written out (a hook is a Python callable),
the check cannot be re-run, or replaying shows no difference, the script is the program
alone, as before.  Torch-like engines get their own torch-style code; other adapters are
driven through their Adapter methods.
"""
from __future__ import annotations

import inspect
from collections.abc import Sequence
from typing import Any

import numpy as np
from hypothesis.errors import HypothesisException, StopTest

from conformance.checks.oracles import tolerance_for
from conformance.checks.properties.base import outside_hypothesis
from conformance.engines.adapter import Adapter
from conformance.engines.contract import CheckedAdapter
from conformance.runner.findings import PROGRAM_ONLY
from conformance.runner.gradcheck_script import gradcheck_script
from conformance.runner.results import ANY_OP
from conformance.runner.trace import (
    Call,
    Outcome,
    Recorder,
    Ref,
    Trace,
    differences,
    replay,
)
from conformance.spec.ops import REGISTRY
from conformance.spec.tolerances import difference, tolerance


def script(adapter: Any, prop: Any, op: str, example: Any, message: str, run_seed: int,
           selection: Sequence[str] | None = None) -> str | None:
    """The reproducer of ``example`` failing ``prop`` on ``adapter`` (anything with ``spec`` and ``name``), or None.

    Never raises: a reproducer is a courtesy on top of a result that is already decided.
    """
    if example is None:
        return None
    head = _head(adapter, prop, op, message, run_seed, selection)
    program = example if hasattr(example, "to_script") else None
    try:
        # only a live engine can be traced; a crashed worker's cell names the engine and nothing more
        live = isinstance(getattr(adapter, "_inner", adapter), Adapter)
        body, evidence_program = _trace_script(adapter, prop, example) if live else (None, None)
    except Exception:  # noqa: BLE001 - anything going wrong in the replay: the program script
        body, evidence_program = None, None
    if body is not None:
        return head + body
    try:
        checked = _gradcheck(adapter, prop, evidence_program or program)
        if checked is not None:
            return head + checked
        return _program_script(adapter.spec or adapter.name, head, evidence_program or program)
    except Exception:  # noqa: BLE001 - a program that cannot print itself: no reproducer
        return None


def _head(adapter: Any, prop: Any, op: str, message: str, run_seed: int, selection: Sequence[str] | None) -> str:
    """The comment lines: the property, the message, the command that replays the cell.

    Any-op cells draw from the run's op list, so the replay command selects the same ops."""
    name = adapter.spec or adapter.name
    replay_ops = f"--ops {op}" if op != ANY_OP else (f"--ops {','.join(selection)}" if selection else "")
    return (f"# property {prop.name!r} ({prop.doc}) failed: {message[:300]}\n"
            f"# replay: conformance run --engine {name} {replay_ops} "
            f"--properties {prop.name} --seed {run_seed}\n")


def _gradcheck(adapter: Any, prop: Any, program: Any) -> str | None:
    """A gradient failure against central differences that torch shares: checked on the engine alone."""
    if program is None or "numerical" not in getattr(prop, "oracles", ()) or not hasattr(program, "grad_leaves"):
        return None
    return gradcheck_script(program, adapter.spec or adapter.name, tuple(tolerance_for(program, "numerical")))


def _program_script(name: str, head: str, program: Any) -> str | None:
    """The program alone: one forward and one backward, on engine ``name`` and (commented) on torch; an
    example whose own script compares with torch (``compares_with_torch``: the dtype scripts) as it is."""
    if program is None:
        return None
    if getattr(program, "compares_with_torch", False):
        return head + program.to_script(name)
    torch_version = "\n".join("# " + line for line in program.to_script("torch").splitlines())
    return (head + PROGRAM_ONLY + " this failure); compare with torch's, below\n" + program.to_script(name)
            + "\n# The same program on torch:\n" + torch_version + "\n")


# -- the trace script ----------------------------------------------------------------------------
def _trace_script(adapter: Any, prop: Any, example: Any) -> tuple[str | None, Any]:
    """(the trace script body or None, the program the check's evidence names)."""
    if _native_module(adapter.spec) is None and not _adapter_spec(adapter.spec):
        return None, None  # nothing a script could import
    if not all(callable(getattr(adapter, m, None)) for m in ("leaf", "apply", "backward")):
        return None, None  # a stand-in for an engine that lives in a worker (or died there): nothing to re-run
    trace, ev = _record(adapter, prop, example)
    program = getattr(ev, "program", None)
    if trace is None or trace.unrenderable or not trace.calls:
        return None, program
    # imports torch: only once a cell failed
    from conformance.checks.oracles import torch_adapter

    torch = torch_adapter()
    _grad_mode_on(torch)
    expected = replay(trace, torch)
    _grad_mode_on(torch)
    if any(o.raised == "error" and c.method in ("leaf", "apply") for c, o in zip(trace.calls, expected)):
        return None, program  # torch cannot build the graph (an op it lacks): no expected values there
    # (torch raising on a later call -- reading a .grad that torch leaves None -- is the difference itself)
    dtype = _dtype(trace, example)
    tol = tuple(tolerance("torch-float64", dtype))
    if not differences(trace.outcomes, expected, tol):
        return None, program  # the same answers as torch: the calls alone do not show this failure
    return _render(adapter.spec, trace, expected, tol, dtype), program


def _record(adapter: Any, prop: Any, example: Any) -> tuple[Trace | None, Any]:
    """Re-run the check on a Recorder: (its trace, its evidence); (None, None) if hypothesis rejects it.

    The Recorder wraps the engine's own adapter, not the contract-checking wrapper: the script
    drives the bare engine, and must see what the recording saw."""
    rec = Recorder(adapter._inner if isinstance(adapter, CheckedAdapter) else adapter)
    _grad_mode_on(adapter)
    ev = None
    try:
        with outside_hypothesis():
            ev = prop.check(rec, example)
    except (HypothesisException, StopTest):  # reject(): this example is not one the check judges
        return None, None
    except Exception:  # noqa: BLE001, S110 - the engine raised: the trace ends at the call that raised
        pass
    finally:
        _grad_mode_on(adapter)
    return rec.trace, ev


def _grad_mode_on(adapter: Any) -> None:
    """Grad mode back on: a broken engine may leave it off, and the next run would start wrong."""
    from conformance.runner.cells import restore_grad_mode  # cells imports this module

    restore_grad_mode(adapter)


def _dtype(trace: Trace, example: Any) -> str:
    """The dtype the check ran at: the example's, else the first leaf's."""
    dtype = getattr(example, "dtype", None)
    leaves = [dict(c.args)["dtype"] for c in trace.calls if c.method == "leaf"]
    return dtype if isinstance(dtype, str) else (leaves[0] if leaves else "float64")


def _native_module(spec: str | None) -> str | None:
    """The module a torch-like engine's script imports as M, or None for other adapters."""
    if spec in ("torch", "refengine"):
        return spec
    if spec and spec.startswith("torchlike:"):
        return spec.split(":", 1)[1]
    return None


def _adapter_spec(spec: str | None) -> bool:
    """Whether ``spec`` is a ``pkg.mod:Class`` a script can import (not torch:cuda)."""
    return bool(spec) and ":" in spec and not spec.startswith(("torch:", "torchlike:"))


_NATIVE_SETUP = '''if ENGINE == "torch":
    import torch as M
else:
    import {mod} as M


def is_autograd_error(e):
    return isinstance(e, RuntimeError)  # the torch-like adapter's category of autograd misuse


def value(t):
    return np.array(t.detach().numpy(), copy=True)


def dtype_name(t):
    return next((n for n in ("float64", "float32") if t.dtype == getattr(M, n, None)), str(t.dtype))
'''

_ADAPTER_SETUP = '''if ENGINE == "torch":
    from conformance.engines.torch import TorchAdapter
    A = TorchAdapter()
else:
    import os
    sys.path.insert(0, os.getcwd())  # run from where the adapter imports
    from {mod} import {cls}
    A = {cls}()
is_autograd_error = A.is_autograd_error


def value(t):
    return t  # adapters hand out numpy arrays already
'''

_RUNTIME = '''

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


'''


def _render(spec: str, trace: Trace, expected: list[Outcome], tol: tuple[float, float], dtype: str) -> str:
    """The script: setup, comparison runtime, one ``with step(...)`` block per call, ``finish()``."""
    mod = _native_module(spec)
    setup = _NATIVE_SETUP.format(mod=mod) if mod else _ADAPTER_SETUP.format(
        mod=spec.partition(":")[0], cls=spec.partition(":")[2])
    lines = [f"# It makes the {len(trace.calls)} adapter calls the check made, on the engine, and compares what each",
             "# shows with what torch showed for the same calls (the literals below): every difference is",
             "# printed and the exit status is 1; with none it prints OK.  `python THIS.py torch` runs it on torch.",
             "# vN is what the call of step N returned (numbering of its own, not the program's).",
             "import sys", "import warnings", "", "import numpy as np", "from numpy import inf, nan  # noqa: F401",
             "", f"ENGINE = sys.argv[1] if len(sys.argv) > 1 else {spec!r}", "", setup,
             "warnings.filterwarnings('ignore')  # torch warns when .grad of a non-leaf is read",
             f"ATOL, RTOL = {tol[0]!r}, {tol[1]!r}  # conformance.spec.tolerances: torch-float64 at {dtype}",
             "", "", inspect.getsource(difference).rstrip() + _RUNTIME.rstrip(), "", ""]
    for call, exp in zip(trace.calls, expected):
        lines += _step(call, exp, native=mod is not None)
    lines += ["", "finish()"]
    return "\n".join(lines) + "\n"


def _step(call: Call, exp: Outcome, native: bool) -> list[str]:
    """``with step(n, code[, raises]):`` then the call and a ``see`` per observation torch made."""
    stmt, seen = (_native_code if native else _adapter_code)(call)
    code = stmt or ", ".join(label for label, _ in seen)
    opts = (f", raises={exp.raised!r}" if exp.raised else "") + (", any_outcome=True" if exp.skipped else "")
    body = [stmt] if stmt else []
    if exp.raised or exp.skipped:
        body += [] if stmt else [got for _, got in seen]
    else:
        body += [f"see({label!r}, {got}, {_lit(v)})" for (label, got), v in zip(seen, exp.obs)]
    short = code if len(code) <= 70 else code[:67] + "..."
    return [f"with step({call.n}, {short!r}{opts}):"] + ["    " + b for b in body or ["pass"]]


def _lit(v: Any) -> str:
    """Python source for a recorded value (nan/inf are names the script imports)."""
    if isinstance(v, Ref):
        return v.name
    if isinstance(v, np.ndarray):
        return f"np.array({v.tolist()!r}, dtype={str(v.dtype)!r})"
    if isinstance(v, tuple):
        return "(" + "".join(_lit(x) + ", " for x in v).rstrip(" ") + ")" if v else "()"
    if isinstance(v, list):
        return "[" + ", ".join(_lit(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{k!r}: {_lit(x)}" for k, x in v.items()) + "}"
    if v is Ellipsis:
        return "..."
    return repr(v)


def _adapter_code(call: Call) -> tuple[str | None, list[tuple[str, str]]]:
    """(statement, [(label, expression)] observed) for a call through the adapter's methods."""
    a = dict(call.args)
    args = ", ".join(_lit(v) for _, v in call.args)
    made = f"A.{call.method}({args})"
    if call.method in ("enter", "exit"):
        return _cm_code(call), []
    if call.method == "grad":
        return f"{call.name} = {made}", _none_items(call.name, len(a["inputs"]))
    if call.method == "grad_tensor":
        return f"{call.name} = {made}", [(f"{made} is None", f"{call.name} is None")]
    if call.method == "grad_fn_name":
        return None, [(f"{made} is not None", f"{made} is not None")]
    if call.method in _OBSERVED:
        return None, [(made, made)]
    return (f"{call.name} = {made}" if call.method in _PRODUCING else made), []


_OBSERVED = ("to_numpy", "grad_of", "dtype_of", "is_leaf", "requires_grad", "version_counter", "is_grad_enabled")
_PRODUCING = ("leaf", "apply", "apply_inplace", "detach", "no_grad", "enable_grad", "set_grad_enabled")


def _none_items(name: str, n: int) -> list[tuple[str, str]]:
    return [(f"{name}[{k}] is None", f"{name}[{k}] is None") for k in range(n)]


def _cm_code(call: Call) -> str:
    a = dict(call.args)
    if call.method == "enter":
        return f"{a['cm'].name}.__enter__()"
    exc = "BlockExit, BlockExit('an exception leaves the block'), None" if a["exception"] else "None, None, None"
    return f"{a['cm'].name}.__exit__({exc})"


def _native_code(call: Call) -> tuple[str | None, list[tuple[str, str]]]:
    """(statement, [(label, expression)] observed) for a call in the engine's own torch-style API."""
    a = {k: _lit(v) for k, v in call.args}
    t, m = a.get("t"), call.method
    observed = {"to_numpy": (t, t), "grad_of": (f"{t}.grad", f"{t}.grad"), "dtype_of": (f"{t}.dtype", f"dtype_name({t})"),
                "is_leaf": (f"{t}.is_leaf",) * 2, "requires_grad": (f"{t}.requires_grad",) * 2,
                "grad_fn_name": (f"{t}.grad_fn is not None",) * 2, "version_counter": (f"{t}._version",) * 2,
                "is_grad_enabled": ("M.is_grad_enabled()",) * 2}
    if m in observed:
        return None, [observed[m]]
    if m in ("enter", "exit"):
        return _cm_code(call), []
    if m == "grad_tensor":
        return f"{call.name} = {t}.grad", [(f"{t}.grad is None", f"{call.name} is None")]
    if m == "grad":
        kw = ", allow_unused=True" if dict(call.args)["allow_unused"] else ""
        stmt = (f"{call.name} = list(M.autograd.grad({a['outputs']}, {a['inputs']}, "
                f"grad_outputs={a['grad_outputs']}, retain_graph={a['retain_graph']}, "
                f"create_graph={a['create_graph']}{kw}))")
        return (stmt, _none_items(call.name, len(dict(call.args)["inputs"])))
    return _native_statement(call, a), []


def _native_statement(call: Call, a: dict[str, str]) -> str:
    """The statement of a call that observes nothing, torch style."""
    raw, t, name = dict(call.args), a.get("t"), call.name
    if call.method == "leaf":
        dt = raw["dtype"]
        if dt not in ("float64", "float32"):
            raise ValueError(f"leaf dtype {dt!r}")
        return (f"{name} = M.tensor(np.array({raw['value'].tolist()!r}, dtype=np.{dt}), dtype=M.{dt}, "
                f"requires_grad={raw['requires_grad']!r})")
    if call.method == "apply":
        return f"{name} = {REGISTRY[raw['op']].code([r.name for r in raw['inputs']], raw['params'])}"
    if call.method == "backward":
        kw = [f"gradient={a['gradient']}"] if raw["gradient"] is not None else []
        kw += [f"retain_graph={raw['retain_graph']!r}"] if raw["retain_graph"] is not None else []
        kw += ["create_graph=True"] if raw["create_graph"] else []
        return f"{a['out']}.backward({', '.join(kw)})"
    simple = {"apply_inplace": f"{name} = {a.get('target')}.{raw.get('op')}_({a.get('other')})",
              "set_requires_grad": f"{t}.requires_grad_({a.get('flag')})", "zero_grad": f"{t}.grad = None",
              "retain_grad": f"{t}.retain_grad()", "detach": f"{name} = {t}.detach()",
              "no_grad": f"{name} = M.no_grad()", "enable_grad": f"{name} = M.enable_grad()",
              "set_grad_enabled": f"{name} = M.set_grad_enabled({a.get('flag')})"}
    return simple[call.method]  # KeyError for anything else: the caller falls back to the program script
