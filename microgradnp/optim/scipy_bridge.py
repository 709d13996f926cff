"""Train with ``scipy.optimize.minimize``: the parameters become one flat vector.

Ng's exercise trains its network with ``minimize(..., method='CG', jac=True)``
on a hand-unrolled parameter vector; :func:`minimize` does the unrolling for
any set of Tensors and gets the gradient from autodiff.
"""

from __future__ import annotations

from collections import OrderedDict

import numpy as np
import scipy.optimize

from .._mode import enable_grad
from ..engine import grad as _grad
from ..tensor import Tensor

__all__ = ["minimize"]


def minimize(loss_fn, params, method: str = "CG", maxiter: int | None = None, callback=None, tol: float | None = None,
             options: dict | None = None, progress: bool = False, **kwargs) -> scipy.optimize.OptimizeResult:
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
    params = list(params)
    for i, p in enumerate(params):
        if not isinstance(p, Tensor) or not p.requires_grad:
            raise TypeError(f"minimize: parameter {i} is not a Tensor with requires_grad=True")
    shapes = [p.shape for p in params]
    sizes = [p.size for p in params]
    x0 = np.concatenate([p.data.ravel() for p in params]).astype(np.float64)

    def set_params(x):
        offset = 0
        for p, n, shape in zip(params, sizes, shapes):
            p.data[...] = x[offset : offset + n].reshape(shape)
            offset += n

    recent: OrderedDict[bytes, float] = OrderedDict()  # loss of the last few points evaluated

    def fun(x):
        set_params(x)
        with enable_grad():
            loss = loss_fn()
            if not isinstance(loss, Tensor) or loss.size != 1:
                raise ValueError("minimize: loss_fn must return a one-element Tensor")
            grads = _grad(loss, params, allow_unused=True)
        flat = np.concatenate(
            [(g.data if g is not None else np.zeros(n)).ravel() for g, n in zip(grads, sizes)]
        ).astype(np.float64)
        value = float(loss.item())
        recent[x.tobytes()] = value
        while len(recent) > 8:
            recent.popitem(last=False)
        return value, flat

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
        result = scipy.optimize.minimize(fun, x0, jac=True, method=method, tol=tol, callback=on_iteration,
                                         options=opts, **kwargs)
    finally:
        if bar is not None:
            bar.close()
    set_params(result.x)
    return result
