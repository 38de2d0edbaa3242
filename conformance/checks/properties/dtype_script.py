"""Reproducer scripts for the dtype properties: the same adapter calls on the engine and on torch,
exit 1 while the engine's answer (a result dtype, or raising) differs from torch's.

A dtype failure is not a wrong number, so the value-replaying trace scripts of
``runner.reproducer`` see no difference and fall back to the example's ``to_script``: this is
it.  The script drives both engines through the harness's own adapters (``resolve``), so it
works for torch-like engines and ``pkg.mod:Class`` adapters alike; run it from the directory
the adapter imports from.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np


def operand(v: Any, kind: str, requires_grad: bool) -> str:
    """Source for one operand made on adapter ``A``: a leaf, an integer leaf, or a Python number."""
    if kind in ("float32", "float64"):
        return f"A.leaf(np.array({np.asarray(v).tolist()!r}), {kind!r}, {requires_grad!r})"
    if kind in ("int64", "int32", "bool"):
        return f"A.integer_leaf(np.array({np.asarray(v).tolist()!r}).astype({kind!r}), {kind!r}, {requires_grad!r})"
    return repr(v)


def params_source(params: dict[str, Any]) -> str:
    """``params`` as source (numpy arrays -- masks, indices -- rebuilt with their dtype)."""
    items = [f"{k!r}: " + (f"np.array({v.tolist()!r}, dtype=np.{v.dtype})" if isinstance(v, np.ndarray) else repr(v))
             for k, v in params.items()]
    return "{" + ", ".join(items) + "}"


def script(engine: str, title: str, operands: Sequence[str], op: str | None, params: dict[str, Any],
           answer: str = "A.dtype_of(y)") -> str:
    """The reproducer: ``operands`` (sources from ``operand``), then ``op`` applied to them (None: the
    operands alone are the question, e.g. an integer leaf requiring grad); ``answer``: what is compared
    with torch's, an expression of the result ``y`` (a comparison: its dtype and requires_grad)."""
    body = [f"    xs = [{', '.join(operands)}]"]
    if op is None:
        body.append("    return 'made: requires_grad ' + str(A.requires_grad(xs[0]))")
    else:
        body += [f"    y = A.apply({op!r}, xs, {params_source(params)})", f"    return {answer}"]
    return "\n".join([
        f"# conformance reproducer: {title} on {engine}; exits 1 while its answer differs from torch's",
        "import os, sys",
        "import numpy as np",
        "sys.path.insert(0, os.getcwd())  # run from where the adapter imports",
        "from conformance.engines import resolve",
        "",
        "def answer(spec):",
        "    A = resolve(spec)",
        "    try:",
        "        return build(A)",
        "    except Exception as e:  # raising is an answer too (torch: integer tensors cannot require grad)",
        "        return 'raises ' + type(e).__name__",
        "",
        "def build(A):",
        *body,
        "",
        f"engine = sys.argv[1] if len(sys.argv) > 1 else {engine!r}  # `python SCRIPT torch`: torch against itself",
        "got, want = answer(engine), answer('torch')",
        "same = got == want or (got.startswith('raises') and want.startswith('raises'))",
        "print('OK' if same else 'DIFFERS', '| engine:', got, '| torch:', want)",
        "sys.exit(0 if same else 1)",
    ]) + "\n"
