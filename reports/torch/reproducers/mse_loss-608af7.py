# property 'jvp_of_grad' (Forward-over-reverse: the forward-mode tangent of the gradient (H u) equals the numerical Hessian-vector product.) failed: RuntimeError: ZeroTensors are immutable. Please use the materialized zero tensor obtained using .clone() if you want a mutable tensor.
# replay: conformance run --engine torch --ops mse_loss --properties jvp_of_grad --seed 0
# This script prints the program's values on the engine; it does not compare them (no trace shows this failure); compare with torch's, below
# conformance reproducer: focus op 'mse_loss', dtype float64, engine torch
import json
import numpy as np
import torch as M
v0 = M.tensor(np.array(1.0, dtype=np.float64), dtype=M.float64, requires_grad=True)
v1 = M.tensor(np.array(-0.5, dtype=np.float64), dtype=M.float64, requires_grad=False)
v2 = M.nn.functional.mse_loss(v0, v1, reduction='mean')
cot = np.array(-0.625, dtype=np.float64)
v2.backward(None if cot is None else M.tensor(cot, dtype=M.float64))
leaves = {'v0': v0, 'v1': v1}
res = {'output': v2.detach().numpy().tolist(),
       'grads': {k: None if t.grad is None else t.grad.numpy().tolist() for k, t in leaves.items()}}
print('RESULT', json.dumps(res))

# The same program on torch:
# # conformance reproducer: focus op 'mse_loss', dtype float64, engine torch
# import json
# import numpy as np
# import torch as M
# v0 = M.tensor(np.array(1.0, dtype=np.float64), dtype=M.float64, requires_grad=True)
# v1 = M.tensor(np.array(-0.5, dtype=np.float64), dtype=M.float64, requires_grad=False)
# v2 = M.nn.functional.mse_loss(v0, v1, reduction='mean')
# cot = np.array(-0.625, dtype=np.float64)
# v2.backward(None if cot is None else M.tensor(cot, dtype=M.float64))
# leaves = {'v0': v0, 'v1': v1}
# res = {'output': v2.detach().numpy().tolist(),
#        'grads': {k: None if t.grad is None else t.grad.numpy().tolist() for k, t in leaves.items()}}
# print('RESULT', json.dumps(res))
