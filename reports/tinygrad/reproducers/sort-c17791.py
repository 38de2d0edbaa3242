# property 'grad_dtype_shape' (.grad of a leaf has the leaf's dtype and shape.) failed: v0.grad is None
# replay: conformance run --engine conformance.engines.peers.tinygrad:TinygradAdapter --ops sort --properties grad_dtype_shape --seed 0
# This script prints the program's values on the engine; it does not compare them (no trace shows this failure); compare with torch's, below
# conformance reproducer: focus op 'sort', dtype float64, engine conformance.engines.peers.tinygrad:TinygradAdapter
import json
import numpy as np
import os, sys
sys.path.insert(0, os.getcwd())  # run from where the adapter imports
from conformance.engines.peers.tinygrad import TinygradAdapter
A = TinygradAdapter()
v0 = A.leaf(np.array([[[1.0, -1.0, 2.0, -2.0], [3.0, -3.0, 0.5, -0.5]], [[1.5, -1.5, 2.5, -2.5], [0.25, -0.25, 0.75, -0.75]], [[1.25, -1.25, 1.75, -1.75], [2.25, -2.25, 2.75, -2.75]]], dtype=np.float64), 'float64', True)
v1 = A.apply('sort', [v0], {'dim': -2, 'descending': False})
cot = np.array([[[1.75, -1.75, 0.125, -0.125], [0.375, -0.375, 0.625, -0.625]], [[0.875, -0.875, 1.125, -1.125], [1.375, -1.375, 1.625, -1.625]], [[1.875, -1.875, 0.0625, -0.0625], [0.03125, -0.03125, 0.015625, -0.015625]]], dtype=np.float64)
A.backward(v1, None if cot is None else A.leaf(cot, 'float64', False))
leaves = {'v0': v0}
res = {'output': A.to_numpy(v1).tolist(),
       'grads': {k: None if A.grad_of(t) is None else A.grad_of(t).tolist() for k, t in leaves.items()}}
print('RESULT', json.dumps(res))

# The same program on torch:
# # conformance reproducer: focus op 'sort', dtype float64, engine torch
# import json
# import numpy as np
# import torch as M
# v0 = M.tensor(np.array([[[1.0, -1.0, 2.0, -2.0], [3.0, -3.0, 0.5, -0.5]], [[1.5, -1.5, 2.5, -2.5], [0.25, -0.25, 0.75, -0.75]], [[1.25, -1.25, 1.75, -1.75], [2.25, -2.25, 2.75, -2.75]]], dtype=np.float64), dtype=M.float64, requires_grad=True)
# v1 = M.sort(v0, dim=-2, descending=False)[0]
# cot = np.array([[[1.75, -1.75, 0.125, -0.125], [0.375, -0.375, 0.625, -0.625]], [[0.875, -0.875, 1.125, -1.125], [1.375, -1.375, 1.625, -1.625]], [[1.875, -1.875, 0.0625, -0.0625], [0.03125, -0.03125, 0.015625, -0.015625]]], dtype=np.float64)
# v1.backward(None if cot is None else M.tensor(cot, dtype=M.float64))
# leaves = {'v0': v0}
# res = {'output': v1.detach().numpy().tolist(),
#        'grads': {k: None if t.grad is None else t.grad.numpy().tolist() for k, t in leaves.items()}}
# print('RESULT', json.dumps(res))
