"""Grad modes (issue 2 item 7)."""
import threading

import pytest

import refengine as re


def test_no_grad_results_have_no_graph():
    x = re.tensor([1.0], requires_grad=True)
    with re.no_grad():
        y = x * 2
        assert not re.is_grad_enabled()
    assert re.is_grad_enabled()
    assert not y.requires_grad and y.grad_fn is None


def test_enable_grad_inside_no_grad():
    x = re.tensor([1.0], requires_grad=True)
    with re.no_grad():
        with re.enable_grad():
            y = x * 2
        z = x * 2
    assert y.requires_grad and not z.requires_grad


def test_no_grad_as_decorator():
    @re.no_grad()
    def f(x):
        return x * 2

    assert not f(re.tensor([1.0], requires_grad=True)).requires_grad
    assert re.is_grad_enabled()


def test_set_grad_enabled_as_call_and_as_context():
    re.set_grad_enabled(False)
    try:
        assert not re.is_grad_enabled()
    finally:
        re.set_grad_enabled(True)
    with re.set_grad_enabled(False):
        assert not re.is_grad_enabled()
    assert re.is_grad_enabled()
    with pytest.raises(TypeError):
        re.set_grad_enabled("no")


@pytest.mark.parametrize("ctx", [re.no_grad, re.enable_grad, lambda: re.set_grad_enabled(False)])
def test_mode_restored_after_exception(ctx):
    with pytest.raises(ValueError):
        with ctx():
            raise ValueError
    assert re.is_grad_enabled()

    @re.no_grad()
    def boom():
        raise ValueError

    with pytest.raises(ValueError):
        boom()
    assert re.is_grad_enabled()


def test_grad_mode_is_thread_local():
    seen = {}
    ready, release = threading.Event(), threading.Event()

    def other():
        seen["start"] = re.is_grad_enabled()
        ready.set()
        release.wait(5)
        seen["later"] = re.is_grad_enabled()

    with re.no_grad():
        t = threading.Thread(target=other)
        t.start()
        ready.wait(5)
        release.set()
        t.join(5)
    assert seen == {"start": True, "later": True}


def test_backward_of_separate_graphs_in_threads():
    errors, results = [], {}

    def work(k):
        try:
            for _ in range(50):
                x = re.tensor([float(k)], requires_grad=True)
                (x * x * k).sum().backward()
                results[k] = x.grad.item()
                assert results[k] == pytest.approx(2 * k * k)
        except Exception as e:  # noqa: BLE001  (collected and re-raised below)
            errors.append(e)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(1, 5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and results == {k: 2.0 * k * k for k in range(1, 5)}
