# property 'integer_reduction' (A reduction of an int64, int32 or bool tensor returns torch's dtype (sum of int32 or bool: int64) and exactly torch's values, or raises where torch raises (mean of an integer tensor).) failed: logsumexp returned shape (1,) for inputs of shape () and params {'dim': 0, 'keepdim': True}; expected () (numpy reference of logsumexp)
# replay: conformance run --engine conformance.engines.peers.hips_autograd:AutogradAdapter --ops logsumexp --properties integer_reduction --seed 0
# conformance reproducer: logsumexp(int64) on conformance.engines.peers.hips_autograd:AutogradAdapter; exits 1 while its answer differs from torch's
import os, sys
import numpy as np
sys.path.insert(0, os.getcwd())  # run from where the adapter imports
from conformance.engines import resolve

def answer(spec):
    A = resolve(spec)
    try:
        return build(A)
    except Exception as e:  # raising is an answer too (torch: integer tensors cannot require grad)
        return 'raises ' + type(e).__name__

def build(A):
    xs = [A.integer_leaf(np.array(-3).astype('int64'), 'int64', False)]
    y = A.apply('logsumexp', xs, {'dim': 0, 'keepdim': True})
    return A.dtype_of(y)

engine = sys.argv[1] if len(sys.argv) > 1 else 'conformance.engines.peers.hips_autograd:AutogradAdapter'  # `python SCRIPT torch`: torch against itself
got, want = answer(engine), answer('torch')
same = got == want or (got.startswith('raises') and want.startswith('raises'))
print('OK' if same else 'DIFFERS', '| engine:', got, '| torch:', want)
sys.exit(0 if same else 1)
