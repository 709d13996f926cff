"""Three wrong backward rules and what gradcheck says about each: the outputs shown in docs/testing.md.

Each rule is a custom :class:`microgradnp.Function` with one classic mistake:

1. ``SoftplusWrongScale``: a factor of 2 too many in softplus's derivative;
2. ``MatVecTransposed``: ``W @ grad`` where ``W.T @ grad`` belongs (the
   Jacobian transposed), in ``y = W x``;
3. ``AbsWrongBranch``: ``abs``'s derivative switching sign at ``x > 0.5``
   instead of at 0, so it is wrong only between 0 and 0.5.

Run: ``python examples/reading_a_failure.py``
"""

from __future__ import annotations

import numpy as np

import microgradnp as mg
from microgradnp.testing import GradcheckError, gradcheck


class SoftplusWrongScale(mg.Function):
    @staticmethod
    def forward(ctx, T):
        ctx.save_for_backward(T)
        return np.logaddexp(0, T)

    @staticmethod
    def backward(ctx, grad):
        (T,) = ctx.saved_arrays
        return 2 * grad / (1 + np.exp(-T))  # the 2 is the mistake


class MatVecTransposed(mg.Function):
    @staticmethod
    def forward(ctx, W, x):
        ctx.save_for_backward(W, x)
        return W @ x

    @staticmethod
    def backward(ctx, grad):
        W, x = ctx.saved_arrays
        return np.outer(grad, x), W @ grad  # W.T @ grad is right


class AbsWrongBranch(mg.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return np.abs(x)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_arrays
        return grad * np.where(x > 0.5, 1.0, -1.0)  # the branch belongs at 0


def cases():
    """``(title, function, inputs)`` for each mistake."""
    W = mg.tensor([[1.0, 2.0, 0.0], [0.5, -1.0, 1.0], [0.0, 3.0, 1.0]], requires_grad=True)
    return [
        ("a factor", SoftplusWrongScale.apply, mg.tensor([0.5, -1.0, 2.0], requires_grad=True)),
        ("a transposed Jacobian", MatVecTransposed.apply, (W, mg.tensor([1.0, -2.0, 0.5], requires_grad=True))),
        ("a wrong branch", AbsWrongBranch.apply, mg.tensor(np.linspace(-1.5, 1.5, 10), requires_grad=True)),
    ]


def main() -> int:
    for title, fn, inputs in cases():
        print(f"--- {title} ---")
        try:
            gradcheck(fn, inputs)
        except GradcheckError as exc:
            print(exc)
        else:  # pragma: no cover - each rule here is wrong
            print("gradcheck passed (it should not have)")
            return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
