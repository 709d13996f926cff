"""Implicit differentiation: the derivative of a solver's answer from the equation it solves, not its iterations.

Every solver here finds an ``x`` with ``F(x, params) = 0`` (a fixed point:
``F = f(x, params) - x``; a root: ``F = f``; a minimizer: ``F = dg/dx``; a
linear system: ``F = A(params) x - b``).  At the solution the implicit
function theorem gives the derivatives without going back through the
iterations, with ``A = dF/dx`` and ``B = dF/dparams`` at ``(x*, params)``:

* forward mode (``jvp``): ``dx = -A^{-1} (B dparams)``;
* reverse mode (``grad``, ``backward``): ``u = -A^{-T} g``, then ``B^T u``.

Each solve is one op of the registry's kind, made for the call (its name,
shown on a drawing, is the solver with its settings); its rules are written
with microgradnp operations at the solution ``x*``, which is the op's own
output: so a second derivative (``create_graph``, ``grad(grad(...))``,
``hessian``) follows the solution's dependence on the parameters through the
same rules again, and is exact.  The linear solve with ``A`` is a dense
``mg.linalg.solve`` for ``root`` and ``argmin`` (small ``x``), the matrix-free
:func:`linear_solve` for ``fixed_point`` (a deep-equilibrium layer's ``x`` is
large) and the user's ``tangent_solve`` for :func:`custom_root`; all three
are differentiable again.  ``vmap`` runs the solver once per example (a
solver decides in Python, on values).  No iteration is recorded, so memory
does not grow with their number.  Inside ``mg.compile`` the solve is Python a
replay cannot repeat: the step runs eagerly (with the usual warning).
"""

from __future__ import annotations

import numpy as np

from .. import _mode as _modes
from .._mode import enable_grad, no_grad
from .._tensor import Tensor, _make
from ..engine import TENSOR_NS, apply
from ..ops.registry import Op
from ._forward import jvp
from ._reverse import grad, jacrev, vjp
from ._tree import flatten, numpy_only, unflatten

__all__ = ["fixed_point", "root", "custom_root", "linear_solve", "argmin"]


def _as_tensor(x) -> Tensor:
    return x if isinstance(x, Tensor) else _make(np.asarray(x, dtype=float))


class _Problem:
    """One implicit solve: the equation ``residual(x, *leaves) = 0``, how it is solved, how ``A`` is inverted.

    ``find(start, leaves)`` returns the solution's array (run without
    recording); ``linear(x, leaves, rhs, transpose)`` solves ``A z = rhs``
    (``A^T z = rhs``) with microgradnp operations.
    """

    def __init__(self, label: str, residual, find, linear):
        self.residual, self.find, self.linear = residual, find, linear
        self.op = Op(label, _forward, vjp_all=_vjp, jvp=_jvp, batch=_per_example,
                     formula=f"{label}: the x with F(x, params) = 0, differentiated implicitly")

    def __call__(self, start, leaves) -> Tensor:
        if _modes.tracing:
            _modes.note_unreplayable(self.op.name.split(",")[0],
                                     "runs a solver in Python: a replay would keep the traced call's answer")
        return apply(self.op, (_as_tensor(start), *leaves), {"problem": self})


def _forward(xp, start, *leaves, problem):
    with no_grad():
        found = problem.find(_make(start), [_make(v) for v in leaves])
    return np.asarray(found, dtype=start.dtype).reshape(start.shape)


def _vjp(ns, g, out, inputs, attrs, needs):
    # u = -A^{-T} g, then B^T u.  Recorded (a second derivative, inside a transform): on the op's output
    # itself, so the rule's result depends on the parameters through the solution too.
    problem, record = attrs["problem"], ns is TENSOR_NS
    with enable_grad() if record else no_grad():
        x = out if record else _make(out)
        leaves = [_as_tensor(v) for v in inputs[1:]]
        u = problem.linear(x, leaves, -_as_tensor(g), True)
        _, pull = vjp(lambda *ls: problem.residual(x, *ls), *leaves)
        grads = pull(u)
    grads = grads if isinstance(grads, tuple) else (grads,)
    return [None] + [None if not need else gi if record else gi._data for need, gi in zip(needs[1:], grads)]


def _jvp(ns, tangents, out, start, *leaves, problem):
    # dx = -A^{-1} (B dparams); the starting point has no say in the solution.
    if all(t is None for t in tangents[1:]):
        return None
    leaves = [_as_tensor(v) for v in leaves]
    ts = tuple(t if t is not None else TENSOR_NS.zeros_like(v) for t, v in zip(tangents[1:], leaves))
    _, rhs = jvp(lambda *ls: problem.residual(out, *ls), tuple(leaves), ts)
    return problem.linear(out, leaves, -rhs, False)


def _per_example(ns, args, batched, size, problem):
    """Inside ``vmap``: the solver once per example (it decides on values), each differentiable as one."""
    return TENSOR_NS.stack([apply(problem.op, tuple(a[i] if b else a for a, b in zip(args, batched)),
                                  {"problem": problem}) for i in range(size)], axis=0)


def _start(x0) -> Tensor:
    return x0.detach() if isinstance(x0, Tensor) else _make(np.asarray(x0, dtype=float))


def _leaves(params) -> tuple[list, object]:
    leaves, spec = flatten(params)
    return [v if isinstance(v, Tensor) else _make(np.asarray(v, dtype=float)) for v in leaves], spec


# -- how A = dF/dx is inverted ------------------------------------------------------------------------------------


def _dense(residual):
    """``A`` built by reverse mode (``x``'s size squared) and solved by ``mg.linalg.solve``: exact, for small ``x``."""
    from ..linalg import solve

    def linear(x, leaves, rhs, transpose):
        n = max(x.size, 1)
        A = jacrev(lambda z: residual(z, *leaves).reshape(-1))(x).reshape(n, n)
        return solve(A.T if transpose else A, rhs.reshape(n)).reshape(x.shape)

    return linear


def _matrix_free(residual, method: str, tol: float, operator=None):
    """``A`` applied by forward mode (``A^T`` by reverse mode), solved by :func:`linear_solve`: never built.

    ``operator(transpose)``, where given, is ``A`` (or ``A^T``) as ``matvec(v, (x, *leaves))`` directly.
    """
    def default(transpose):
        if transpose:
            return lambda w, xl: vjp(lambda z: residual(z, *xl[1:]), xl[0])[1](w)[0]
        return lambda v, xl: jvp(lambda z: residual(z, *xl[1:]), (xl[0],), (v,))[1]

    def linear(x, leaves, rhs, transpose):
        return linear_solve((operator or default)(transpose), rhs, (x, *leaves), method=method, tol=tol)

    return linear


def _users(residual, tangent_solve):
    """``A`` as the linear function ``custom_root``'s ``tangent_solve(g, y)`` solves ``g(z) = y`` for."""
    def linear(x, leaves, rhs, transpose):
        if transpose:
            _, pull = vjp(lambda z: residual(z, *leaves), x)
            g = lambda w: pull(_as_tensor(w))[0]  # noqa: E731
        else:
            g = lambda v: jvp(lambda z: residual(z, *leaves), (x,), (_as_tensor(v),))[1]  # noqa: E731
        return _as_tensor(tangent_solve(g, rhs))

    return linear


# -- the solvers --------------------------------------------------------------------------------------------------


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
    contraction near ``x*``; ``params`` is a Tensor or a tuple, list or dict
    of them.  The derivatives are implicit (see the module): the backward
    pass solves ``(I - df/dx)^T u = g`` at ``x*`` by GMRES with ``f``'s VJP
    as the operator, instead of going back through the iterations (a
    deep-equilibrium layer's backward pass); ``jvp`` solves the untransposed
    system with ``f``'s JVP.  Differentiable again, batched by ``vmap`` one
    example at a time.

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
    numpy_only("fixed_point", x0, params)
    leaves, spec = _leaves(params)

    def residual(x, *ls):
        return f(x, unflatten(spec, ls)) - x

    def find(start, ls):
        p = unflatten(spec, ls)
        return _iterate(lambda x: f(x, p), start, tol, max_iter, "the forward iteration")._data

    label = f"fixed_point, tol={tol:g}"
    return _Problem(label, residual, find, _matrix_free(residual, "gmres", tol))(_start(x0), leaves)


def root(f, x0, params, method: str = "hybr", tol: float | None = None) -> Tensor:
    """The ``x`` where ``f(x, params) = 0`` from ``scipy.optimize.root`` (from ``x0``), differentiable in ``params``.

    The derivatives are implicit (see the module): at the root
    ``df/dx dx + df/dparams dparams = 0``, solved with the dense Jacobian
    ``df/dx`` (``x``'s size squared, by reverse mode).  Differentiable again,
    forward mode included; ``vmap`` runs SciPy once per example.  An
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
    numpy_only("root", x0, params)
    import scipy.optimize

    leaves, spec = _leaves(params)

    def residual(x, *ls):
        return f(x, unflatten(spec, ls))

    def find(start, ls):
        def flat(z):
            return np.asarray(residual(_make(z.reshape(start.shape)), *ls)._data, dtype=float).ravel()

        found = scipy.optimize.root(flat, start._data.ravel().astype(float), method=method, tol=tol)
        if not found.success:
            raise RuntimeError(f"root: scipy.optimize.root ({method}) did not find a root: {found.message}")
        return found.x

    label = f"root, {method}" + (f", tol={tol:g}" if tol is not None else "")
    return _Problem(label, residual, find, _dense(residual))(_start(x0), leaves)


def custom_root(f, initial_guess, solve, tangent_solve, params) -> Tensor:
    """The root of ``f(x, params)`` that your ``solve`` finds, differentiated with your ``tangent_solve`` (JAX's recipe).

    ``solve(g, initial_guess)`` returns an ``x`` with ``g(x) = 0`` for
    ``g = lambda x: f(x, params)`` (any method: Newton, bisection, a library
    call; it runs without recording).  ``tangent_solve(g, y)`` returns the
    ``z`` with ``g(z) = y`` for a *linear* function ``g`` (the Jacobian
    ``df/dx`` applied to a vector, or its transpose in the backward pass):
    ``lambda g, y: y / g(1.0)`` for a scalar, a dense or iterative solve
    otherwise.  Written with microgradnp operations, it makes the root
    differentiable again.  Unlike JAX, ``params`` is an explicit argument
    (JAX finds the parameters ``f`` closes over by tracing it; here ``f``'s
    closure holds values).

    Examples
    --------
    >>> import microgradnp as mg
    >>> from microgradnp.func import custom_root, grad
    >>> def newton(g, x):
    ...     for _ in range(50):
    ...         x = x - g(x) / (3 * x ** 2)          # g(x) = x^3 - c: its derivative written by hand
    ...     return x
    >>> cube_root = lambda c: custom_root(lambda x, c: x ** 3 - c, mg.tensor(1.0), newton,
    ...                                   lambda g, y: y / g(1.0), c)
    >>> round(cube_root(mg.tensor(8.0)).item(), 12)
    2.0
    >>> round(grad(cube_root)(mg.tensor(8.0)).item(), 12)     # 1 / (3 c^(2/3))
    0.083333333333
    """
    numpy_only("custom_root", initial_guess, params)
    leaves, spec = _leaves(params)

    def residual(x, *ls):
        return f(x, unflatten(spec, ls))

    def find(start, ls):
        return _as_tensor(solve(lambda x: residual(_as_tensor(x), *ls), start))._data

    label = f"custom_root, {getattr(solve, '__name__', 'solve')}"
    return _Problem(label, residual, find, _users(residual, tangent_solve))(_start(initial_guess), leaves)


def argmin(g, x0, params, method: str = "BFGS", tol: float | None = 1e-10) -> Tensor:
    """The ``x`` minimizing ``g(x, params)`` (a scalar) from ``scipy.optimize.minimize``, differentiable in ``params``.

    The derivatives go through the optimality condition ``dg/dx = 0`` (see
    the module): ``A`` is ``g``'s Hessian in ``x`` (dense, by reverse over
    reverse).  The minimizer must be strict (``A`` invertible) and reached:
    an unsuccessful SciPy run raises with its message.  The gradient is as
    exact as the minimizer: ``tol`` (SciPy's, 1e-10 here against SciPy's own
    1e-5) bounds both.

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
    numpy_only("argmin", x0, params)
    import scipy.optimize

    leaves, spec = _leaves(params)
    gradient = grad(g)  # in x

    def residual(x, *ls):
        return gradient(x, unflatten(spec, ls))

    def find(start, ls):
        p = unflatten(spec, ls)

        def value_and_gradient(z):
            x = _make(z.reshape(start.shape))
            return float(g(x, p).item()), np.asarray(gradient(x, p)._data, dtype=float).ravel()

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
    return _Problem(label, residual, find, _dense(residual))(_start(x0), leaves)


def linear_solve(matvec, b, params, method: str = "cg", tol: float = 1e-12) -> Tensor:
    """``x`` with ``A(params) x = b`` for an operator given by ``matvec(v, params)`` (SciPy's CG or GMRES).

    ``matvec`` is written with microgradnp operations, linear in ``v``, and
    never built as a matrix; ``params`` is a Tensor or a tuple, list or dict
    of them.  The derivatives are implicit (see the module): the backward
    pass solves ``A^T u = g`` with the same solver (for GMRES ``A^T`` is
    ``matvec``'s VJP), the gradient in ``b`` is ``u`` and in ``params``
    ``-(d(A x)/dparams)^T u``; forward mode solves with ``A`` again.  Those
    solves are ``linear_solve`` calls themselves, so every derivative is
    differentiable again.  ``"cg"`` needs a symmetric positive-definite ``A``.

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
    numpy_only("linear_solve", b, params)
    import scipy.sparse.linalg as sla

    if method not in ("cg", "gmres"):
        raise ValueError(f"linear_solve: method must be 'cg' or 'gmres', got {method!r}")
    solver = sla.cg if method == "cg" else sla.gmres
    b = _as_tensor(b)
    leaves, spec = _leaves(params)

    def residual(x, b, *ls):
        return matvec(x, unflatten(spec, ls)) - b

    def find(start, ls):
        rhs, p = ls[0]._data, unflatten(spec, ls[1:])
        n = rhs.size
        operator = sla.LinearOperator(
            (n, n), dtype=float,
            matvec=lambda v: np.asarray(matvec(_make(np.asarray(v, dtype=float).reshape(rhs.shape)), p)._data).ravel())
        x, info = solver(operator, rhs.ravel().astype(float), rtol=tol, atol=0.0)
        if info != 0:
            raise RuntimeError(f"linear_solve: scipy's {method} did not converge (info={info}); check that the "
                               f"operator is {'symmetric positive-definite' if method == 'cg' else 'invertible'}")
        return x

    def operator(transpose):  # A itself is matvec; A^T is A for CG, matvec's VJP for GMRES
        if transpose and method == "gmres":
            return lambda w, xl: vjp(lambda v: matvec(v, unflatten(spec, xl[2:])), xl[0])[1](w)[0]
        return lambda v, xl: matvec(v, unflatten(spec, xl[2:]))

    label = f"linear_solve, {method}, tol={tol:g}"
    linear = _matrix_free(residual, method, tol, operator)
    return _Problem(label, residual, find, linear)(TENSOR_NS.zeros_like(b.detach()), [b, *leaves])
