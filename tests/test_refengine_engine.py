"""The backward engine (issue 2 item 6)."""
import numpy as np
import pytest

import refengine as re


def test_long_chain_needs_no_recursion():
    x = re.tensor(1.0, requires_grad=True)
    y = x
    for _ in range(100_000):
        y = y * 1.0 + 0.0
    y.backward()
    assert x.grad.item() == 1.0


def test_each_node_runs_once_after_all_its_consumers():
    calls = []

    class Count(re.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 1

        @staticmethod
        def backward(ctx, g):
            calls.append(g.data.copy())
            return g

    x = re.tensor([1.0], requires_grad=True)
    h = Count.apply(x)
    (h * 2 + h * 3 + h).backward()
    assert len(calls) == 1 and calls[0].tolist() == [6.0]


def test_second_backward_raises_then_retain_graph_accumulates():
    x = re.tensor([2.0], requires_grad=True)
    y = (x * x).sum()
    y.backward(retain_graph=True)
    y.backward()
    assert x.grad.item() == pytest.approx(8.0)
    with pytest.raises(RuntimeError, match="Specify retain_graph=True"):
        y.backward()


def test_graph_with_nothing_saved_may_run_again():
    x = re.tensor([2.0], requires_grad=True)
    y = (x + 1).sum()
    y.backward()
    y.backward()
    assert x.grad.item() == 2.0


def test_implicit_gradient_only_for_single_element_outputs():
    x = re.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="implicitly created only for scalar outputs"):
        (x * 2).backward()
    (x * 2).backward(np.array([1.0, -1.0]))
    assert x.grad.tolist() == [2.0, -2.0]
    (x[:1] * 2).backward()  # one element, not 0-d: still implicit
    assert x.grad.tolist() == [4.0, -2.0]


def test_backward_on_something_that_does_not_require_grad_raises():
    with pytest.raises(RuntimeError, match="does not require grad"):
        re.tensor([1.0]).sum().backward()


def test_gradient_shape_mismatch_is_a_clear_error():
    x = re.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match=r"Mismatch in shape: grad_output\[0\] has a shape of \[3\]"):
        (x * 2).backward(np.ones(3))


def test_create_graph_gives_higher_derivatives():
    x = re.tensor([0.7, -1.3], requires_grad=True)
    y = (x.sin() * x).sum()
    (g,) = re.grad(y, x, create_graph=True)
    np.testing.assert_allclose(g.data, np.cos(x.data) * x.data + np.sin(x.data))
    (h,) = re.grad(g.sum(), x, create_graph=True)
    np.testing.assert_allclose(h.data, -np.sin(x.data) * x.data + 2 * np.cos(x.data))
    (t,) = re.grad(h.sum(), x)
    np.testing.assert_allclose(t.data, -np.cos(x.data) * x.data - 3 * np.sin(x.data))


def test_grad_does_not_touch_dot_grad_and_handles_unused_inputs():
    x, y = re.tensor([1.0], requires_grad=True), re.tensor([2.0], requires_grad=True)
    out = (x * 3).sum()
    with pytest.raises(RuntimeError, match="allow_unused=True"):
        re.grad(out, [x, y], retain_graph=True)
    gx, gy = re.grad(out, [x, y], allow_unused=True)
    assert gx.item() == 3.0 and gy is None and x.grad is None


def test_grad_of_an_intermediate():
    x = re.tensor([2.0], requires_grad=True)
    mid = x * x
    (g,) = re.grad((mid * 5).sum(), mid)
    assert g.item() == 5.0


def test_hooks_see_and_may_replace_gradients():
    x = re.tensor([1.0, 2.0], requires_grad=True)
    mid = x * 2
    seen = []
    mid.register_hook(lambda g: seen.append(g.data.copy()))
    x.register_hook(lambda g: g * 10)
    (mid * 3).sum().backward()
    assert seen[0].tolist() == [3.0, 3.0]
    assert x.grad.tolist() == [60.0, 60.0]


def test_hook_handle_remove():
    x = re.tensor([1.0], requires_grad=True)
    h = x.register_hook(lambda g: g * 10)
    h.remove()
    (x * 1).backward()
    assert x.grad.item() == 1.0


def test_hook_returning_wrong_shape_is_a_clear_error():
    x = re.tensor([1.0, 2.0], requires_grad=True)
    x.register_hook(lambda g: re.tensor([1.0, 2.0, 3.0]))
    with pytest.raises(RuntimeError, match="hook .* has changed the size of value"):
        (x * 1).sum().backward()


def test_create_graph_through_grad_accumulation():
    x = re.tensor([3.0], requires_grad=True)
    (x * x * x).backward(create_graph=True)
    g = x.grad
    assert g.requires_grad and g.item() == 27.0
    x.grad = None
    g.backward()
    assert x.grad.item() == pytest.approx(18.0)


def test_nested_backward_through_nodes_the_outer_run_is_using():
    """A backward run inside a Function's backward, over nodes the outer run has counted and not
    run yet: each run keeps its own consumer counts and gradient sums for them."""
    x = re.tensor([1.0, 2.0], requires_grad=True)
    h = x * 2.0  # shared by both runs
    inner = []

    class Nested(re.Function):
        @staticmethod
        def forward(ctx, a):
            return a * 1.0

        @staticmethod
        def backward(ctx, g):
            with re.enable_grad():  # as torch's checkpointing does: backward runs without grad mode
                (h * 3.0).sum().backward(retain_graph=True)
            inner.append(x.grad.tolist())
            return g * 5.0

    (Nested.apply(h) + h).sum().backward(retain_graph=True)
    assert inner == [[6.0, 6.0]]
    assert x.grad.tolist() == [6.0 + 10.0 + 2.0] * 2
    x.grad = None
    (Nested.apply(h) + h).sum().backward()  # and again on the retained graph
    assert x.grad.tolist() == [18.0, 18.0]


def test_concurrent_backward_runs_over_one_graph_in_two_threads():
    import threading

    x = re.tensor([1.0, 3.0], requires_grad=True)
    h = x * x
    both_running = threading.Barrier(2, timeout=10)

    def wait_for_the_other(g):
        both_running.wait()  # each run is inside the shared graph when the other runs
        return g

    results, errors = {}, []

    def work(k):
        try:
            y = h * float(k) + h
            y.register_hook(wait_for_the_other)
            results[k] = re.autograd.grad(y.sum(), x, retain_graph=True)[0].tolist()
        except Exception as e:  # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=work, args=(k,)) for k in (2, 5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert results == {2: [6.0, 18.0], 5: [12.0, 36.0]}
