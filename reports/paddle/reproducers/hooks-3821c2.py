# property 'hooks' (register_hook sees the gradient and can replace it.) failed: index returned shape (2, 1) for inputs of shape (1, 2) and params {'index': (slice(None, None, None), array([0]))}; expected (1, 1) (numpy reference of index)
# replay: conformance run --engine conformance.engines.peers.paddle:PaddleAdapter  --properties hooks --seed 0
# This script prints the program's values on the engine; it does not compare them (no trace shows this failure); compare with torch's, below
# conformance reproducer: focus op 'index', dtype float64, engine conformance.engines.peers.paddle:PaddleAdapter
import json
import numpy as np
import os, sys
sys.path.insert(0, os.getcwd())  # run from where the adapter imports
from conformance.engines.peers.paddle import PaddleAdapter
A = PaddleAdapter()
v0 = A.leaf(np.array([[1.0], [-1.0]], dtype=np.float64), 'float64', True)
v1 = A.apply('transpose', [v0], {'dim0': 0, 'dim1': -1})
v2 = A.apply('index', [v1], {'index': (slice(None, None, None), (np.array([0], dtype=np.int64)))})
v3 = A.apply('sum', [v2], {'dim': None, 'keepdim': False})
cot = None
A.backward(v3, None if cot is None else A.leaf(cot, 'float64', False))
leaves = {'v0': v0}
res = {'output': A.to_numpy(v3).tolist(),
       'grads': {k: None if A.grad_of(t) is None else A.grad_of(t).tolist() for k, t in leaves.items()}}
print('RESULT', json.dumps(res))

# The same program on torch:
# # conformance reproducer: focus op 'index', dtype float64, engine torch
# import json
# import numpy as np
# import torch as M
# v0 = M.tensor(np.array([[1.0], [-1.0]], dtype=np.float64), dtype=M.float64, requires_grad=True)
# v1 = M.transpose(v0, 0, -1)
# v2 = v1[(slice(None, None, None), M.tensor(np.array([0], dtype=np.int64)))]
# v3 = M.sum(v2, dim=None, keepdim=False)
# cot = None
# v3.backward(None if cot is None else M.tensor(cot, dtype=M.float64))
# leaves = {'v0': v0}
# res = {'output': v3.detach().numpy().tolist(),
#        'grads': {k: None if t.grad is None else t.grad.numpy().tolist() for k, t in leaves.items()}}
# print('RESULT', json.dumps(res))
