# property 'hooks' (register_hook sees the gradient and can replace it.) failed: hook argument and hooked .grad: v0.grad[0]: got 3.2e-05, expected 1.6e-05 (abs err 1.6e-05 > tol 1e-05, oracle torch-float64; 2 of 2 elements out of tolerance)
# replay: conformance run --engine conformance.engines.peers.paddle:PaddleAdapter  --properties hooks --seed 0
# This script prints the program's values on the engine; it does not compare them (no trace shows this failure); compare with torch's, below
# conformance reproducer: focus op 'layer_norm', dtype float32, engine conformance.engines.peers.paddle:PaddleAdapter
import json
import numpy as np
import os, sys
sys.path.insert(0, os.getcwd())  # run from where the adapter imports
from conformance.engines.peers.paddle import PaddleAdapter
A = PaddleAdapter()
v0 = A.leaf(np.array([1.0, -1.0], dtype=np.float32), 'float32', True)
v1 = A.leaf(np.array([-0.5, 1.5], dtype=np.float32), 'float32', False)
v2 = A.leaf(np.array([0.75, -0.75], dtype=np.float32), 'float32', False)
v3 = A.apply('layer_norm', [v0, v1, v2], {'normalized_shape': (2,)})
cot = np.array([1.625, -1.625], dtype=np.float32)
A.backward(v3, None if cot is None else A.leaf(cot, 'float32', False))
leaves = {'v0': v0, 'v1': v1, 'v2': v2}
res = {'output': A.to_numpy(v3).tolist(),
       'grads': {k: None if A.grad_of(t) is None else A.grad_of(t).tolist() for k, t in leaves.items()}}
print('RESULT', json.dumps(res))

# The same program on torch:
# # conformance reproducer: focus op 'layer_norm', dtype float32, engine torch
# import json
# import numpy as np
# import torch as M
# v0 = M.tensor(np.array([1.0, -1.0], dtype=np.float32), dtype=M.float32, requires_grad=True)
# v1 = M.tensor(np.array([-0.5, 1.5], dtype=np.float32), dtype=M.float32, requires_grad=False)
# v2 = M.tensor(np.array([0.75, -0.75], dtype=np.float32), dtype=M.float32, requires_grad=False)
# v3 = M.nn.functional.layer_norm(v0, (2,), v1, v2)
# cot = np.array([1.625, -1.625], dtype=np.float32)
# v3.backward(None if cot is None else M.tensor(cot, dtype=M.float32))
# leaves = {'v0': v0, 'v1': v1, 'v2': v2}
# res = {'output': v3.detach().numpy().tolist(),
#        'grads': {k: None if t.grad is None else t.grad.numpy().tolist() for k, t in leaves.items()}}
# print('RESULT', json.dumps(res))
