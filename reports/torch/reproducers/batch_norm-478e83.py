# property 'grad_vs_numerical' (Leaf gradients equal central differences of the float64 numpy forward.) failed: leaf grads: v3[2]: got -1.1, expected -12 (abs err 11 > tol 0.049, oracle numerical; 3 of 3 elements out of tolerance)
# replay: conformance run --engine torch --ops batch_norm --properties grad_vs_numerical --seed 0
# gradcheck of engine torch: leaf gradients of a float32 program (focus op 'batch_norm')
# against central differences of the same program on the engine in float64.
import sys

import numpy as np
import torch as M

DTYPE = 'float32'
ATOL, RTOL = 0.002, 0.002  # conformance.spec.tolerances: numerical at float32
STEP = 6.055454452393343e-06  # eps ** (1/3), times max(1, |x|)
LEAVES = {0: np.array([[[[1.5228270292282104]], [[-3.0]], [[0.375]]], [[[-2.4957940578460693]], [[0.9154937267303467]], [[1.2681609392166138]]], [[[-2.2445132732391357]], [[-1.1552624702453613]], [[2.470963954925537]]]], dtype=np.float64), 2: np.array([2.415818214416504, 0.00390625, -0.06098198890686035], dtype=np.float64), 3: np.array([1.5489256381988525, 1.625, -2.383878707885742], dtype=np.float64)}
REQUIRES_GRAD = {0: False, 2: False, 3: True}
COT = np.array([[[[0.44160890579223633, 0.0009765625, -1.8178813457489014]], [[-0.125, -1.931884765625, 0.7952101230621338]], [[1.7087812423706055, 0.16182184219360352, 0.7514514923095703]]]], dtype=np.float64)
GRAD_LEAVES = [3]


def run(values, dtype):
    """The program on the engine in ``dtype``: (its leaf tensors, its output)."""
    t = {i: M.tensor(v, dtype=getattr(M, dtype), requires_grad=REQUIRES_GRAD[i]) for i, v in values.items()}
    v0 = t[0]
    v1 = M.transpose(v0, 0, -1)
    v2 = t[2]
    v3 = t[3]
    v4 = M.nn.functional.batch_norm(v1, None, None, v2, v3, training=True)
    v5 = M.mul(v4, v4)
    return t, v5


def objective(values):
    y = run(values, 'float64')[1].detach().numpy().astype(np.float64)
    return float(np.sum(y if COT is None else COT * y))


def central_differences(i):
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
print("OK")
