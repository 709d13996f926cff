"""Grad mode: no_grad / enable_grad per thread, as context managers and decorators."""

import threading

import numpy as np
import pytest

import microgradnp as mg


def test_no_grad_is_per_thread():
    x = mg.tensor([1.0], requires_grad=True)
    inside = threading.Event()
    release = threading.Event()
    seen = {}

    def worker():
        with mg.no_grad():
            inside.set()
            release.wait(5)
            seen["worker"] = (x * 2).requires_grad

    t = threading.Thread(target=worker)
    t.start()
    inside.wait(5)
    seen["main"] = (x * 2).requires_grad  # the other thread is inside no_grad right now
    release.set()
    t.join()
    assert seen == {"main": True, "worker": False}


def test_no_grad_and_enable_grad_as_decorators_and_nested():
    x = mg.tensor([1.0], requires_grad=True)

    @mg.no_grad()
    def f():
        with mg.enable_grad():
            inner = (x * 2).requires_grad
        return inner, (x * 2).requires_grad

    assert f() == (True, False)
    assert mg.is_grad_enabled()
    assert (x * 2).requires_grad


def test_nested_modes_and_exceptions_never_leak_into_another_thread():
    # While a worker sits inside no_grad, the main thread nests, re-enables and
    # raises through the modes; the worker must stay off and the main thread end on.
    inside, release, seen = threading.Event(), threading.Event(), {}

    def worker():
        with mg.no_grad():
            inside.set()
            release.wait()
            seen["worker records"] = (mg.tensor(1.0, requires_grad=True) * 2.0).requires_grad

    thread = threading.Thread(target=worker)
    thread.start()
    inside.wait()
    x = mg.tensor(1.0, requires_grad=True)
    with mg.no_grad():
        with mg.no_grad():
            with mg.enable_grad():
                assert (x * 2.0).requires_grad
        try:
            with mg.enable_grad():
                raise ValueError
        except ValueError:
            pass
        assert not (x * 2.0).requires_grad
    assert (x * 2.0).requires_grad and mg.is_grad_enabled()
    release.set()
    thread.join()
    assert seen["worker records"] is False


def test_bare_decorators_work_as_in_pytorch():
    x = mg.tensor([1.0], requires_grad=True)

    @mg.no_grad
    def off():
        return (x * 2).requires_grad

    @mg.enable_grad
    def on():
        return (x * 2).requires_grad

    assert off() is False and off.__name__ == "off"
    with mg.no_grad():
        assert on() is True
    assert mg.is_grad_enabled()


def test_set_grad_enabled_as_a_plain_call_switches_the_mode():
    try:
        mg.set_grad_enabled(False)
        assert not mg.is_grad_enabled()
        assert not (mg.tensor([1.0], requires_grad=True) * 2).requires_grad
        mg.set_grad_enabled(True)
        assert mg.is_grad_enabled()
    finally:
        mg.set_grad_enabled(True)


def test_set_grad_enabled_as_context_and_decorator_restores_the_mode():
    with mg.set_grad_enabled(False):
        assert not mg.is_grad_enabled()
    assert mg.is_grad_enabled()

    @mg.set_grad_enabled(False)
    def f():
        return mg.is_grad_enabled()

    assert mg.is_grad_enabled()  # making the decorator changed nothing
    assert f() is False and mg.is_grad_enabled()
    with pytest.raises(TypeError, match="True or False"):
        mg.set_grad_enabled("no")


def test_no_grad_on_a_generator_holds_only_while_it_runs():
    x = mg.tensor([1.0], requires_grad=True)

    @mg.no_grad()
    def gen():
        received = yield (x * 2).requires_grad
        try:
            yield received, mg.is_grad_enabled()
        except KeyError:
            yield "caught", mg.is_grad_enabled()
        return "done"

    g = gen()
    assert next(g) is False
    assert mg.is_grad_enabled()  # the caller records between resumptions
    assert g.send("hello") == ("hello", False)
    assert g.throw(KeyError("k")) == ("caught", False)
    with pytest.raises(StopIteration) as stop:
        next(g)
    assert stop.value.value == "done" and mg.is_grad_enabled()
    assert list(gen())[0] is False  # iterating as usual


# ---------------------------------------------------------------------------
# detect_anomaly
# ---------------------------------------------------------------------------


def test_detect_anomaly_names_the_first_op_that_makes_a_nan_and_the_users_line():
    x = mg.tensor([1.0, -1.0], requires_grad=True)
    y = x * 2.0
    with mg.detect_anomaly(), np.errstate(invalid="ignore"):
        with pytest.raises(mg.AnomalyError) as info:
            z = mg.sqrt(y - 1.0)  # the line named
            z.sum()
    err = info.value
    assert err.op == "sqrt" and err.phase == "forward"
    assert "test_mode.py" in err.where and "z = mg.sqrt(y - 1.0)" in err.where
    assert "sqrt produced nan in the forward pass (1 of 2 values), from inputs of shape (2,)" in str(err)
    assert np.isnan(err.tensor.data[1])


def test_detect_anomaly_in_the_backward_pass_names_the_op_whose_vjp_failed():
    x = mg.tensor([0.0, 4.0], requires_grad=True)
    with mg.detect_anomaly():
        y = mg.sqrt(x)  # finite forward, infinite derivative at 0
        loss = (y * 3.0).sum()
        with pytest.raises(mg.AnomalyError) as info, np.errstate(divide="ignore"):
            loss.backward()
    err = info.value
    assert err.op == "sqrt" and err.phase == "backward" and "y = mg.sqrt(x)" in err.where
    assert "the backward pass of sqrt produced inf in the gradient of its input 0" in str(err)


def test_without_detect_anomaly_nothing_is_checked_and_the_flag_is_per_call():
    x = mg.tensor([-1.0], requires_grad=True)
    with np.errstate(invalid="ignore"):
        assert np.isnan(mg.log(x).item())  # no error outside

        @mg.detect_anomaly()
        def f(v):
            return mg.log(v)

        with pytest.raises(mg.AnomalyError):
            f(x)
        assert np.isnan(mg.log(x).item())  # off again after the decorated call
