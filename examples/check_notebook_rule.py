"""gradcheck on a real hand-derived backprop rule: the 2-2-2 network of the first seed notebook.

The notebook trains a 2-2-2 sigmoid network (no biases) with per-example SGD on
the squared loss ``L = 1/2 * sum((t - o)^2)`` and writes the backward pass by
hand::

    output_errors = targets - final_outputs
    hidden_errors = W_ho.T @ output_errors                      # <- here
    delta_ho = (output_errors * o * (1 - o)) @ h.T
    delta_ih = (hidden_errors * h * (1 - h)) @ x.T
    W_ho += lr * delta_ho;  W_ih += lr * delta_ih

``-delta_ho`` is the exact gradient for ``W_ho``, but ``hidden_errors`` passes
the raw output error back without the output sigmoid's derivative
``o * (1 - o)``, so ``-delta_ih`` is not the gradient for ``W_ih``.

This script writes that rule as a custom :class:`microgradnp.Function` and
lets :func:`microgradnp.testing.gradcheck` judge it (it is rejected, and the
report points at ``W_ih``), then checks the same loss written with
microgradnp operations, whose gradient comes from autodiff (accepted).

Run: ``python examples/check_notebook_rule.py``
"""

from __future__ import annotations

import argparse

import numpy as np
from scipy.special import expit

import microgradnp as mg
from microgradnp.testing import GradcheckError, gradcheck


class NotebookRule(mg.Function):
    """The 2-2-2 network's squared loss with the notebook's hand-written backward pass."""

    @staticmethod
    def forward(ctx, W_ih, W_ho, x, t):
        h = expit(W_ih @ x)
        o = expit(W_ho @ h)
        ctx.save_for_backward(W_ho, x, t, h, o)
        return 0.5 * np.sum((t - o) ** 2)

    @staticmethod
    def backward(ctx, grad):
        W_ho, x, t, h, o = ctx.saved_arrays
        output_errors = t - o
        hidden_errors = W_ho.T @ output_errors  # the notebook's line: no o * (1 - o)
        delta_ho = (output_errors * o * (1 - o)) @ h.T
        delta_ih = (hidden_errors * h * (1 - h)) @ x.T
        # The notebook adds lr * delta, i.e. it steps along -delta: its implied
        # gradient is -delta.  x and t are data, not parameters.
        return -grad * delta_ih, -grad * delta_ho, None, None


def notebook_loss(W_ih, W_ho, x, t):
    """The loss with the notebook's backward pass."""
    return NotebookRule.apply(W_ih, W_ho, x, t)


def autograd_loss(W_ih, W_ho, x, t):
    """The same loss written with microgradnp operations: autodiff gives its gradient."""
    o = mg.sigmoid(W_ho @ mg.sigmoid(W_ih @ x))
    return 0.5 * ((t - o) ** 2).sum()


def setup(seed: int = 104729):
    """Weights drawn as the notebook draws them (N(0, 1/sqrt(2))), one example of each class."""
    rng = np.random.RandomState(seed)
    W_ih = mg.tensor(rng.normal(0.0, 1 / np.sqrt(2), size=(2, 2)), requires_grad=True, name="W_ih")
    W_ho = mg.tensor(rng.normal(0.0, 1 / np.sqrt(2), size=(2, 2)), requires_grad=True, name="W_ho")
    x = np.array([[0.6], [1.2]])  # a point of the class centred at [0, 0]
    t = np.array([[0.99], [0.01]])  # the notebook's target for that class
    return W_ih, W_ho, x, t


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=104729, help="seed of the weight draw")
    args = parser.parse_args(argv)
    W_ih, W_ho, x, t = setup(args.seed)

    print("1. The notebook's hand-derived rule, as a custom mg.Function:")
    try:
        gradcheck(notebook_loss, (W_ih, W_ho, x, t))
        print("   gradcheck passed (unexpected)")
        verdict_rule = True
    except GradcheckError as err:
        print("   gradcheck rejected it:\n")
        print("\n".join("   " + line for line in str(err).splitlines()))
        verdict_rule = False

    print("\n2. The same loss written with microgradnp operations (gradient by autodiff):")
    verdict_autograd = gradcheck(autograd_loss, (W_ih, W_ho, x, t))
    print("   gradcheck passed" if verdict_autograd else "   gradcheck failed")

    exact = mg.grad(autograd_loss(W_ih, W_ho, x, t), [W_ih, W_ho])
    print("\n   exact gradient of W_ih:", np.array2string(exact[0].data.ravel(), precision=6))
    rule = NotebookRule.backward(_ctx(W_ih, W_ho, x, t), 1.0)
    print("   notebook rule for W_ih:", np.array2string(rule[0].ravel(), precision=6))
    print("   (W_ho agrees: the rule is exact for the output layer)")
    return 0 if (verdict_autograd and not verdict_rule) else 1


def _ctx(W_ih, W_ho, x, t):
    ctx = mg.FunctionCtx((True, True, False, False))
    NotebookRule.forward(ctx, W_ih.data, W_ho.data, x, t)
    return ctx


if __name__ == "__main__":
    raise SystemExit(main())
