"""Grad mode: no_grad / enable_grad per thread, as context managers and decorators."""

import threading

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
