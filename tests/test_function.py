"""Custom Functions (PyTorch style): gradients, composition, and clear errors for wrong backward results."""

import numpy as np
import pytest

import microgradnp as mg
from microgradnp.testing import gradcheck


class _WrongShape(mg.Function):
    @staticmethod
    def forward(ctx, x):
        return x * 2

    @staticmethod
    def backward(ctx, grad):
        return np.ones(7)


def test_a_wrong_shaped_gradient_is_caught_and_named():
    x = mg.tensor(np.ones((2, 3)), requires_grad=True)
    with pytest.raises(ValueError, match=r"_WrongShape.*\(7,\).*\(2, 3\)"):
        _WrongShape.apply(x).sum().backward()


class _Square(mg.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_arrays
        return 2 * x * grad


class _ScaledAdd(mg.Function):
    """a * k + b with a non-tensor argument k."""

    @staticmethod
    def forward(ctx, a, k, b):
        ctx.k = k
        return a * k + b

    @staticmethod
    def backward(ctx, grad):
        return grad * ctx.k, None, grad


def test_custom_function_matches_finite_differences():
    x = mg.tensor([0.5, -1.0, 2.0], requires_grad=True)
    assert gradcheck(lambda x: _Square.apply(x), x)
    a = mg.tensor([[1.0, 2.0]], requires_grad=True)
    b = mg.tensor([[3.0], [4.0]], requires_grad=True)  # broadcasting is undone for the user
    assert gradcheck(lambda a, b: _ScaledAdd.apply(a, 3.0, b), (a, b))


def test_custom_function_composes_with_ops_and_needs_input_grad():
    seen = {}

    class Probe(mg.Function):
        @staticmethod
        def forward(ctx, a, b):
            seen["needs"] = ctx.needs_input_grad
            return a + b

        @staticmethod
        def backward(ctx, grad):
            return grad, grad

    a = mg.tensor([1.0], requires_grad=True)
    Probe.apply(a, mg.tensor([2.0])).sum().backward()
    assert seen["needs"] == (True, False)
    assert a.grad == 1.0


def test_custom_function_returning_the_wrong_number_of_gradients():
    class Bad(mg.Function):
        @staticmethod
        def forward(ctx, a, b):
            return a + b

        @staticmethod
        def backward(ctx, grad):
            return grad

    with pytest.raises(ValueError, match="1 gradient.*2 forward input"):
        Bad.apply(mg.tensor([1.0], requires_grad=True), mg.tensor([1.0], requires_grad=True)).sum().backward()


def test_second_order_through_a_custom_function_raises_clearly():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    (g,) = mg.grad(_Square.apply(x).sum(), x, create_graph=True)
    np.testing.assert_array_equal(g.data, [2.0, 4.0])
    with pytest.raises(RuntimeError, match="_Square.backward runs on NumPy arrays"):
        g.sum().backward()
