# property 'promotion' (An op on operands of mixed dtypes (float32, float64, int64 tensors, Python floats and ints) returns torch's result dtype and values, and each leaf's gradient has the leaf's dtype.) failed: cat of float32 with int64 returned float64; torch returns float32: cat(float32, int64)
# replay: conformance run --engine conformance.engines.peers.mygrad:MyGradAdapter --ops cat --properties promotion --seed 0
# This script prints the program's values on the engine; it does not compare them (no trace shows this failure); compare with torch's, below
# conformance reproducer: cat(float32, int64) on conformance.engines.peers.mygrad:MyGradAdapter; exits 1 while its answer differs from torch's
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
    xs = [A.leaf(np.array([1.0]), 'float32', True), A.integer_leaf(np.array([-3.0]).astype('int64'), 'int64', False)]
    y = A.apply('cat', xs, {'dim': 0})
    return A.dtype_of(y)

engine = sys.argv[1] if len(sys.argv) > 1 else 'conformance.engines.peers.mygrad:MyGradAdapter'  # `python SCRIPT torch`: torch against itself
got, want = answer(engine), answer('torch')
same = got == want or (got.startswith('raises') and want.startswith('raises'))
print('OK' if same else 'DIFFERS', '| engine:', got, '| torch:', want)
sys.exit(0 if same else 1)

# The same program on torch:
# # conformance reproducer: cat(float32, int64) on torch; exits 1 while its answer differs from torch's
# import os, sys
# import numpy as np
# sys.path.insert(0, os.getcwd())  # run from where the adapter imports
# from conformance.engines import resolve
# 
# def answer(spec):
#     A = resolve(spec)
#     try:
#         return build(A)
#     except Exception as e:  # raising is an answer too (torch: integer tensors cannot require grad)
#         return 'raises ' + type(e).__name__
# 
# def build(A):
#     xs = [A.leaf(np.array([1.0]), 'float32', True), A.integer_leaf(np.array([-3.0]).astype('int64'), 'int64', False)]
#     y = A.apply('cat', xs, {'dim': 0})
#     return A.dtype_of(y)
# 
# engine = sys.argv[1] if len(sys.argv) > 1 else 'torch'  # `python SCRIPT torch`: torch against itself
# got, want = answer(engine), answer('torch')
# same = got == want or (got.startswith('raises') and want.startswith('raises'))
# print('OK' if same else 'DIFFERS', '| engine:', got, '| torch:', want)
# sys.exit(0 if same else 1)
