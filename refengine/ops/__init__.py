"""The differentiable ops of refengine, one module per family, re-exported here
(and from there as ``refengine.NAME``)."""
from refengine.ops.arith import add, div, maximum, minimum, mul, neg, pow, sub, where
from refengine.ops.index import index
from refengine.ops.inplace import add_, div_, fill_, mul_, sub_, zero_
from refengine.ops.linalg import bmm, matmul, mm
from refengine.ops.misc import cast, clone, compare, eq, ge, gt, le, lt, ne, to
from refengine.ops.reduce import amax, amin, logsumexp, max, mean, min, prod, sum, var
from refengine.ops.shape import (cat, expand, flatten, permute, reshape, split, squeeze, stack, t_all,
                                 transpose, unsqueeze, view)
from refengine.ops.unary import abs, clamp, clip, cos, exp, log, relu, sigmoid, sin, sqrt, tanh
from refengine.ops.special import digamma, erf, erfc, lgamma, polygamma
from refengine.ops.trig import (acos, acosh, arccos, arccosh, arcsin, arcsinh, arctan, arctan2, arctanh, asin,
                                asinh, atan, atan2, atanh, cosh, hypot, sinh, tan)
from refengine.ops.explog import exp2, expm1, log1p, log2, log10, logaddexp, reciprocal, rsqrt, square, xlogy
from refengine.ops.rounding import ceil, fix, floor, fmod, remainder, round, sign, trunc
from refengine.ops.scan import cummax, cummin, cumprod, cumsum
from refengine.ops.sorting import argsort, kthvalue, median, msort, sort, topk
from refengine.ops.stats import std
from refengine.ops.norms import norm
from refengine.ops.layout import (broadcast_to, chunk, flip, movedim, moveaxis, narrow, repeat, roll, tile,
                                 unbind)
from refengine.ops.selection import gather, scatter_add, take_along_dim
from refengine.ops.indexed import index_add, index_select, masked_fill
from refengine.ops.products import (cross, diag, diagonal, dot, ger, mv, outer, trace, tril, triu,  # noqa: F401
                                   vdot)
from refengine.ops.contraction import einsum
from refengine.ops.decomp import _legacy_cholesky as cholesky, det, inv as inverse, slogdet
from refengine.nn.functional import log_softmax, softmax  # noqa: E402  (torch.softmax at top level)

_MODULES = {"arith", "index", "inplace", "linalg", "misc", "reduce", "shape", "unary", "common", "dtypes",
            "pointwise", "special", "trig", "explog", "rounding", "selection", "scan", "sorting", "stats", "norms",
            "layout", "indexed", "products", "contraction", "decomp", "spectral"}
__all__ = [name for name in dir() if not name.startswith("_") and name not in _MODULES]
