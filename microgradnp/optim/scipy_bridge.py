"""Train with ``scipy.optimize.minimize``: the parameters become one flat vector.

Ng's exercise trains its network with ``minimize(..., method='CG', jac=True)``
on a hand-unrolled parameter vector; :func:`minimize` does the unrolling for
any set of Tensors and gets the gradient from autodiff.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import TYPE_CHECKING

import numpy as np

from .._mode import enable_grad, no_grad
from .._tensor import Tensor, kind_of
from ..engine import grad as _grad
from ..func import push_forward

if TYPE_CHECKING:  # the module itself is imported on first use (see minimize)
    import scipy.optimize

__all__ = ["minimize", "least_squares"]

#: The methods of ``scipy.optimize.minimize`` that use second derivatives: those
#: that take Hessian-vector products, and those that need the matrix itself.
_HESSP_METHODS = {"newton-cg", "trust-ncg", "trust-krylov", "trust-constr"}
_HESS_METHODS = {"dogleg", "trust-exact"}


def _values(a):
    """A parameter's or a gradient's values as NumPy: SciPy runs on NumPy, so a tensor on another library
    (torch, CuPy) is copied here, at the bridge, by name (and written back by :meth:`_Flat.set`)."""
    a = a._data if isinstance(a, Tensor) else a
    if a.__class__ is np.ndarray or isinstance(a, np.ndarray):
        return a
    from ..backends import to_numpy

    return to_numpy(a)


class _Flat:
    """A list of parameter Tensors seen as one float64 vector, as SciPy wants them."""

    def __init__(self, params, who: str):
        self.params = list(params)
        for i, p in enumerate(self.params):
            if not isinstance(p, Tensor) or not p.requires_grad:
                raise TypeError(f"{who}: parameter {i} is not a Tensor with requires_grad=True")
            if kind_of(p._data) == "c":
                raise TypeError(f"{who}: parameter {i} is complex; SciPy's optimizers take real vectors: optimize "
                                "its real and imaginary parts as two real tensors (mg.complex(re, im) in the loss)")
        if not self.params:
            raise ValueError(f"{who}: no parameters to optimize")
        self.shapes = [p.shape for p in self.params]
        self.sizes = [p.size for p in self.params]
        self.x0 = np.concatenate([_values(p).ravel() for p in self.params]).astype(np.float64)
        self.writes = 0

    def set(self, x) -> None:
        """Write the vector ``x`` into the parameters.

        A parameter that already holds its part is left alone, so a graph
        recorded from it stays valid (a write would make its use raise, as
        in-place safety demands); ``writes`` counts the writes.
        """
        for p, part in zip(self.params, self.split(x)):
            if not np.array_equal(_values(p), part):
                if p.library == "numpy":
                    p.data[...] = part
                else:
                    from ..backends import from_numpy

                    p.data = from_numpy(part.astype(_values(p).dtype), p.library, device=p.device)
                self.writes += 1

    def split(self, x) -> list:
        """The vector ``x`` cut into arrays of the parameters' shapes."""
        parts, offset = [], 0
        for n, shape in zip(self.sizes, self.shapes):
            parts.append(np.asarray(x[offset: offset + n]).reshape(shape))
            offset += n
        return parts

    def join(self, arrays) -> np.ndarray:
        """One float64 vector from one array (or Tensor, or ``None`` for zeros) per parameter."""
        return np.concatenate([
            (np.zeros(n) if a is None else np.asarray(_values(a))).ravel()
            for a, n in zip(arrays, self.sizes)
        ]).astype(np.float64)


def _hessian_choice(method: str, hess, hessp) -> tuple[bool, bool]:
    name = method.lower() if isinstance(method, str) else ""
    if hess is None:
        hess = name in _HESS_METHODS and not hessp
    if hessp is None:
        hessp = name in _HESSP_METHODS and not hess
    return bool(hess), bool(hessp)


def minimize(loss_fn, params, method: str = "CG", maxiter: int | None = None, callback=None, tol: float | None = None,
             options: dict | None = None, progress: bool = False, hess: bool | None = None,
             hessp: bool | None = None, **kwargs) -> scipy.optimize.OptimizeResult:
    """Minimize ``loss_fn()`` over ``params`` with ``scipy.optimize.minimize(jac=True)``.

    Parameters
    ----------
    loss_fn
        Called with no arguments; computes the loss (a one-element Tensor)
        from the current values of ``params``.
    params
        Tensors with ``requires_grad=True`` (for instance
        ``model.parameters()``).  They are flattened into one float64 vector
        for SciPy and written back after every evaluation and at the end.
    method
        Any gradient-based method of ``scipy.optimize.minimize``: ``"CG"``,
        ``"L-BFGS-B"``, ``"BFGS"``, ``"TNC"``, ...
    maxiter
        Maximum number of iterations (``options["maxiter"]``).
    callback
        Called after each iteration as ``callback(iteration, loss)``, with the
        parameters already set to the iterate.
    tol
        Passed to SciPy.
    options
        Further SciPy options.
    progress
        Show a tqdm progress bar with the current loss (needs ``tqdm``).
    hess, hessp
        Give SciPy the exact Hessian (``hess``) or Hessian-vector products
        (``hessp``), both forward-over-reverse (the direction pushed through
        the recorded gradient, :func:`microgradnp.func.push_forward`).  By
        default the methods that use second derivatives get them:
        ``"Newton-CG"``, ``"trust-ncg"``, ``"trust-krylov"`` and
        ``"trust-constr"`` the products (about one gradient's cost each),
        ``"dogleg"`` and ``"trust-exact"``, which need the matrix, the full
        Hessian (one product per parameter).
    **kwargs
        Passed to ``scipy.optimize.minimize`` (``bounds=...``, ...).

    Returns
    -------
    scipy.optimize.OptimizeResult
        SciPy's result; the parameters hold ``result.x``.

    Examples
    --------
    >>> import numpy as np
    >>> import microgradnp as mg
    >>> w = mg.tensor([3.0, -1.0], requires_grad=True)
    >>> target = np.array([1.0, 2.0])
    >>> result = mg.optim.minimize(lambda: ((w - target) ** 2).sum(), [w], method="CG")
    >>> result.success, np.allclose(w.data, target)
    (True, True)
    """
    flat = _Flat(params, "minimize")
    params, set_params = flat.params, flat.set
    x0 = flat.x0
    hess, hessp = _hessian_choice(method, hess, hessp)

    recent: OrderedDict[bytes, float] = OrderedDict()  # loss of the last few points evaluated

    def fun(x):
        set_params(x)
        with enable_grad():
            loss = loss_fn()
            if not isinstance(loss, Tensor) or loss.size != 1:
                raise ValueError("minimize: loss_fn must return a one-element Tensor")
            grads = _grad(loss, params, allow_unused=True)
        value = float(loss.item())
        recent[x.tobytes()] = value
        while len(recent) > 8:
            recent.popitem(last=False)
        return value, flat.join(grads)

    gradient_graph = {}  # the recorded gradient at the last point a Hessian was asked for

    def gradient_at(x):
        set_params(x)
        key = (x.tobytes(), flat.writes)  # a parameter written since makes the recorded gradient stale
        if gradient_graph.get("key") != key:
            with enable_grad():
                loss = loss_fn()
                grads = _grad(loss, params, create_graph=True, allow_unused=True)
            gradient_graph.update(key=key, grads=grads)
        return gradient_graph["grads"]

    def hessian_product(x, v):
        # Forward-over-reverse: the direction pushed through the recorded gradient.
        grads = gradient_at(np.asarray(x, dtype=np.float64))
        used = [g for g in grads if g is not None]
        if not used:
            return np.zeros(x0.size)
        tangents = iter(push_forward(used, params, flat.split(np.asarray(v, dtype=np.float64))))
        return flat.join([None if g is None else next(tangents) for g in grads])

    def full_hessian(x):
        return np.stack([hessian_product(x, e) for e in np.eye(x0.size)], axis=1)

    opts = dict(options or {})
    if maxiter is not None:
        opts["maxiter"] = int(maxiter)
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=opts.get("maxiter"), desc=f"minimize ({method})", unit="it")
    state = {"nit": 0}

    def on_iteration(xk, *args):
        state["nit"] += 1
        loss = recent.get(np.asarray(xk).tobytes())
        if loss is None or callback is not None:
            loss = fun(np.asarray(xk, dtype=np.float64))[0]
        set_params(xk)
        if bar is not None:
            bar.update(1)
            bar.set_postfix(loss=f"{loss:.6g}")
        if callback is not None:
            callback(state["nit"], loss)

    try:
        extra = {}
        if hess:
            extra["hess"] = full_hessian
        elif hessp:
            extra["hessp"] = hessian_product
        import scipy.optimize  # on first use: it is most of what `import microgradnp` would cost

        result = scipy.optimize.minimize(fun, x0, jac=True, method=method, tol=tol, callback=on_iteration,
                                         options=opts, **extra, **kwargs)
    finally:
        if bar is not None:
            bar.close()
    set_params(result.x)
    return result


def least_squares(residual_fn, params, jac: str = "auto", method: str = "trf", progress: bool = False,
                  **kwargs) -> scipy.optimize.OptimizeResult:
    """Fit ``params`` with ``scipy.optimize.least_squares``: minimize ``0.5 * sum(residual_fn() ** 2)``.

    The Jacobian of the residuals comes from autodiff, by forward mode (as
    :func:`microgradnp.func.jacfwd`: one tangent sweep per parameter) or
    reverse mode (as :func:`~microgradnp.func.jacrev`: one backward pass per
    residual), never from finite differences.

    Parameters
    ----------
    residual_fn
        Called with no arguments; computes the residuals (a Tensor of any
        shape, flattened for SciPy) from the current values of ``params``.
    params
        Tensors with ``requires_grad=True``; flattened into one float64
        vector and written back after every evaluation and at the end.
    jac
        ``"jacfwd"`` (forward), ``"jacrev"`` (reverse), or ``"auto"``: forward
        when there are no more parameters than residuals, reverse otherwise.
    method
        SciPy's method: ``"trf"``, ``"dogbox"`` or ``"lm"``.
    progress
        Show a tqdm bar counting residual evaluations (needs ``tqdm``).
    **kwargs
        Passed to ``scipy.optimize.least_squares`` (``bounds``, ``loss``,
        ``max_nfev``, ...).

    Returns
    -------
    scipy.optimize.OptimizeResult
        SciPy's result (``x``, ``cost``, ``fun``, ``jac``, ...); the parameters
        hold ``result.x``.

    Examples
    --------
    >>> import numpy as np
    >>> import microgradnp as mg
    >>> t = np.linspace(0.0, 2.0, 20)
    >>> y = 3.0 * np.exp(-1.5 * t)
    >>> a = mg.tensor(1.0, requires_grad=True)
    >>> k = mg.tensor(0.5, requires_grad=True)
    >>> result = mg.optim.least_squares(lambda: a * mg.exp(-k * t) - y, [a, k])
    >>> round(a.item(), 6), round(k.item(), 6)
    (3.0, 1.5)
    """
    if jac not in ("auto", "jacfwd", "jacrev"):
        raise ValueError(f"least_squares: jac must be 'auto', 'jacfwd' or 'jacrev', got {jac!r}")
    flat = _Flat(params, "least_squares")
    params = flat.params

    def residuals_tensor():
        r = residual_fn()
        if not isinstance(r, Tensor) or r.dtype.kind != "f":
            raise ValueError("least_squares: residual_fn must return a floating-point Tensor of residuals")
        return r

    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(desc=f"least_squares ({method})", unit="eval")

    def fun(x):
        flat.set(x)
        with no_grad():
            r = residuals_tensor()
        if bar is not None:
            bar.update(1)
            bar.set_postfix(cost=f"{0.5 * float(np.sum(r.data.astype(np.float64) ** 2)):.6g}")
        return r.data.astype(np.float64).ravel()

    def jacobian(x):
        flat.set(x)
        with enable_grad():
            r = residuals_tensor()
        forward = jac == "jacfwd" or (jac == "auto" and x.size <= r.size)
        J = np.zeros((r.size, x.size))
        if not r.requires_grad:
            return J
        if forward:  # one column per parameter element
            for j, e in enumerate(np.eye(x.size)):
                (col,) = push_forward(r, params, flat.split(e))
                J[:, j] = col.data.ravel()
        else:  # one row per residual
            for i, e in enumerate(np.eye(r.size)):
                grads = _grad(r, params, grad_outputs=e.reshape(r.shape), retain_graph=True, allow_unused=True)
                J[i] = flat.join(grads)
        return J

    try:
        import scipy.optimize  # on first use, as in minimize

        result = scipy.optimize.least_squares(fun, flat.x0, jac=jacobian, method=method, **kwargs)
    finally:
        if bar is not None:
            bar.close()
    flat.set(result.x)
    return result
