"""Implicit differentiation: the derivative of a solver's answer from the equation it solves, not its iterations.

``fixed_point(f, x0, params)`` finds ``x* = f(x*, params)`` by iterating
``f``; its gradient comes from the implicit function theorem: with
``u = g + (df/dx)^T u`` (the adjoint fixed point, solved by the same
iteration in reverse), the gradient in ``params`` is ``(df/dparams)^T u``.
No iteration is recorded, so memory does not grow with their number (a
deep-equilibrium layer's backward pass).  Built on :func:`custom_vjp`, so
``grad``, ``backward`` and ``mg.grad`` use it, and its rule is written with
microgradnp operations (differentiable again).
"""

from __future__ import annotations

import numpy as np

from .._mode import no_grad
from .._tensor import Tensor, _make
from ._custom import custom_vjp
from ._reverse import vjp

__all__ = ["fixed_point"]


def _iterate(step, start, tol: float, max_iter: int, what: str):
    """``x <- step(x)`` from ``start`` until it moves less than ``tol`` (relative); the fixed point, a Tensor."""
    x = start
    for _ in range(max_iter):
        new = step(x)
        moved = float(np.max(np.abs(new._data - x._data), initial=0.0))
        x = new
        if moved <= tol * (1.0 + float(np.max(np.abs(x._data), initial=0.0))):
            return x
    raise RuntimeError(f"fixed_point: {what} did not converge in {max_iter} iterations (tolerance {tol:g}); "
                       "raise max_iter, or check that the map is a contraction near its fixed point")


def fixed_point(f, x0, params, tol: float = 1e-12, max_iter: int = 10_000) -> Tensor:
    """The fixed point ``x* = f(x*, params)`` reached by iterating from ``x0``, differentiable in ``params``.

    ``f(x, params)`` is written with microgradnp operations and is a
    contraction near ``x*``.  The gradient is implicit: the backward pass
    solves the adjoint fixed point ``u = g + (df/dx)^T u`` at ``x*`` instead
    of going back through the iterations (JAX's ``fixed_point`` recipe).

    Examples
    --------
    >>> import numpy as np
    >>> import microgradnp as mg
    >>> from microgradnp.func import fixed_point, grad
    >>> a = mg.tensor(0.5)
    >>> x = fixed_point(lambda x, a: a * mg.cos(x), mg.tensor(0.0), a)   # x = a cos x
    >>> round(x.item(), 6)
    0.450184
    >>> g = grad(lambda a: fixed_point(lambda x, a: a * mg.cos(x), mg.tensor(0.0), a))(a)
    >>> bool(abs(g.item() - np.cos(x.item()) / (1 + 0.5 * np.sin(x.item()))) < 1e-10)
    True
    """
    start = x0 if isinstance(x0, Tensor) else _make(np.asarray(x0, dtype=float))

    @custom_vjp
    def solve(params):
        with no_grad():
            return _iterate(lambda x: f(x, params), start.detach(), tol, max_iter, "the forward iteration")

    def fwd(params):
        x = solve.fun(params)
        return x, (x, params)

    def bwd(residuals, g):
        x, params = residuals
        _, pull_x = vjp(lambda x: f(x, params), x)
        u = _iterate(lambda u: g + pull_x(u)[0], g if isinstance(g, Tensor) else _make(np.asarray(g)), tol,
                     max_iter, "the adjoint iteration of the backward pass")
        _, pull_params = vjp(lambda p: f(x, p), params)
        return pull_params(u)

    solve.defvjp(fwd, bwd)
    return solve(params)
