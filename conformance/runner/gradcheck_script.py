"""A reproducer that checks an engine's gradients against central differences of its own forward.

A gradient that failed against the numerical oracle, on a program where torch gives the engine's
answer too (torch is the engine under test, or the engine shares a bug of torch's), has no trace
script: a trace script shows what differs from torch, and nothing does.  This script needs no oracle
at all -- PyTorch's ``gradcheck`` method: it rebuilds the program on the engine, takes the leaf
gradients, and compares them with central differences of the same program run on the engine in
float64, within the property's tolerance; it names the worst element and both numbers, and exits 1
while they differ (0, printing OK, once they agree).  Only torch-style engines (torch, refengine,
``torchlike:MODULE``), which a script can drive with plain calls.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from conformance.spec.ops import REGISTRY

#: the step of central differences, per element: eps^(1/3) * max(1, |x|) (the numerical oracle's)
STEP = float(np.finfo(np.float64).eps) ** (1.0 / 3.0)


def gradcheck_script(program: Any, engine: str, tol: tuple[float, float]) -> str | None:
    """The script for ``program`` on torch-style ``engine`` (None for another engine or a bfloat16 program)."""
    native = engine in ("torch", "refengine") or engine.startswith("torchlike:")
    if not native or program.dtype == "bfloat16" or not program.grad_leaves:
        return None
    module = "torch" if engine == "torch" else "refengine" if engine == "refengine" else engine.split(":", 1)[1]
    leaves = {i: program.nodes[i].value for i in program.leaves}
    cot = None if program.cotangent is None else np.asarray(program.cotangent, dtype=np.float64)
    lines = [
        f"# gradcheck of engine {engine}: leaf gradients of a {program.dtype} program (focus op {program.focus!r})",
        "# against central differences of the same program on the engine in float64.",
        "import sys", "", "import numpy as np", f"import {module} as M", "",
        f"DTYPE = {program.dtype!r}",
        f"ATOL, RTOL = {tol[0]!r}, {tol[1]!r}  # conformance.spec.tolerances: numerical at {program.dtype}",
        f"STEP = {STEP!r}  # eps ** (1/3), times max(1, |x|)",
        "LEAVES = {" + ", ".join(f"{i}: np.array({v.tolist()!r}, dtype=np.float64)" for i, v in leaves.items())
        + "}",
        "REQUIRES_GRAD = {" + ", ".join(f"{i}: {program.nodes[i].requires_grad}" for i in leaves) + "}",
        f"COT = {'None' if cot is None else f'np.array({cot.tolist()!r}, dtype=np.float64)'}",
        f"GRAD_LEAVES = {list(program.grad_leaves)!r}", "", "",
        "def run(values, dtype):",
        '    """The program on the engine in ``dtype``: (its leaf tensors, its output)."""',
        "    t = {i: M.tensor(v, dtype=getattr(M, dtype), requires_grad=REQUIRES_GRAD[i]) for i, v in values.items()}",
        *_body(program),
        f"    return t, v{program.output}", "", "",
        "def objective(values):",
        "    y = run(values, 'float64')[1].detach().numpy().astype(np.float64)",
        "    return float(np.sum(y if COT is None else COT * y))", "", "",
        *_CHECK.splitlines(),
    ]
    return "\n".join(lines) + "\n"


def _body(program: Any) -> list[str]:
    out = []
    for i, n in enumerate(program.nodes):
        if n.op is None:
            out.append(f"    v{i} = t[{i}]")
        else:
            out.append(f"    v{i} = {REGISTRY[n.op].code([f'v{j}' for j in n.inputs], n.params)}")
    return out


_CHECK = '''def central_differences(i):
    x, num = LEAVES[i], np.zeros_like(LEAVES[i])
    for k in np.ndindex(*x.shape):
        h = STEP * max(1.0, abs(float(x[k])))
        plus, minus = x.copy(), x.copy()
        plus[k] += h
        minus[k] -= h
        num[k] = (objective({**LEAVES, i: plus}) - objective({**LEAVES, i: minus})) / (2 * h)
    return num


t, out = run(LEAVES, DTYPE)
out.backward(None if COT is None else M.tensor(COT, dtype=getattr(M, DTYPE)))
expected = {i: central_differences(i) for i in GRAD_LEAVES}
scale = max([1.0] + [float(np.max(np.abs(e))) for e in expected.values() if e.size])
differences = []
for i, num in expected.items():
    grad = t[i].grad
    if grad is None:
        differences.append(f"v{i}.grad: got None, central differences {num.tolist()}")
        continue
    got = grad.detach().numpy().astype(np.float64)
    err = np.abs(got - num)
    off = err > ATOL * scale + RTOL * np.abs(num)
    if off.any():
        k = np.unravel_index(int(np.argmax(np.where(off, err, -1.0))), err.shape)
        differences.append(f"v{i}.grad{[int(j) for j in k]}: got {got[k]:.10g}, central differences {num[k]:.10g} "
                           f"(abs err {err[k]:.3g}; {int(off.sum())} of {off.size} elements out of tolerance)")
for d in differences:
    print(d)
if differences:
    print(f"{len(differences)} gradient(s) differ from central differences on the engine's own forward")
    sys.exit(1)
print("OK")'''
