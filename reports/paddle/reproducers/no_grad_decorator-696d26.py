# property 'no_grad_decorator' (@no_grad() on a function disables tracking inside it only.) failed: inside a @no_grad() function: v1 (cumsum) has grad_fn 'GradNodeAccumulation'
# replay: conformance run --engine conformance.engines.peers.paddle:PaddleAdapter  --properties no_grad_decorator --seed 0
# This script prints the program's values on the engine; it does not compare them (no trace shows this failure); compare with torch's, below
# conformance reproducer: focus op 'cumsum', dtype float64, engine conformance.engines.peers.paddle:PaddleAdapter
import json
import numpy as np
import os, sys
sys.path.insert(0, os.getcwd())  # run from where the adapter imports
from conformance.engines.peers.paddle import PaddleAdapter
A = PaddleAdapter()
v0 = A.leaf(np.array(1.0, dtype=np.float64), 'float64', True)
v1 = A.apply('cumsum', [v0], {'dim': 0})
cot = np.array(1.75, dtype=np.float64)
A.backward(v1, None if cot is None else A.leaf(cot, 'float64', False))
leaves = {'v0': v0}
res = {'output': A.to_numpy(v1).tolist(),
       'grads': {k: None if A.grad_of(t) is None else A.grad_of(t).tolist() for k, t in leaves.items()}}
print('RESULT', json.dumps(res))

# The same program on torch:
# # conformance reproducer: focus op 'cumsum', dtype float64, engine torch
# import json
# import numpy as np
# import torch as M
# v0 = M.tensor(np.array(1.0, dtype=np.float64), dtype=M.float64, requires_grad=True)
# v1 = M.cumsum(v0, dim=0)
# cot = np.array(1.75, dtype=np.float64)
# v1.backward(None if cot is None else M.tensor(cot, dtype=M.float64))
# leaves = {'v0': v0}
# res = {'output': v1.detach().numpy().tolist(),
#        'grads': {k: None if t.grad is None else t.grad.numpy().tolist() for k, t in leaves.items()}}
# print('RESULT', json.dumps(res))
