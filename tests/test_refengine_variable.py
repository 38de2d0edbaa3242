"""Variable construction and attributes (issue 2, items 3 and 10)."""
import numpy as np
import pytest

import refengine as re
from refengine import Variable


def test_from_array_list_and_scalar_with_numpy_default_dtypes():
    assert Variable(np.ones((2, 3), np.float32)).dtype == np.float32
    assert Variable([[1.0, 2.0]]).dtype == np.float64
    assert Variable(2.5).shape == () and Variable(2.5).dtype == np.float64
    assert Variable([1, 2]).dtype.kind == "i"
    assert re.Tensor is Variable


def test_tensor_copies_but_variable_wraps():
    arr = np.zeros(3)
    assert re.tensor(arr).data is not arr
    re.tensor(arr).data[0] = 1
    assert arr[0] == 0


def test_attributes_of_a_fresh_leaf():
    x = Variable(np.arange(6.0).reshape(2, 3), requires_grad=True)
    assert x.is_leaf and x.grad_fn is None and x.grad is None
    assert x.shape == (2, 3) and x.ndim == 2 and x.numel() == 6
    assert x.requires_grad
    assert x.detach().numpy() is x.data
    assert Variable(3.0).item() == 3.0


def test_requires_grad_defaults_false_and_is_settable_on_leaves():
    x = Variable([1.0])
    assert not x.requires_grad
    assert x.requires_grad_() is x and x.requires_grad
    y = x * 2
    with pytest.raises(RuntimeError, match="only change requires_grad flags of leaf variables"):
        y.requires_grad = False


def test_numpy_refuses_when_requires_grad_like_torch():
    with pytest.raises(RuntimeError, match="detach"):
        re.tensor([1.0], requires_grad=True).numpy()


@pytest.mark.parametrize("data", [np.array([1, 2]), np.array([True, False])])
def test_integer_or_bool_data_cannot_require_grad(data):
    with pytest.raises(RuntimeError, match="floating point"):
        Variable(data, requires_grad=True)


@pytest.mark.parametrize("data", [np.array(["a"]), np.array([1 + 2j]), np.array([None], dtype=object),
                                  np.ones(2, np.longdouble)])
def test_unsupported_dtypes_raise_type_error_naming_the_dtype(data):
    with pytest.raises(TypeError, match=str(data.dtype)):
        Variable(data)


def test_ragged_nested_list_raises_type_error():
    with pytest.raises(TypeError, match="could not convert"):
        Variable([[1.0], [1.0, 2.0]])


def test_item_of_multi_element_raises():
    with pytest.raises(RuntimeError, match="cannot be converted to Scalar"):
        Variable([1.0, 2.0]).item()


def test_non_native_byte_order_is_converted():
    x = Variable(np.arange(3.0).astype(">f8"))
    assert x.data.dtype.isnative and x.data.tolist() == [0.0, 1.0, 2.0]
