"""The Variable rules of issue 2 item 4: contagion, volatile, leaf-only grad, accumulation."""
import warnings

import numpy as np
import pytest

import refengine as re
from refengine import Variable


def leaf(values, **kw):
    return re.tensor(np.asarray(values, dtype=kw.pop("dtype", np.float64)), requires_grad=True, **kw)


def test_requires_grad_is_contagious():
    a, b = leaf([1.0]), re.tensor([2.0])
    assert (a * b).requires_grad and (b * a).requires_grad
    assert not (b * b).requires_grad and (b * b).grad_fn is None


def test_volatile_is_contagious_and_overrides_requires_grad():
    a = leaf([1.0])
    v = Variable([2.0], volatile=True)
    out = a * v
    assert out.volatile and not out.requires_grad and out.grad_fn is None
    assert (out + a).volatile
    both = Variable([1.0], requires_grad=True, volatile=True)
    assert (both * 2).grad_fn is None


def test_only_leaves_that_require_grad_get_grad():
    a, frozen = leaf([1.0, 2.0]), re.tensor([3.0, 4.0])
    mid = a * frozen
    (mid * mid).sum().backward()
    np.testing.assert_allclose(a.grad.data, 2 * a.data * frozen.data ** 2)
    assert frozen.grad is None
    with pytest.warns(UserWarning, match="not a leaf"):
        assert mid.grad is None


def test_retain_grad_keeps_an_intermediate_gradient():
    a = leaf([1.0, 2.0])
    mid = a * 3
    mid.retain_grad()
    (mid * mid).sum().backward()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        np.testing.assert_allclose(mid.grad.data, 2 * mid.data)


def test_retain_grad_called_after_backward_does_not_fill_grad():
    a = leaf([1.0])
    mid = a * 3
    (mid * 1).sum().backward()
    mid.retain_grad()
    assert mid.grad is None


def test_gradients_accumulate_across_backward_calls():
    a = leaf([1.0, -2.0])
    (a * a).sum().backward()
    (a * a).sum().backward()
    np.testing.assert_allclose(a.grad.data, 4 * a.data)


def test_gradients_from_several_paths_are_summed():
    a = leaf([3.0])
    b = a * 2
    (b * a + b + a).sum().backward()  # d/da (2a^2 + 2a + a) = 4a + 3
    assert a.grad.item() == pytest.approx(15.0)


def test_same_value_as_both_operands():
    a = leaf([3.0])
    (a * a).backward()
    assert a.grad.item() == pytest.approx(6.0)
    b = leaf([2.0])
    c = b + 0
    (c * c).backward()
    assert b.grad.item() == pytest.approx(4.0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_grad_has_leaf_dtype_and_shape(dtype):
    a = leaf(np.ones((2, 1)), dtype=dtype)
    b = re.tensor(np.ones((3,)))  # float64 partner: result promotes, the grad must not
    (a * b).sum().backward()
    assert a.grad.dtype == dtype and a.grad.shape == (2, 1)
    np.testing.assert_allclose(a.grad.data, 3.0)


def test_grad_does_not_alias_between_leaves_or_with_the_cotangent():
    a, b = leaf([1.0, 2.0]), leaf([3.0, 4.0])
    cot = np.ones(2)
    (a + b).backward(cot)
    a.grad.data[0] = 100.0
    assert b.grad.data[0] == 1.0 and cot[0] == 1.0


def test_detach_cuts_gradient_flow():
    a = leaf([2.0])
    d = (a * a).detach()
    assert d.is_leaf and not d.requires_grad
    (a * d).backward()
    assert a.grad.item() == pytest.approx(4.0)  # d is a constant 4


def test_detach_in_place():
    a = leaf([2.0])
    b = a * a
    b.detach_()
    assert b.is_leaf and not b.requires_grad


def test_grad_aliases_nothing_when_the_engine_hands_its_gradient_to_a_leaf():
    """The engine gives a leaf the gradient array itself (no copy) only when nothing else holds it:
    one array sent to two leaves, a seed the caller holds, a matmul gradient and in-place
    accumulation on a second backward all leave every .grad independent."""
    a, b = leaf([1.0, 2.0]), leaf([3.0, 4.0])
    (a + b).sum().backward()                    # Add's backward sends one array to both inputs
    a.grad.data[0] = 100.0
    assert b.grad.data[0] == 1.0
    m, w = leaf(np.ones((2, 3))), leaf(np.ones((3, 2)))
    cot = np.ones((2, 2))
    (m @ w).backward(cot)
    m.grad.data[...] = 7.0
    w.grad.data[...] = 7.0
    assert (cot == 1.0).all()
    x = leaf([1.0, 2.0])
    (x * 2.0).sum().backward()
    first = x.grad.data
    y = x * 3.0
    y.sum().backward()                          # accumulates into the first .grad's buffer
    np.testing.assert_array_equal(x.grad.data, [5.0, 5.0])
    assert first is x.grad.data
    assert not np.shares_memory(x.grad.data, x.data)
