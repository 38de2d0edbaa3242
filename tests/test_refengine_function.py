"""Custom Functions, ctx and graph inspection (issue 2 item 5)."""
import numpy as np
import pytest

import refengine as re
from refengine import Function


class Cube(Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x * x

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * 3 * x * x


def test_custom_function_forward_backward_and_second_order():
    x = re.tensor([2.0, -1.0], requires_grad=True)
    y = Cube.apply(x)
    assert y.grad_fn.name() == "CubeBackward"
    np.testing.assert_allclose(y.data, x.data ** 3)
    (g,) = re.autograd.grad(y.sum(), x, create_graph=True)
    np.testing.assert_allclose(g.data, 3 * x.data ** 2)
    g.sum().backward()
    np.testing.assert_allclose(x.grad.data, 6 * x.data)


def test_forward_runs_without_recording_and_sees_detached_inputs():
    seen = {}

    class Probe(Function):
        @staticmethod
        def forward(ctx, x):
            seen["requires_grad"] = x.requires_grad
            seen["grad_enabled"] = re.is_grad_enabled()
            return x * 2

        @staticmethod
        def backward(ctx, g):
            return g * 2

    Probe.apply(re.tensor([1.0], requires_grad=True))
    assert seen == {"requires_grad": False, "grad_enabled": False}


def test_saved_tensors_raise_once_freed():
    x = re.tensor([2.0], requires_grad=True)
    y = Cube.apply(x)
    y.backward()
    with pytest.raises(RuntimeError, match="retain_graph=True"):
        y.grad_fn.saved_tensors


def test_needs_input_grad():
    got = {}

    class Mul(Function):
        @staticmethod
        def forward(ctx, a, b, scale):
            got["needs"] = ctx.needs_input_grad
            return a * b * scale

        @staticmethod
        def backward(ctx, g):
            return None, None, None

    Mul.apply(re.tensor([1.0], requires_grad=True), re.tensor([2.0]), 3.0)
    assert got["needs"] == (True, False, False)


def test_mark_non_differentiable():
    class ArgSort(Function):
        @staticmethod
        def forward(ctx, x):
            idx = re.tensor(np.argsort(x.data).astype(np.float64))
            ctx.mark_non_differentiable(idx)
            return x * 1, idx

        @staticmethod
        def backward(ctx, g, g_idx):
            return g

    x = re.tensor([3.0, 1.0], requires_grad=True)
    val, idx = ArgSort.apply(x)
    assert val.requires_grad and not idx.requires_grad and idx.grad_fn is None


def test_builtin_node_names_and_next_functions_follow_torch():
    w, a = re.tensor([2.0], requires_grad=True), re.tensor([3.0], requires_grad=True)
    c = re.tensor([1.0])
    out = w * a + c
    assert out.grad_fn.name() == "AddBackward0"
    (mul, _), (none, _) = out.grad_fn.next_functions
    assert mul.name() == "MulBackward0" and none is None
    (acc_w, _), (acc_a, _) = mul.next_functions
    assert acc_w.name() == "AccumulateGrad" and acc_w.variable is w and acc_a.variable is a
    assert (w * 2).grad_fn.next_functions[0][0] is acc_w  # one AccumulateGrad per leaf


def test_custom_function_wrong_gradient_shape_is_a_clear_error():
    class Bad(Function):
        @staticmethod
        def forward(ctx, x):
            return x * 1

        @staticmethod
        def backward(ctx, g):
            return re.tensor(np.ones(5))

    x = re.tensor(np.ones((2, 3)), requires_grad=True)
    with pytest.raises(RuntimeError, match=r"invalid gradient at index 0 - got \[5\] but expected shape compatible with \[2, 3\]"):
        Bad.apply(x).sum().backward()


def test_custom_function_broadcastable_gradient_is_summed_like_torch():
    class Wide(Function):
        @staticmethod
        def forward(ctx, x):
            return x * 1

        @staticmethod
        def backward(ctx, g):
            return re.tensor(np.ones((4, 3)))

    x = re.tensor(np.ones((1, 3)), requires_grad=True)
    Wide.apply(x).sum().backward()
    np.testing.assert_allclose(x.grad.data, 4.0)


def test_wrong_number_of_gradients_is_a_clear_error():
    class Two(Function):
        @staticmethod
        def forward(ctx, a, b):
            return a + b

        @staticmethod
        def backward(ctx, g):
            return g

    with pytest.raises(RuntimeError, match="incorrect number of gradients"):
        Two.apply(re.tensor([1.0], requires_grad=True), re.tensor([1.0], requires_grad=True)).backward()


def test_ctx_free_attributes_after_the_empty_dict_is_dropped():
    class Scale(re.Function):
        @staticmethod
        def forward(ctx, x, k):
            ctx.k = k
            return x * k

        @staticmethod
        def backward(ctx, g):
            return g * ctx.k, None

    x = re.tensor([1.0, 2.0], requires_grad=True)
    y = Scale.apply(x, 3.0)
    assert y.grad_fn.__dict__ == {"k": 3.0} and y.grad_fn.k == 3.0
    y.sum().backward()
    assert x.grad.tolist() == [3.0, 3.0]
    node = (x * 2.0).grad_fn
    assert node.__dict__ == {} and vars(node) == {}
    with pytest.raises(AttributeError):
        node.missing
    node.extra = 5
    assert node.extra == 5 and node.__dict__ == {"extra": 5}
