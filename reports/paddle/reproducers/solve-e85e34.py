# property 'grad_vs_numerical' (Leaf gradients equal central differences of the float64 numpy forward.) failed: crashed (killed by signal SIGSEGV)
# replay: conformance run --engine conformance.engines.peers.paddle:PaddleAdapter --ops solve --properties grad_vs_numerical --seed 0
# This script prints the program's values on the engine; it does not compare them (no trace shows this failure); compare with torch's, below
# conformance reproducer: focus op 'solve', dtype float64, engine conformance.engines.peers.paddle:PaddleAdapter
import json
import numpy as np
import os, sys
sys.path.insert(0, os.getcwd())  # run from where the adapter imports
from conformance.engines.peers.paddle import PaddleAdapter
A = PaddleAdapter()
v0 = A.leaf(np.array([[0.25]], dtype=np.float64), 'float64', True)
v1 = A.leaf(np.array([-1.5], dtype=np.float64), 'float64', False)
v2 = A.leaf(np.array([1.0], dtype=np.float64), 'float64', False)
v3 = A.leaf(np.array([-1.375], dtype=np.float64), 'float64', False)
v4 = A.leaf(np.array([[1.625]], dtype=np.float64), 'float64', False)
v5 = A.apply('solve', [v0, v1, v2, v3, v4], {'k': 1})
cot = np.array([[0.001953125]], dtype=np.float64)
A.backward(v5, None if cot is None else A.leaf(cot, 'float64', False))
leaves = {'v0': v0, 'v1': v1, 'v2': v2, 'v3': v3, 'v4': v4}
res = {'output': A.to_numpy(v5).tolist(),
       'grads': {k: None if A.grad_of(t) is None else A.grad_of(t).tolist() for k, t in leaves.items()}}
print('RESULT', json.dumps(res))

# The same program on torch:
# # conformance reproducer: focus op 'solve', dtype float64, engine torch
# import json
# import numpy as np
# import torch as M
# v0 = M.tensor(np.array([[0.25]], dtype=np.float64), dtype=M.float64, requires_grad=True)
# v1 = M.tensor(np.array([-1.5], dtype=np.float64), dtype=M.float64, requires_grad=False)
# v2 = M.tensor(np.array([1.0], dtype=np.float64), dtype=M.float64, requires_grad=False)
# v3 = M.tensor(np.array([-1.375], dtype=np.float64), dtype=M.float64, requires_grad=False)
# v4 = M.tensor(np.array([[1.625]], dtype=np.float64), dtype=M.float64, requires_grad=False)
# v5 = M.linalg.solve((v0 + M.matmul((M.diag(v1 * 0 - 1) if v1.shape[-1] == 1 else M.diag(v1 * 0 + 1) - 2 * M.outer(v1, v1) / (v1 * v1).sum())[:, :1] * v2, (M.diag(v3 * 0 - 1) if v3.shape[-1] == 1 else M.diag(v3 * 0 + 1) - 2 * M.outer(v3, v3) / (v3 * v3).sum())[:1, :])), v4)
# cot = np.array([[0.001953125]], dtype=np.float64)
# v5.backward(None if cot is None else M.tensor(cot, dtype=M.float64))
# leaves = {'v0': v0, 'v1': v1, 'v2': v2, 'v3': v3, 'v4': v4}
# res = {'output': v5.detach().numpy().tolist(),
#        'grads': {k: None if t.grad is None else t.grad.numpy().tolist() for k, t in leaves.items()}}
# print('RESULT', json.dumps(res))
