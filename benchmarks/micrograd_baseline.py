"""A pure-Python scalar autograd engine in the style of Karpathy's micrograd: the baseline the
graph-overhead benchmark compares refengine against (issue 3: refengine must be >= 5x faster).

Each ``Value`` holds one float, its gradient, its parents and a closure computing the local
backward; ``backward()`` orders the graph topologically (iteratively, so 10,000-op chains do
not hit the recursion limit) and runs the closures in reverse.  A vector of n elements is n
independent Values, which is what a scalar engine has to do.
"""
from __future__ import annotations

import math


class Value:
    __slots__ = ("data", "grad", "_prev", "_backward")

    def __init__(self, data, prev=()):
        self.data = float(data)
        self.grad = 0.0
        self._prev = prev
        self._backward = None

    def __add__(self, other):
        other = other if isinstance(other, Value) else Value(other)
        out = Value(self.data + other.data, (self, other))

        def _backward():
            self.grad += out.grad
            other.grad += out.grad
        out._backward = _backward
        return out

    __radd__ = __add__

    def __mul__(self, other):
        other = other if isinstance(other, Value) else Value(other)
        out = Value(self.data * other.data, (self, other))

        def _backward():
            self.grad += other.data * out.grad
            other.grad += self.data * out.grad
        out._backward = _backward
        return out

    __rmul__ = __mul__

    def tanh(self):
        t = math.tanh(self.data)
        out = Value(t, (self,))

        def _backward():
            self.grad += (1 - t * t) * out.grad
        out._backward = _backward
        return out

    def backward(self):
        order, seen, stack = [], set(), [(self, False)]
        while stack:
            v, done = stack.pop()
            if done:
                order.append(v)
                continue
            if id(v) in seen:
                continue
            seen.add(id(v))
            stack.append((v, True))
            stack.extend((p, False) for p in v._prev if id(p) not in seen)
        self.grad = 1.0
        for v in reversed(order):
            if v._backward is not None:
                v._backward()


def vector(values):
    """n independent scalar leaves."""
    return [Value(v) for v in values]


def total(values):
    """Sum of a list of Values as a chain of adds."""
    out = values[0]
    for v in values[1:]:
        out = out + v
    return out
