"""The differentiable ops of refengine, one module per family, re-exported here."""
from refengine.ops.arith import add, div, mul, neg, pow, sub
from refengine.ops.index import index
from refengine.ops.inplace import add_, div_, fill_, mul_, sub_, zero_
from refengine.ops.linalg import matmul
from refengine.ops.misc import cast, clone, compare, to
from refengine.ops.reduce import mean, sum
from refengine.ops.shape import expand, reshape, t_all, transpose, view
from refengine.ops.unary import abs, cos, exp, log, sin, sqrt, tanh

__all__ = [name for name in dir() if not name.startswith("_") and name not in {"arith", "index_", "inplace", "linalg", "misc", "reduce", "shape", "unary", "common"}]
