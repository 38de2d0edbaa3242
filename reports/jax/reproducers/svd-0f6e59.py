# property 'vjp' (backward(gradient=cotangent) of a non-scalar output gives the vector-Jacobian product.) failed: leaf grads: v3[0]: got -0.0039, expected 0 (abs err 0.0039 > tol 0.002, oracle numerical)
# replay: conformance run --engine conformance.engines.peers.jax:JaxAdapter --ops svd --properties vjp --seed 0
# This script prints the program's values on the engine; it does not compare them (no trace shows this failure); compare with torch's, below
# conformance reproducer: focus op 'svd', dtype float32, engine conformance.engines.peers.jax:JaxAdapter
import json
import numpy as np
import os, sys
sys.path.insert(0, os.getcwd())  # run from where the adapter imports
from conformance.engines.peers.jax import JaxAdapter
A = JaxAdapter()
v0 = A.leaf(np.array([[0.25]], dtype=np.float32), 'float32', False)
v1 = A.leaf(np.array([-1.5], dtype=np.float32), 'float32', False)
v2 = A.leaf(np.array([61.33656311035156], dtype=np.float32), 'float32', False)
v3 = A.leaf(np.array([-1.375], dtype=np.float32), 'float32', True)
v4 = A.apply('svd', [v0, v1, v2, v3], {'k': 1})
cot = np.array([[1.5]], dtype=np.float32)
A.backward(v4, None if cot is None else A.leaf(cot, 'float32', False))
leaves = {'v0': v0, 'v1': v1, 'v2': v2, 'v3': v3}
res = {'output': A.to_numpy(v4).tolist(),
       'grads': {k: None if A.grad_of(t) is None else A.grad_of(t).tolist() for k, t in leaves.items()}}
print('RESULT', json.dumps(res))

# The same program on torch:
# # conformance reproducer: focus op 'svd', dtype float32, engine torch
# import json
# import numpy as np
# import torch as M
# v0 = M.tensor(np.array([[0.25]], dtype=np.float32), dtype=M.float32, requires_grad=False)
# v1 = M.tensor(np.array([-1.5], dtype=np.float32), dtype=M.float32, requires_grad=False)
# v2 = M.tensor(np.array([61.33656311035156], dtype=np.float32), dtype=M.float32, requires_grad=False)
# v3 = M.tensor(np.array([-1.375], dtype=np.float32), dtype=M.float32, requires_grad=True)
# v4 = (lambda U, S, Vh: M.matmul(U * (S * S).unsqueeze(-2), Vh))(*M.linalg.svd((v0 + M.matmul((M.diag(v1 * 0 + 1) - 2 * M.outer(v1, v1) / (v1 * v1).sum())[:, :1] * M.cumsum(v2, 0), (M.diag(v3 * 0 + 1) - 2 * M.outer(v3, v3) / (v3 * v3).sum())[:1, :])), full_matrices=False))
# cot = np.array([[1.5]], dtype=np.float32)
# v4.backward(None if cot is None else M.tensor(cot, dtype=M.float32))
# leaves = {'v0': v0, 'v1': v1, 'v2': v2, 'v3': v3}
# res = {'output': v4.detach().numpy().tolist(),
#        'grads': {k: None if t.grad is None else t.grad.numpy().tolist() for k, t in leaves.items()}}
# print('RESULT', json.dumps(res))
