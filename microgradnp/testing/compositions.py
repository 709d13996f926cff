"""The composition matrix: every transform, alone and composed with every other, against a reference that does not use it.

A *subject* is a function ``g`` of one flat float64 vector returning one flat
vector (a registry op with its inputs packed into one vector, a custom rule,
a model through ``functional_call``, NumPy code on Tensors).  Every transform
of :data:`TRANSFORMS` turns such a function into another one of the same
kind (``grad``: the gradient of ``<g, u>`` for a fixed random ``u``;
``jvp``: the tangent along a fixed ``v``; ``jacrev``: the flattened
Jacobian; ``vmap``: ``g`` on a batch of two nearby points, flattened; ...),
so transforms compose: ``("vmap", "grad")`` is ``vmap(grad(g))``.

:func:`check` runs a composition and compares it with its reference: the
outer transform's reference (central differences in float64, a loop over
the batch, the Jacobian's columns) applied to the inner composition run
eagerly, itself checked one row up the matrix.  A composition either equals
its reference or raises an error that names it: what is expected of each
subject is written down as data (:data:`DOCUMENTED_ERRORS`), which the tests
check and the docs render as a table.

Examples
--------
>>> import numpy as np
>>> import microgradnp as mg
>>> from microgradnp.testing.compositions import check
>>> check(lambda x: mg.sin(x) * x, np.array([0.3, -1.2]), ("vmap", "grad"))
'ok'
"""

from __future__ import annotations

import numpy as np

from .. import func
from ..engine import grad as _mg_grad
from ..tensor import Tensor, _make

__all__ = ["TRANSFORMS", "TRIPLES", "COMPOSITIONS", "DOCUMENTED_ERRORS", "transformed", "reference", "check",
           "CompositionMismatch"]

#: The transforms of the matrix, as its rows and columns name them.
TRANSFORMS = ("backward", "backward+cg", "mg.grad", "mg.grad+cg", "grad", "vjp", "jvp", "jacrev", "jacfwd",
              "hessian", "vmap")

#: The compositions of three the matrix runs besides every pair (outermost first).
TRIPLES = (("grad", "grad"), ("vmap", "grad"), ("grad", "vmap"), ("jvp", "grad"))

#: Every composition the matrix runs: each transform alone, every ordered pair, and the triples.
COMPOSITIONS = tuple((t,) for t in TRANSFORMS) + tuple((a, b) for a in TRANSFORMS for b in TRANSFORMS) + TRIPLES

#: The errors a subject documents, by subject and composition: ``{subject: [(predicate, exception, pattern)]}``.
#: A composition for which a predicate holds must raise that exception with a message matching the pattern.
DOCUMENTED_ERRORS: dict = {
    # PyTorch's rule, for every subject: a gradient computed without create_graph is a constant, so
    # backward() or mg.grad of it (with no transform around to record it) raises.
    "*": [
        (lambda c: _eager_second_backward(c), RuntimeError, r"does not require grad"),
    ],
    # A custom Function whose backward is NumPy code (and that has no jvp): first order only, by reverse mode,
    # outside vmap; the rest raises, naming the Function and pointing at custom_vjp.
    "Function (NumPy backward)": [
        (lambda c: _second_order(c) or "jvp" in c or "jacfwd" in c or "hessian" in c or _reverse_inside_vmap(c),
         RuntimeError, r"runs on NumPy arrays|has no jvp|of the custom Function .* custom_vjp"),
    ],
}

_ENGINE = {"backward", "backward+cg", "mg.grad", "mg.grad+cg"}
_REVERSE = _ENGINE | {"grad", "vjp", "jacrev", "hessian"}
_DERIVATIVES = _REVERSE | {"jvp", "jacfwd"}


def _eager_second_backward(chain) -> bool:
    """backward()/mg.grad of a gradient made by backward()/mg.grad without create_graph, no transform around."""
    for i, t in enumerate(chain[:-1]):
        if t in _ENGINE and chain[i + 1] in ("backward", "mg.grad") and all(s in _ENGINE for s in chain[:i]):
            return True
    return False


def _order(chain) -> int:
    return sum(2 if t == "hessian" else 1 for t in chain if t in _DERIVATIVES)


def _second_order(chain) -> bool:
    return _order(chain) >= 2


def _reverse_inside_vmap(chain) -> bool:
    return any(t == "vmap" and any(u in _REVERSE for u in chain[i + 1:]) for i, t in enumerate(chain))


class CompositionMismatch(AssertionError):
    """A composition that returned a number differing from its reference."""


def _vectors(seed: int, *sizes):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(n) for n in sizes]


def _as_leaf(x: Tensor) -> Tensor:
    """``x`` ready for ``backward()``/``mg.grad`` with respect to it, as user code makes its input so."""
    if not x.requires_grad:
        if not x.is_leaf:
            raise ValueError("the composition matrix needs a leaf or a tensor that requires grad here")
        x.requires_grad_()
    elif not x.is_leaf:
        x.retain_grad()
    return x


def transformed(g, chain, m: int, n: int, seed: int = 0):
    """``chain`` (outermost first) applied to ``g``, a function of an ``(n,)`` Tensor returning an ``(m,)`` one.

    Returns the new function and its output size.
    """
    for name in reversed(chain):
        g, m = _apply(name, g, m, n, seed)
    return g, m


def _apply(name: str, g, m: int, n: int, seed: int):
    u, v, w = _vectors(seed + m * 7919 + n, m, n, n)
    if name in ("backward", "backward+cg"):
        create_graph = name.endswith("+cg")

        def h(x):
            # As a training step does it: .grad cleared before, and read (and cleared) after,
            # so that the levels of a composition do not add into one another's .grad.
            x = _as_leaf(x)
            x.grad = None
            (g(x) * u).sum().backward(create_graph=create_graph)
            found, x.grad = x.grad, None
            if found is None:  # not reached: PyTorch leaves .grad None, which stands for zeros
                return _make(np.zeros(x.shape))
            return found if isinstance(found, Tensor) else _make(found)

        return h, n
    if name in ("mg.grad", "mg.grad+cg"):
        create_graph = name.endswith("+cg")
        def h(x):
            (found,) = _mg_grad((g(_as_leaf(x)) * u).sum(), x, create_graph=create_graph, allow_unused=True)
            return _make(np.zeros(x.shape)) if found is None else found  # None: not reached, zeros

        return h, n
    if name == "grad":
        return (lambda x: func.grad(lambda y: (g(y) * u).sum())(x)), n
    if name == "vjp":
        return (lambda x: func.vjp(g, x)[1](u)[0]), n
    if name == "jvp":
        return (lambda x: func.jvp(g, (x,), (v,))[1]), m
    if name == "jacrev":
        return (lambda x: func.jacrev(g)(x).reshape(-1)), m * n
    if name == "jacfwd":
        return (lambda x: func.jacfwd(g)(x).reshape(-1)), m * n
    if name == "hessian":
        return (lambda x: func.hessian(lambda y: (g(y) * u).sum())(x).reshape(-1)), n * n
    if name == "vmap":
        return (lambda x: func.vmap(g)(_batch(x, w)).reshape(-1)), 2 * m
    raise ValueError(f"unknown transform {name!r}; the matrix has {TRANSFORMS}")


#: How far apart the two examples of vmap's batch are: well inside every op's margin from its kinks.
_SPREAD = 1e-4


def _batch(x, w):
    """Two nearby examples, ``x`` and ``x + spread * w``: different rows, so a row copied is seen."""
    from ..api import stack

    return stack([x, x + _SPREAD * w])


def _eager(k, x: np.ndarray) -> np.ndarray:
    out = k(_make(np.array(x, dtype=np.float64)))
    return np.asarray(out._data if isinstance(out, Tensor) else out, dtype=np.float64).reshape(-1)


def _step(x: np.ndarray) -> np.ndarray:
    return 1e-6 * np.maximum(1.0, np.abs(x))


def _fd_jacobian(k, x: np.ndarray) -> np.ndarray:
    """The Jacobian of ``k`` at ``x`` by central differences, shape ``(out, n)``."""
    h = _step(x)
    cols = []
    for j in range(x.size):
        e = np.zeros_like(x)
        e[j] = h[j]
        cols.append((_eager(k, x + e) - _eager(k, x - e)) / (2 * h[j]))
    return np.stack(cols, axis=-1) if cols else np.zeros((_eager(k, x).size, 0))


def reference(g, chain, x: np.ndarray, m: int, seed: int = 0) -> np.ndarray:
    """The value ``transformed(g, chain, ...)`` must have at ``x``: the outer transform by a method of its own.

    The inner composition (``chain[1:]``) runs as it is, eagerly; the outer
    transform is replaced by central differences (derivatives), the
    Jacobian's columns (``jacrev``, ``jacfwd``, ``hessian`` of ``grad``) or a
    loop over the batch (``vmap``).
    """
    n = x.size
    inner, m = transformed(g, chain[1:], m, n, seed)
    name = chain[0]
    u, v, w = _vectors(seed + m * 7919 + n, m, n, n)
    if name in ("backward", "backward+cg", "mg.grad", "mg.grad+cg", "grad", "vjp"):
        return u @ _fd_jacobian(inner, x)
    if name == "jvp":
        return _fd_jacobian(inner, x) @ v
    if name in ("jacrev", "jacfwd"):
        return _fd_jacobian(inner, x).reshape(-1)
    if name == "hessian":  # the Jacobian of the (checked) gradient, by differences
        gradient, _ = transformed(inner, ("grad",), m, n, seed)
        return _fd_jacobian(gradient, x).reshape(-1)
    if name == "vmap":
        return np.concatenate([_eager(inner, x), _eager(inner, x + _SPREAD * w)])
    raise ValueError(f"unknown transform {name!r}")


def _tolerance(name: str) -> tuple[float, float]:
    return (1e-11, 1e-12) if name == "vmap" else (1e-5, 1e-6)


def check(g, x, chain, m: int | None = None, seed: int = 0, subject: str | None = None) -> str:
    """Run ``chain`` on ``g`` at ``x`` and compare it with :func:`reference`.

    Returns ``"ok"``, or the documented error's name where ``subject``
    documents one for this composition (:data:`DOCUMENTED_ERRORS`), which must
    then be raised.  Raises :class:`CompositionMismatch` for a number that
    differs, and lets any other error through.
    """
    x = np.asarray(x, dtype=np.float64).reshape(-1)
    if m is None:
        m = _eager(g, x).size
    documented = DOCUMENTED_ERRORS["*"] + DOCUMENTED_ERRORS.get(subject, [])
    expected_error = next(((exc, pattern) for when, exc, pattern in documented if when(chain)), None)
    h, _ = transformed(g, chain, m, x.size, seed)
    if expected_error is not None:
        exc, pattern = expected_error
        try:
            _eager(h, x)
        except exc as err:
            import re

            if not re.search(pattern, str(err)):
                raise CompositionMismatch(f"{' o '.join(chain)}: raised {err!r}, not the documented "
                                          f"{exc.__name__} matching {pattern!r}") from err
            return exc.__name__
        raise CompositionMismatch(f"{' o '.join(chain)}: returned a value where {subject} documents "
                                  f"{exc.__name__} ({pattern!r})")
    got = _eager(h, x)
    want = reference(g, chain, x, m, seed)
    rtol, atol = _tolerance(chain[0])
    scale = max(1.0, float(np.max(np.abs(want), initial=0.0)))
    if got.shape != want.shape or not np.allclose(got, want, rtol=rtol, atol=atol * scale):
        worst = np.max(np.abs(got - want)) if got.shape == want.shape else None
        raise CompositionMismatch(f"{' o '.join(chain)}: got {got[:6]} but the reference is {want[:6]} "
                                  f"(shapes {got.shape}, {want.shape}; largest difference {worst})")
    return "ok"
