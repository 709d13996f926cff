"""``odeint``: an ODE's solution at given times from SciPy's ``solve_ivp``, differentiated by the adjoint method.

The solve is one op.  Its gradient integrates the adjoint system backwards in
time, from the last requested time to the first (Pontryagin's adjoint, as in
the "neural ODE" paper): with ``a(t)`` the adjoint of the state,
``da/dt = -a^T df/dy`` and ``dg_params/dt = -a^T df/dparams``, ``a`` jumping
by the cotangent at each requested time, and the state re-integrated
backwards alongside from each requested time's solution.  Each right-hand
side is one VJP of ``f``; nothing of the forward steps is kept, so memory does
not grow with their number.  Forward mode (``jvp``) integrates the tangent
``d(dy)/dt = df/dy dy + df/dparams dparams`` alongside the state.

Those two integrations run in SciPy on values: each is an op of its own
whose derivative is refused by name (a second derivative through ``odeint``
would need the adjoint of the adjoint), and which ``vmap`` runs once per
example.  So ``grad``, ``jvp``, ``vjp``, ``jacrev``, ``jacfwd``, ``vmap`` and
``vmap(grad)`` work; ``grad(grad)``, ``hessian``, ``grad`` of ``jvp`` raise
``TransformError`` naming ``odeint``.
"""

from __future__ import annotations

import numpy as np

from .. import _mode as _modes
from .._mode import TransformError, enable_grad, no_grad
from .._tensor import Tensor, _make
from ..engine import TENSOR_NS, apply
from ..ops.registry import Op
from ._forward import jvp
from ._reverse import vjp
from ._tree import flatten, numpy_only, unflatten

__all__ = ["odeint"]


def _as_tensor(x) -> Tensor:
    return x if isinstance(x, Tensor) else _make(np.asarray(x, dtype=float))


class _ODE:
    """One ``odeint`` call: the right-hand side, the times and the solver's settings; its three ops."""

    def __init__(self, f, spec, times, shape, method: str, rtol: float, atol: float):
        self.f, self.spec, self.times, self.shape = f, spec, times, shape
        self.method, self.rtol, self.atol = method, rtol, atol
        label = f"odeint, {method}, rtol={rtol:g}"
        self.op = Op(label, _solve, vjp_all=_vjp, jvp=_jvp, batch=_looped("op"),
                     formula=f"{label}: y(t) with dy/dt = f(y, t, params)")
        self.adjoint_op = Op(f"{label}: adjoint", _adjoint, vjp_all=_refuse_vjp, jvp=_refuse_jvp,
                             batch=_looped("adjoint_op"), formula="odeint's gradient, by the adjoint method")
        self.tangent_op = Op(f"{label}: tangent", _tangent, vjp_all=_refuse_vjp, jvp=_refuse_jvp,
                             batch=_looped("tangent_op"), formula="odeint's tangent, by forward sensitivity")

    def rhs(self, y: Tensor, s: float, leaves) -> Tensor:
        return self.f(y, s, unflatten(self.spec, leaves))

    def integrate(self, fun, z0: np.ndarray, start: float, end: float, t_eval=None):
        import scipy.integrate

        sol = scipy.integrate.solve_ivp(fun, (start, end), z0, method=self.method, t_eval=t_eval,
                                        rtol=self.rtol, atol=self.atol)
        if sol.status != 0:
            raise RuntimeError(f"odeint: scipy's solve_ivp ({self.method}) failed between t={start:g} and "
                               f"t={end:g}: {sol.message}")
        return sol.y


def _looped(which: str):
    """Inside ``vmap``: the integration once per example (it runs on values), stacked."""
    def batch(ns, args, batched, size, ode):
        op = getattr(ode, which)
        return TENSOR_NS.stack([apply(op, tuple(a[i] if b else a for a, b in zip(args, batched)), {"ode": ode})
                                for i in range(size)], axis=0)
    return batch


def _refuse_vjp(ns, g, out, inputs, attrs, needs):
    raise TransformError(f"{attrs['ode'].op.name}: a second derivative through odeint (grad of grad, hessian, "
                         "create_graph=True differentiated again, grad of jvp) is not supported: its adjoint and "
                         "tangent integrations run in SciPy. Differentiate a solver written with microgradnp "
                         "operations (fixed RK4 steps) for them")


def _refuse_jvp(ns, tangents, out, *inputs, ode):
    _refuse_vjp(ns, None, out, inputs, {"ode": ode}, ())


def _solve(xp, y0, *leaves, ode):
    flat0 = np.asarray(y0, dtype=float).ravel()
    if len(ode.times) == 1:
        return np.asarray(y0, dtype=float)[None].copy()
    fixed = [_make(v) for v in leaves]

    def fun(s, y):
        with no_grad():
            return np.asarray(ode.rhs(_make(y.reshape(ode.shape)), s, fixed)._data, dtype=float).ravel()

    ys = ode.integrate(fun, flat0, ode.times[0], ode.times[-1], t_eval=ode.times)
    return ys.T.reshape((len(ode.times),) + ode.shape)


def _adjoint(xp, g, Y, y0, *leaves, ode):
    """``[dL/dy0, dL/dleaves...]`` flattened into one vector, from the cotangent ``g`` of the trajectory ``Y``."""
    g, Y = np.asarray(g, dtype=float), np.asarray(Y, dtype=float)
    n = Y[0].size
    leaves = [np.asarray(v, dtype=float) for v in leaves]
    sizes = [v.size for v in leaves]

    def fun(s, z):
        y, a = _make(z[:n].reshape(ode.shape)), _make(z[n:2 * n].reshape(ode.shape))
        with enable_grad():
            value, pull = vjp(lambda y, *ls: ode.rhs(y, s, ls), y, *[_make(v) for v in leaves])
            pulled = pull(a)
        return np.concatenate([value._data.ravel()] + [-np.asarray(p._data, dtype=float).ravel() for p in pulled])

    a = g[-1].ravel().copy()
    gp = np.zeros(sum(sizes))
    for i in range(len(ode.times) - 1, 0, -1):
        # From the solution at t_i (kept by the forward, so the state never drifts over several intervals).
        z = ode.integrate(fun, np.concatenate([Y[i].ravel(), a, gp]), ode.times[i], ode.times[i - 1])[:, -1]
        a, gp = z[n:2 * n] + g[i - 1].ravel(), z[2 * n:]
    return np.concatenate([a, gp])


def _tangent(xp, y0, *rest, ode):
    """The tangent trajectory for the tangents ``rest[k:]`` of ``y0`` and the leaves ``rest[:k]``."""
    k = (len(rest) - 1) // 2
    leaves, dy0, dleaves = [_make(np.asarray(v)) for v in rest[:k]], rest[k], [_make(np.asarray(v)) for v in rest[k + 1:]]
    n = int(np.size(y0))
    if len(ode.times) == 1:
        return np.asarray(dy0, dtype=float)[None].copy()

    def fun(s, z):
        primals = (_make(z[:n].reshape(ode.shape)), *leaves)
        tangents = (_make(z[n:].reshape(ode.shape)), *dleaves)
        value, t = jvp(lambda y, *ls: ode.rhs(y, s, ls), primals, tangents)
        return np.concatenate([value._data.ravel(), t._data.ravel()])

    z0 = np.concatenate([np.asarray(y0, dtype=float).ravel(), np.asarray(dy0, dtype=float).ravel()])
    zs = ode.integrate(fun, z0, ode.times[0], ode.times[-1], t_eval=ode.times)
    return zs[n:].T.reshape((len(ode.times),) + ode.shape)


def _vjp(ns, g, out, inputs, attrs, needs):
    ode, record = attrs["ode"], ns is TENSOR_NS
    if record:  # the adjoint as an op of its own: batched by vmap, its own derivative refused by name
        flat = apply(ode.adjoint_op, (g, out, *inputs), {"ode": ode})
    else:
        flat = _adjoint(None, g, out, *inputs, ode=ode)
    grads, at = [], 0
    for need, x in zip(needs, inputs):
        shape = tuple(x.shape) if isinstance(x, Tensor) else np.shape(x)
        size = int(np.prod(shape))
        piece = flat[at:at + size]
        at += size
        grads.append(None if not need else piece.reshape(shape))
    return grads


def _jvp(ns, tangents, out, y0, *leaves, ode):
    if all(t is None for t in tangents):
        return None
    ts = [t if t is not None else TENSOR_NS.zeros_like(_as_tensor(x)) for t, x in zip(tangents, (y0, *leaves))]
    return apply(ode.tangent_op, (y0, *leaves, *ts), {"ode": ode})


def odeint(f, y0, t, params, rtol: float = 1e-10, atol: float = 1e-10, method: str = "DOP853") -> Tensor:
    """The solution of ``dy/dt = f(y, t, params)`` from ``y(t[0]) = y0`` at the times ``t``, shape ``(len(t),) + y0.shape``.

    ``f`` is written with microgradnp operations; ``params`` is a Tensor or
    a tuple, list or dict of them; ``t`` is increasing (an array: the times
    are not differentiated).  SciPy's ``solve_ivp`` integrates (``method``
    and tolerances passed through); the gradient in ``y0`` and ``params``
    comes from the adjoint method, which integrates backwards in time and
    keeps nothing of the forward steps (see the module).  Forward mode
    integrates the tangent alongside; ``vmap`` integrates once per example;
    a second derivative raises ``TransformError``.  Unlike JAX's ``odeint``
    (``func(y, t, *args)``), the parameters are one argument.

    Examples
    --------
    >>> import numpy as np
    >>> import microgradnp as mg
    >>> from microgradnp.func import grad, odeint
    >>> decay = lambda y, t, k: -k * y                        # y(t) = y0 exp(-k t)
    >>> y = odeint(decay, mg.tensor([1.0]), [0.0, 1.0, 2.0], mg.tensor(0.5))
    >>> np.round(y.data.ravel(), 8)
    array([1.        , 0.60653066, 0.36787944])
    >>> dk = grad(lambda k: odeint(decay, mg.tensor([1.0]), [0.0, 2.0], k)[-1].sum())(mg.tensor(0.5))
    >>> bool(abs(dk.item() - (-2.0 * np.exp(-1.0))) < 1e-8)     # d/dk exp(-2k) at k = 0.5
    True
    """
    numpy_only("odeint", y0, t, params)
    if isinstance(t, Tensor) and t.requires_grad:
        raise TypeError("odeint: t requires grad, but the times are not differentiated here; pass t.detach() "
                        "(or an array)")
    times = np.asarray(t._data if isinstance(t, Tensor) else t, dtype=float)
    if times.ndim != 1 or times.size == 0 or np.any(np.diff(times) <= 0):
        raise ValueError(f"odeint: t must be a non-empty 1-D increasing sequence of times, got {times!r}")
    y0 = _as_tensor(y0)
    leaves, spec = flatten(params)
    leaves = [_as_tensor(v) for v in leaves]
    ode = _ODE(f, spec, times, tuple(y0.shape), method, rtol, atol)
    if _modes.tracing:
        _modes.note_unreplayable("odeint", "runs a solver in Python: a replay would keep the traced call's answer")
    return apply(ode.op, (y0, *leaves), {"ode": ode})
