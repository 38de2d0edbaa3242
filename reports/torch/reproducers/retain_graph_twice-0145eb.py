# corpus replay: conformance replay corpus/stack.retain_graph_twice.float64.torch.a31a25f00456.json --engine torch
# property 'retain_graph_twice' (Two retained backwards accumulate identical grads; inputs, cotangent not mutated; no aliasing.) failed: second retained backward must add the same grads: v0: got 3, expected 2 (abs err 1 > tol 4e-12, oracle rule-repeat); v1: got 3, expected 2 (abs err 1 > tol 4e-12, oracle rule-repeat)
# replay: conformance run --engine torch --ops stack --properties retain_graph_twice --seed 6
# This script prints the program's values on the engine; it does not compare them (no trace shows this failure); compare with torch's, below
# conformance reproducer: focus op 'stack', dtype float64, engine torch
import json
import numpy as np
import torch as M
v0 = M.tensor(np.array(0.8217701315879822, dtype=np.float64), dtype=M.float64, requires_grad=True)
v1 = M.tensor(np.array(-1.381279706954956, dtype=np.float64), dtype=M.float64, requires_grad=True)
v2 = M.stack([v0, v1], 0)
v3 = M.sum(v2, dim=None, keepdim=False)
cot = None
v3.backward(None if cot is None else M.tensor(cot, dtype=M.float64))
leaves = {'v0': v0, 'v1': v1}
res = {'output': v3.detach().numpy().tolist(),
       'grads': {k: None if t.grad is None else t.grad.numpy().tolist() for k, t in leaves.items()}}
print('RESULT', json.dumps(res))

# The same program on torch:
# # conformance reproducer: focus op 'stack', dtype float64, engine torch
# import json
# import numpy as np
# import torch as M
# v0 = M.tensor(np.array(0.8217701315879822, dtype=np.float64), dtype=M.float64, requires_grad=True)
# v1 = M.tensor(np.array(-1.381279706954956, dtype=np.float64), dtype=M.float64, requires_grad=True)
# v2 = M.stack([v0, v1], 0)
# v3 = M.sum(v2, dim=None, keepdim=False)
# cot = None
# v3.backward(None if cot is None else M.tensor(cot, dtype=M.float64))
# leaves = {'v0': v0, 'v1': v1}
# res = {'output': v3.detach().numpy().tolist(),
#        'grads': {k: None if t.grad is None else t.grad.numpy().tolist() for k, t in leaves.items()}}
# print('RESULT', json.dumps(res))
