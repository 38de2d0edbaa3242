"""Reproducer scripts for the dtype properties: the same adapter calls on the engine and on torch,
exit 1 while the engine's answer (a result dtype, or raising) differs from torch's.

A dtype failure is not a wrong number, so the value-replaying trace scripts of
``runner.reproducer`` see no difference and fall back to the example's ``to_script``: this is
it.  ``staged_script`` goes on past the result dtype, for a check that goes on too (promotion:
the forward values, the backward, each gradient's dtype and values), so that a failure in any
stage is one the script shows.  The script drives both engines through the harness's own adapters (``resolve``), so it
works for torch-like engines and ``pkg.mod:Class`` adapters alike; run it from the directory
the adapter imports from.
"""
from __future__ import annotations

import inspect
from typing import Any, Sequence

import numpy as np

from conformance.spec.tolerances import difference


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


def _head(engine: str, title: str) -> list[str]:
    """The first lines of every dtype script: what it is, and the harness's adapters to drive both engines."""
    return [f"# conformance reproducer: {title} on {engine}; exits 1 while its answer differs from torch's",
            "import os, sys",
            "import numpy as np",
            "sys.path.insert(0, os.getcwd())  # run from where the adapter imports",
            "from conformance.engines import resolve",
            ""]


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
        *_head(engine, title),
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


def staged_script(engine: str, title: str, operands: Sequence[str], op: str, params: dict[str, Any],
                  cotangent: Any, grads: Sequence[int], kinds: Sequence[str],
                  tolerances: dict[str, tuple[float, float]]) -> str:
    """The reproducer of a check in stages: the result dtype, the forward values, then (with the
    ``cotangent``, in each engine's own result dtype) the backward and, for operand ``i`` in ``grads``,
    its gradient's dtype and values.  The first stage that raises ends an engine's answer; the answers
    are compared stage by stage by the harness's own ``difference``, values within ``tolerances[dtype]``: the
    forward's at torch's result dtype, the gradients' at float32 when any operand or the result is float32."""
    return "\n".join([
        *_head(engine, title),
        f"TOL = {dict(tolerances)!r}  # conformance.spec.tolerances, by dtype: (atol, rtol)",
        f"KINDS = {tuple(kinds)!r}",
        "",
        "def build(A):",
        f"    xs = [{', '.join(operands)}]",
        f"    y = A.apply({op!r}, xs, {params_source(params)})",
        "    dtype = A.dtype_of(y)",
        "    yield 'result dtype', dtype",
        "    yield 'forward', A.to_numpy(y)",
        f"    A.backward(y, A.leaf(np.asarray({np.asarray(cotangent).tolist()!r}, dtype=dtype), dtype, False))",
        "    yield 'backward', 'ran'",
        f"    for i in {list(grads)!r}:",
        "        g = A.grad_of(xs[i])",
        "        yield f'grad {i} dtype', None if g is None else str(g.dtype)",
        "        yield f'grad {i}', g",
        "",
        "def answer(spec):",
        "    A, got = resolve(spec), []",
        "    try:",
        "        for stage in build(A):",
        "            got.append(stage)",
        "    except Exception as e:",
        "        got.append(('raises', type(e).__name__ + ': ' + str(e)[:200]))",
        "    return got",
        "",
        inspect.getsource(difference).rstrip(),
        "",
        "def differs(got, want):",
        "    coarse = 'float32' if 'float32' in KINDS + (want[0][1],) else 'float64'",
        "    for (stage, g), (stage_w, w) in zip(got, want):",
        "        if stage != stage_w:",
        "            return f'{stage_w}: the engine {stage} ({g})'",
        "        tol = TOL[want[0][1] if stage == 'forward' else coarse] if isinstance(w, np.ndarray) else (0, 0)",
        "        why = None if stage == 'raises' else difference(g, w, *tol)  # any error is torch's 'raises' too",
        "        if why:",
        "            return f'{stage}: {why} (expected: torch)'",
        "    return None if len(got) == len(want) else f'the engine stopped at {got[-1]}, torch at {want[-1]}'",
        "",
        f"engine = sys.argv[1] if len(sys.argv) > 1 else {engine!r}  # `python SCRIPT torch`: torch against itself",
        "why = differs(answer(engine), answer('torch'))",
        "print('OK' if why is None else 'DIFFERS: ' + why)",
        "sys.exit(0 if why is None else 1)",
    ]) + "\n"
