# property 'accumulation' (Gradients accumulate in .grad across backward calls.) failed: grads accumulate across backward calls: v0[0, 0]: got 2.6e-07, expected 2.5e-07 (abs err 7.5e-09 > tol 1.3e-12, oracle rule-repeat; 2 of 2 elements out of tolerance)
# replay: conformance run --engine conformance.engines.peers.tinygrad:TinygradAdapter  --properties accumulation --seed 0
# This script prints the program's values on the engine; it does not compare them (no trace shows this failure); compare with torch's, below
# conformance reproducer: focus op 'batch_norm', dtype float32, engine conformance.engines.peers.tinygrad:TinygradAdapter
import json
import numpy as np
import os, sys
sys.path.insert(0, os.getcwd())  # run from where the adapter imports
from conformance.engines.peers.tinygrad import TinygradAdapter
A = TinygradAdapter()
v0 = A.leaf(np.array([[6.983300685882568], [-9.415279388427734]], dtype=np.float32), 'float32', True)
v1 = A.leaf(np.array(0.25, dtype=np.float32), 'float32', False)
v2 = A.apply('mul', [v0, v1], {})
v3 = A.leaf(np.array([-1.625], dtype=np.float32), 'float32', True)
v4 = A.leaf(np.array([-1.3658599853515625], dtype=np.float32), 'float32', False)
v5 = A.leaf(np.array(2.0, dtype=np.float32), 'float32', False)
v6 = A.apply('mul', [v4, v5], {})
v7 = A.apply('batch_norm', [v2, v3, v6], {})
v8 = A.apply('tanh', [v7], {})
cot = np.array([[-0.08533310890197754], [1.5103836059570312]], dtype=np.float32)
A.backward(v8, None if cot is None else A.leaf(cot, 'float32', False))
leaves = {'v0': v0, 'v1': v1, 'v3': v3, 'v4': v4, 'v5': v5}
res = {'output': A.to_numpy(v8).tolist(),
       'grads': {k: None if A.grad_of(t) is None else A.grad_of(t).tolist() for k, t in leaves.items()}}
print('RESULT', json.dumps(res))

# The same program on torch:
# # conformance reproducer: focus op 'batch_norm', dtype float32, engine torch
# import json
# import numpy as np
# import torch as M
# v0 = M.tensor(np.array([[6.983300685882568], [-9.415279388427734]], dtype=np.float32), dtype=M.float32, requires_grad=True)
# v1 = M.tensor(np.array(0.25, dtype=np.float32), dtype=M.float32, requires_grad=False)
# v2 = M.mul(v0, v1)
# v3 = M.tensor(np.array([-1.625], dtype=np.float32), dtype=M.float32, requires_grad=True)
# v4 = M.tensor(np.array([-1.3658599853515625], dtype=np.float32), dtype=M.float32, requires_grad=False)
# v5 = M.tensor(np.array(2.0, dtype=np.float32), dtype=M.float32, requires_grad=False)
# v6 = M.mul(v4, v5)
# v7 = M.nn.functional.batch_norm(v2, None, None, v3, v6, training=True)
# v8 = M.tanh(v7)
# cot = np.array([[-0.08533310890197754], [1.5103836059570312]], dtype=np.float32)
# v8.backward(None if cot is None else M.tensor(cot, dtype=M.float32))
# leaves = {'v0': v0, 'v1': v1, 'v3': v3, 'v4': v4, 'v5': v5}
# res = {'output': v8.detach().numpy().tolist(),
#        'grads': {k: None if t.grad is None else t.grad.numpy().tolist() for k, t in leaves.items()}}
# print('RESULT', json.dumps(res))
