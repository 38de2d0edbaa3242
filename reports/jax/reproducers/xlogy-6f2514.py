# property 'promotion' (An op on operands of mixed dtypes (float32, float64, int64 tensors, Python floats and ints) returns torch's result dtype and values, and each leaf's gradient has the leaf's dtype.) failed: xlogy(int64 zero-dim, float64): backward raised TypeError: Called multiply with a float0 array. float0s do not support any operations by design because they are not compatible with non-trivial vector spaces. No implicit dtype conversion is done. You can use n; torch differentiates it
# replay: conformance run --engine conformance.engines.peers.jax:JaxAdapter --ops xlogy --properties promotion --seed 0
# conformance reproducer: xlogy(int64 zero-dim, float64) on conformance.engines.peers.jax:JaxAdapter; exits 1 while its answer differs from torch's
import os, sys
import numpy as np
sys.path.insert(0, os.getcwd())  # run from where the adapter imports
from conformance.engines import resolve

TOL = {'float32': (1e-05, 1e-05), 'float64': (1e-10, 1e-10)}  # conformance.spec.tolerances, by dtype: (atol, rtol)
KINDS = ('int64', 'float64')

def build(A):
    xs = [A.integer_leaf(np.array(1.0).astype('int64'), 'int64', False), A.leaf(np.array([2.275372326374054]), 'float64', True)]
    y = A.apply('xlogy', xs, {})
    dtype = A.dtype_of(y)
    yield 'result dtype', dtype
    yield 'forward', A.to_numpy(y)
    A.backward(y, A.leaf(np.asarray([1.487234115600586], dtype=dtype), dtype, False))
    yield 'backward', 'ran'
    for i in [1]:
        g = A.grad_of(xs[i])
        yield f'grad {i} dtype', None if g is None else str(g.dtype)
        yield f'grad {i}', g

def answer(spec):
    A, got = resolve(spec), []
    try:
        for stage in build(A):
            got.append(stage)
    except Exception as e:
        got.append(('raises', type(e).__name__ + ': ' + str(e)[:200]))
    return got

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

def differs(got, want):
    coarse = 'float32' if 'float32' in KINDS + (want[0][1],) else 'float64'
    for (stage, g), (stage_w, w) in zip(got, want):
        if stage != stage_w:
            return f'{stage_w}: the engine {stage} ({g})'
        tol = TOL[want[0][1] if stage == 'forward' else coarse] if isinstance(w, np.ndarray) else (0, 0)
        why = None if stage == 'raises' else difference(g, w, *tol)  # any error is torch's 'raises' too
        if why:
            return f'{stage}: {why} (expected: torch)'
    return None if len(got) == len(want) else f'the engine stopped at {got[-1]}, torch at {want[-1]}'

engine = sys.argv[1] if len(sys.argv) > 1 else 'conformance.engines.peers.jax:JaxAdapter'  # `python SCRIPT torch`: torch against itself
why = differs(answer(engine), answer('torch'))
print('OK' if why is None else 'DIFFERS: ' + why)
sys.exit(0 if why is None else 1)
