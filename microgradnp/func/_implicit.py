"""Implicit differentiation: the derivative of a solver's answer from the equation it solves, not its iterations.

``fixed_point(f, x0, params)`` finds ``x* = f(x*, params)`` by iterating
``f``; its gradient comes from the implicit function theorem: with
``u = g + (df/dx)^T u`` (the adjoint fixed point, solved by the same
iteration in reverse), the gradient in ``params`` is ``(df/dparams)^T u``.
No iteration is recorded, so memory does not grow with their number (a
deep-equilibrium layer's backward pass).  Built on :func:`custom_vjp`, so
``grad``, ``backward`` and ``mg.grad`` use it.  The gradients are first
order: the rules hold the solution fixed, so a second derivative through
them (``create_graph``, ``grad(grad(...))``, ``hessian``) would miss the
solution's own dependence on the parameters; it raises instead, naming the
solver (a ``gradgradcheck`` found the missing terms).
"""

from __future__ import annotations

import numpy as np

from .. import _mode as _modes
from .._mode import TransformError, no_grad
from .._tensor import Tensor, _make
from ..engine import apply
from ..ops.registry import Op
from ._custom import custom_vjp
from ._reverse import vjp

__all__ = ["fixed_point", "root", "linear_solve", "argmin"]


def _supported(name: str, *values) -> None:
    """Reverse mode (``backward``, ``mg.grad``, ``grad``, ``vjp``, ``jacrev``) is what these solvers support.

    Inside ``vmap`` or forward mode (``jvp``, ``jacfwd``, ``hessian``) the
    solver would run on one example's values, or its rule would be
    transposed through a loop that reads values: refused by name.  Inside
    ``mg.compile`` the solve is Python a replay cannot repeat: the step runs
    eagerly (with the usual warning).
    """
    if any(getattr(v, "_trace", None) is not None for v in _leaves(values)):
        raise TransformError(f"{name} inside vmap or forward mode (jvp, jacfwd, hessian) is not supported: its solver "
                             "runs on values in Python. Use reverse mode (grad, vjp, jacrev, backward); for several "
                             "examples, call it in a Python loop")
    if _modes.tracing:
        _modes.note_unreplayable(name, "runs a solver in Python: a replay would keep the traced call's answer")


def _leaves(values) -> list:
    from ._tree import flatten

    return flatten(list(values))[0]


def _second_derivative(ns, g, out, inputs, attrs, needs):
    raise TransformError(
        f"{attrs['solver']}: its gradient is first order only (the implicit rule holds the solution fixed, so "
        "differentiating the gradient again would miss the solution's own dependence on the parameters). "
        "Second derivatives (create_graph=True, grad of grad, hessian) through it are not supported; "
        "differentiate an unrolled solver for them")


_FIRST_ORDER = Op("first_order_gradient", lambda xp, g, solver: xp.asarray(g).copy(), vjp_all=_second_derivative,
                  formula="a solver's implicit gradient: not differentiable again")


def _first_order(grads, solver: str) -> tuple:
    """``grads`` as they are, recorded (when they are) by a node that refuses to be differentiated."""
    return tuple(g if g is None else apply(_FIRST_ORDER, (g,), {"solver": solver}) for g in grads)


def _keeping_solution(solve):
    """The ``fwd`` of a solver's rule: the solution, kept for ``bwd`` with the parameters (the last argument)."""
    def fwd(*args):
        x = solve.fun(*args)
        return x, (x, args[-1])
    return fwd


def _named(custom, label: str) -> None:
    """The op's name, as a drawing labels its node: the solver and its settings (``custom_vjp(root, hybr)``)."""
    custom.fun.__name__ = label
    custom.__name__ = label


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
    _supported("fixed_point", x0, params)
    start = x0 if isinstance(x0, Tensor) else _make(np.asarray(x0, dtype=float))

    @custom_vjp
    def solve(params):
        with no_grad():
            return _iterate(lambda x: f(x, params), start.detach(), tol, max_iter, "the forward iteration")

    def bwd(residuals, g):
        x, params = residuals
        _, pull_x = vjp(lambda x: f(x, params), x)
        u = _iterate(lambda u: g + pull_x(u)[0], g if isinstance(g, Tensor) else _make(np.asarray(g)), tol,
                     max_iter, "the adjoint iteration of the backward pass")
        _, pull_params = vjp(lambda p: f(x, p), params)
        return _first_order(pull_params(u), "fixed_point")

    _named(solve, f"fixed_point, tol={tol:g}")
    solve.defvjp(_keeping_solution(solve), bwd)
    return solve(params)


def root(f, x0, params, method: str = "hybr", tol: float | None = None) -> Tensor:
    """The ``x`` where ``f(x, params) = 0`` from ``scipy.optimize.root`` (from ``x0``), differentiable in ``params``.

    The gradient is implicit: at the root, ``df/dx dx + df/dparams dparams = 0``,
    so the backward pass solves ``(df/dx)^T u = -g`` (a dense Jacobian of
    ``x``'s size, by reverse mode) and returns ``(df/dparams)^T u``.  An
    unsuccessful solve raises with SciPy's message.

    Examples
    --------
    >>> import numpy as np
    >>> import microgradnp as mg
    >>> from microgradnp.func import grad, root
    >>> c = mg.tensor(2.0)
    >>> round(root(lambda x, c: x ** 3 - c, mg.tensor(1.0), c).item(), 10)   # the cube root of 2
    1.25992105
    >>> g = grad(lambda c: root(lambda x, c: x ** 3 - c, mg.tensor(1.0), c))(c)
    >>> bool(abs(g.item() - 1 / (3 * 2.0 ** (2 / 3))) < 1e-10)
    True
    """
    import scipy.optimize

    _supported("root", x0, params)
    start = x0 if isinstance(x0, Tensor) else _make(np.asarray(x0, dtype=float))

    def forward(fixed):
        def residual(z):
            return np.asarray(f(_make(z.reshape(start.shape)), fixed)._data, dtype=float).ravel()

        found = scipy.optimize.root(residual, start._data.ravel().astype(float), method=method, tol=tol)
        if not found.success:
            raise RuntimeError(f"root: scipy.optimize.root ({method}) did not find a root: {found.message}")
        return found.x

    label = f"root, {method}" + (f", tol={tol:g}" if tol is not None else "")
    return _implicit_root(f, forward, start, params, label)


def argmin(g, x0, params, method: str = "BFGS", tol: float | None = 1e-10) -> Tensor:
    """The ``x`` minimizing ``g(x, params)`` (a scalar) from ``scipy.optimize.minimize``, differentiable in ``params``.

    The gradient goes through the optimality condition ``d g / dx = 0``: the
    backward pass solves ``H u = -v`` with ``g``'s Hessian in ``x`` (dense,
    by reverse over reverse) and returns ``(d^2 g / dx dparams)^T u``.  The
    minimizer must be strict (``H`` invertible) and reached: an unsuccessful
    SciPy run raises with its message.  The gradient is as exact as the
    minimizer: ``tol`` (SciPy's, 1e-10 here against SciPy's own 1e-5)
    bounds both.

    Examples
    --------
    >>> import numpy as np
    >>> import microgradnp as mg
    >>> from microgradnp.func import argmin, grad
    >>> g = lambda x, p: ((x - p) ** 2).sum() + 0.5 * (x ** 4).sum()     # a strictly convex inner problem
    >>> p = mg.tensor([1.0, -2.0])
    >>> x = argmin(g, mg.zeros(2), p)
    >>> bool(np.allclose(2 * (x.data - p.data) + 2 * x.data ** 3, 0, atol=1e-8))
    True
    """
    import scipy.optimize

    from ._reverse import grad

    _supported("argmin", x0, params)
    start = x0 if isinstance(x0, Tensor) else _make(np.asarray(x0, dtype=float))
    gradient = grad(g)  # in x

    def forward(fixed):
        def value_and_gradient(z):
            x = _make(z.reshape(start.shape))
            return float(g(x, fixed).item()), np.asarray(gradient(x, fixed)._data, dtype=float).ravel()

        found = scipy.optimize.minimize(value_and_gradient, start._data.ravel().astype(float), jac=True,
                                        method=method, tol=tol)
        # A line search that stops on rounding ("precision loss") at a point where the gradient is already at
        # rounding level has found the minimizer: the optimality condition itself is the test.
        jac = getattr(found, "jac", None)
        stationary = jac is not None and np.max(np.abs(jac), initial=0.0) <= 1e-8 * (1.0 + abs(found.fun))
        if not (found.success or stationary):
            raise RuntimeError(f"argmin: scipy.optimize.minimize ({method}) did not converge: {found.message}")
        return found.x

    label = f"argmin, {method}" + (f", tol={tol:g}" if tol is not None else "")
    return _implicit_root(lambda x, p: gradient(x, p), forward, start, params, label)


def _implicit_root(f, forward, start: Tensor, params, label: str) -> Tensor:
    """The ``x`` with ``f(x, params) = 0`` that ``forward(params)`` finds (flat), differentiated implicitly:
    ``(df/dx)^T u = -g`` (a dense Jacobian by reverse mode, solved by ``mg.linalg.solve``), then
    ``(df/dparams)^T u``, first order (see the module docstring)."""
    from ..linalg import solve as _solve
    from ._reverse import jacrev

    shape = start.shape

    @custom_vjp
    def solve(params):
        with no_grad():
            fixed = params.detach() if isinstance(params, Tensor) else params
            return _make(np.asarray(forward(fixed)).reshape(shape).astype(start.dtype))

    def bwd(residuals, g):
        x, params = residuals
        n = max(x.size, 1)
        J = jacrev(lambda x: f(x, params).reshape(-1))(x).reshape(n, n)  # df/dx at the root
        u = _solve(J.T, -g.reshape(n)).reshape(shape)
        _, pull_params = vjp(lambda p: f(x, p), params)
        return _first_order(pull_params(u), label.split(",")[0])

    _named(solve, label)
    solve.defvjp(_keeping_solution(solve), bwd)
    return solve(params)


def linear_solve(matvec, b, params, method: str = "cg", tol: float = 1e-12) -> Tensor:
    """``x`` with ``A(params) x = b`` for an operator given by ``matvec(v, params)`` (SciPy's CG or GMRES).

    ``matvec`` is written with microgradnp operations and never built as a
    matrix.  The gradient is implicit: ``u`` solves ``A^T u = g`` (the same
    solver; for GMRES ``A^T`` is ``matvec``'s VJP), the gradient in ``b`` is
    ``u`` and in ``params`` ``-(d(A x)/dparams)^T u``.  ``"cg"`` needs a
    symmetric positive-definite ``A``.  The backward solve runs in SciPy, so
    this gradient is not differentiated again.

    Examples
    --------
    >>> import numpy as np
    >>> import microgradnp as mg
    >>> from microgradnp.func import grad, linear_solve
    >>> A = np.array([[4.0, 1.0], [1.0, 3.0]])
    >>> matvec = lambda v, s: s * (v @ A)                    # A(s) = s A
    >>> s, b = mg.tensor(2.0), mg.tensor([1.0, 2.0])
    >>> np.round(linear_solve(matvec, b, s).data, 6)
    array([0.045455, 0.318182])
    >>> g = grad(lambda s: linear_solve(matvec, b, s).sum())(s)
    >>> bool(abs(g.item() + np.linalg.solve(A, [1.0, 2.0]).sum() / 4) < 1e-10)
    True
    """
    import scipy.sparse.linalg as sla

    if method not in ("cg", "gmres"):
        raise ValueError(f"linear_solve: method must be 'cg' or 'gmres', got {method!r}")
    _supported("linear_solve", b, params)
    solver = sla.cg if method == "cg" else sla.gmres

    def scipy_solve(apply, rhs):
        n = rhs.size
        operator = sla.LinearOperator((n, n), matvec=lambda v: apply(np.asarray(v, dtype=float)).ravel(),
                                      dtype=float)
        x, info = solver(operator, rhs.ravel().astype(float), rtol=tol, atol=0.0)
        if info != 0:
            raise RuntimeError(f"linear_solve: scipy's {method} did not converge (info={info}); check that the "
                               f"operator is {'symmetric positive-definite' if method == 'cg' else 'invertible'}")
        return x.reshape(rhs.shape)

    def forward_operator(params):
        fixed = params.detach() if isinstance(params, Tensor) else params
        return lambda v: np.asarray(matvec(_make(v.reshape(b_shape)), fixed)._data)

    b_shape = np.shape(b.data if isinstance(b, Tensor) else b)

    @custom_vjp
    def solve(b, params):
        with no_grad():
            rhs = b._data if isinstance(b, Tensor) else np.asarray(b, dtype=float)
            return _make(scipy_solve(forward_operator(params), rhs))

    def bwd(residuals, g):
        x, params = residuals
        garr = g._data if isinstance(g, Tensor) else np.asarray(g)
        if method == "cg":  # symmetric: A^T = A
            u = _make(scipy_solve(forward_operator(params), garr))
        else:
            _, pull_v = vjp(lambda v: matvec(v, params), x)
            with no_grad():
                u = _make(scipy_solve(lambda w: np.asarray(pull_v(_make(w.reshape(b_shape)))[0]._data), garr))
        _, pull_params = vjp(lambda p: matvec(x, p), params)
        (gp,) = pull_params(u)
        return _first_order((u, -gp), "linear_solve")

    _named(solve, f"linear_solve, {method}, tol={tol:g}")
    solve.defvjp(_keeping_solution(solve), bwd)
    return solve(b, params)
