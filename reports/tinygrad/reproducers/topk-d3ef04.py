# property 'grad_vs_torch' (Leaf gradients (and which leaves get None) equal torch float64 to ~1e-10 relative.) failed: leaf grads: v0: got None, expected an array of shape (3, 2, 4) (oracle torch-float64)
# replay: conformance run --engine conformance.engines.peers.tinygrad:TinygradAdapter --ops topk --properties grad_vs_torch --seed 0
# This script prints the program's values on the engine; it does not compare them (no trace shows this failure); compare with torch's, below
# conformance reproducer: focus op 'topk', dtype float32, engine conformance.engines.peers.tinygrad:TinygradAdapter
import json
import numpy as np
import os, sys
sys.path.insert(0, os.getcwd())  # run from where the adapter imports
from conformance.engines.peers.tinygrad import TinygradAdapter
A = TinygradAdapter()
v0 = A.leaf(np.array([[[1.0, -1.0, 2.0, -2.0], [3.0, -3.0, 0.5, -0.5]], [[1.5, -1.5, 2.5, -2.5], [0.25, -0.25, 0.75, -0.75]], [[1.25, -1.25, 1.75, -1.75], [2.25, -2.25, 2.75, -2.75]]], dtype=np.float32), 'float32', True)
v1 = A.apply('topk', [v0], {'k': 2, 'dim': -2, 'largest': True})
v2 = A.apply('sum', [v1], {'dim': None, 'keepdim': False})
cot = None
A.backward(v2, None if cot is None else A.leaf(cot, 'float32', False))
leaves = {'v0': v0}
res = {'output': A.to_numpy(v2).tolist(),
       'grads': {k: None if A.grad_of(t) is None else A.grad_of(t).tolist() for k, t in leaves.items()}}
print('RESULT', json.dumps(res))

# The same program on torch:
# # conformance reproducer: focus op 'topk', dtype float32, engine torch
# import json
# import numpy as np
# import torch as M
# v0 = M.tensor(np.array([[[1.0, -1.0, 2.0, -2.0], [3.0, -3.0, 0.5, -0.5]], [[1.5, -1.5, 2.5, -2.5], [0.25, -0.25, 0.75, -0.75]], [[1.25, -1.25, 1.75, -1.75], [2.25, -2.25, 2.75, -2.75]]], dtype=np.float32), dtype=M.float32, requires_grad=True)
# v1 = M.topk(v0, 2, dim=-2, largest=True)[0]
# v2 = M.sum(v1, dim=None, keepdim=False)
# cot = None
# v2.backward(None if cot is None else M.tensor(cot, dtype=M.float32))
# leaves = {'v0': v0}
# res = {'output': v2.detach().numpy().tolist(),
#        'grads': {k: None if t.grad is None else t.grad.numpy().tolist() for k, t in leaves.items()}}
# print('RESULT', json.dumps(res))
