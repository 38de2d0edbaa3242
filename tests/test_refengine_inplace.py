"""In-place ops and the version counter (issue 2 item 8)."""
import numpy as np
import pytest

import refengine as re


@pytest.mark.parametrize("op,expected", [("add_", 3.0), ("sub_", -1.0), ("mul_", 2.0), ("div_", 0.5)])
def test_inplace_ops_change_the_buffer_and_bump_the_version(op, expected):
    x = re.tensor([1.0])
    alias = x.detach()
    assert getattr(x, op)(2.0) is x
    assert x.item() == expected and alias.item() == expected
    assert x._version_value == 1


def test_zero_and_fill():
    x = re.tensor([1.0, 2.0])
    assert x.fill_(7).tolist() == [7.0, 7.0]
    assert x.zero_().tolist() == [0.0, 0.0]


def test_inplace_on_leaf_requiring_grad_raises_outside_no_grad():
    w = re.tensor([1.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        w.add_(1.0)
    with re.no_grad():
        w.sub_(0.5)  # the optimizer-step pattern
    assert w.item() == 0.5


def test_backward_after_saved_input_modified_raises():
    w = re.tensor([2.0], requires_grad=True)
    x = re.tensor([3.0])
    y = w * x  # saves x
    x.mul_(2)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.backward()


def test_backward_after_saved_output_modified_raises():
    w = re.tensor([0.5], requires_grad=True)
    y = w.exp()  # saves its output
    y.add_(1)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()


def test_inplace_on_non_leaf_rebases_history():
    w = re.tensor([2.0], requires_grad=True)
    y = w * 3
    y.mul_(w)  # y = 3w * w
    assert y.grad_fn.name() == "MulBackward0"
    y.backward()
    assert w.grad.item() == pytest.approx(12.0)


def test_inplace_broadcast_mismatch_is_a_clear_error():
    x = re.tensor([1.0, 2.0])
    with pytest.raises(RuntimeError, match="doesn't match the broadcast shape"):
        x.add_(np.ones((3, 2)))


def test_sgd_step_with_grad_zeroing():
    w = re.tensor([1.0, -1.0], requires_grad=True)
    for _ in range(3):
        loss = (w * w).sum()
        loss.backward()
        with re.no_grad():
            w.sub_(w.grad * 0.25)
        w.grad.zero_()
    np.testing.assert_allclose(w.data, [0.125, -0.125])
