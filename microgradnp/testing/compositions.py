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
from .._tensor import Tensor, _make
from ..engine import grad as _mg_grad

__all__ = ["TRANSFORMS", "TRIPLES", "COMPOSITIONS", "DOCUMENTED_ERRORS", "SUBJECTS", "transformed", "reference",
           "check", "documented", "run_all", "packed_op", "subjects", "support_markdown", "CompositionMismatch"]

#: The transforms of the matrix, as its rows and columns name them.
TRANSFORMS = ("backward", "backward+cg", "mg.grad", "mg.grad+cg", "grad", "vjp", "jvp", "jacrev", "jacfwd",
              "hessian", "vmap")

#: The compositions of three the matrix runs besides every pair (outermost first).
TRIPLES = (("grad", "grad"), ("vmap", "grad"), ("grad", "vmap"), ("jvp", "grad"))

#: Every composition the matrix runs: each transform alone, every ordered pair, and the triples.
COMPOSITIONS = tuple((t,) for t in TRANSFORMS) + tuple((a, b) for a in TRANSFORMS for b in TRANSFORMS) + TRIPLES

#: The errors a subject documents, by subject and composition:
#: ``{subject: [(predicate, exception, pattern, label)]}``.  A composition for which a predicate holds must raise
#: that exception with a message matching the pattern; ``label`` is what the docs' table shows.
DOCUMENTED_ERRORS: dict = {
    # PyTorch's rule, for every subject: a gradient computed without create_graph is a constant, so
    # backward() or mg.grad of it (with no transform around to record it) raises.
    "*": [
        (lambda c: _eager_second_backward(c), RuntimeError, r"does not require grad", "no create_graph"),
    ],
    # A custom Function whose backward is NumPy code (and that has no jvp): first order only, by reverse mode,
    # outside vmap; the rest raises, naming the Function and pointing at custom_vjp.
    "Function (NumPy backward)": [
        (lambda c: _second_order(c) or "jvp" in c or "jacfwd" in c or "hessian" in c or _reverse_inside_vmap(c),
         RuntimeError, r"runs on NumPy arrays|has no jvp|of the custom Function .* custom_vjp", "NumPy rule"),
    ],
}

#: What the labels of :data:`DOCUMENTED_ERRORS` mean (the docs' legend).
LABELS = {
    "no create_graph": "raises `RuntimeError` (PyTorch's rule): the inner gradient was computed without "
                       "`create_graph=True`, so it is a constant and has no gradient of its own. Pass "
                       "`create_graph=True`, or use `func.grad`, whose results nest",
    "NumPy rule": "raises `RuntimeError` naming the Function: its backward (and jvp) run on NumPy arrays, so "
                  "they serve first-order reverse mode outside `vmap` only (and forward mode when the class "
                  "has a `jvp`). `func.custom_vjp` gives a rule of microgradnp operations that every "
                  "transform follows",
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

    Examples
    --------
    >>> import numpy as np
    >>> import microgradnp as mg
    >>> h, size = transformed(lambda x: x * x, ("jacfwd",), 2, 2)
    >>> size, h(mg.tensor([1.0, 3.0]))
    (4, tensor([2., 0., 0., 6.]))
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

    Examples
    --------
    >>> import numpy as np
    >>> reference(lambda x: x * x, ("jacrev",), np.array([1.0, 3.0]), 2).round(6)
    array([2., 0., 0., 6.])
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


def documented(subject: str | None, chain):
    """The error ``subject`` documents for ``chain``: ``(exception, pattern, label)``, or ``None`` (it must work).

    Examples
    --------
    >>> documented(None, ("vmap", "grad")) is None
    True
    >>> documented(None, ("backward", "mg.grad"))[2]
    'no create_graph'
    """
    rules = DOCUMENTED_ERRORS["*"] + DOCUMENTED_ERRORS.get(subject, [])
    return next(((exc, pattern, label) for when, exc, pattern, label in rules if when(chain)), None)


def check(g, x, chain, m: int | None = None, seed: int = 0, subject: str | None = None) -> str:
    """Run ``chain`` on ``g`` at ``x`` and compare it with :func:`reference`.

    Returns ``"ok"``, or the documented error's name where ``subject``
    documents one for this composition (:data:`DOCUMENTED_ERRORS`), which must
    then be raised.  Raises :class:`CompositionMismatch` for a number that
    differs, and lets any other error through.

    Examples
    --------
    >>> import numpy as np
    >>> import microgradnp as mg
    >>> check(mg.sin, np.array([0.5, 2.0]), ("grad", "jvp"))
    'ok'
    """
    x = np.asarray(x, dtype=np.float64).reshape(-1)
    if m is None:
        m = _eager(g, x).size
    expected_error = documented(subject, chain)
    h, _ = transformed(g, chain, m, x.size, seed)
    if expected_error is not None:
        exc, pattern, _ = expected_error
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


def run_all(g, x, subject: str | None = None, compositions=COMPOSITIONS) -> dict:
    """:func:`check` of every composition: ``{chain: "ok" or the documented error}``; the first failure raises.

    Examples
    --------
    >>> import numpy as np
    >>> import microgradnp as mg
    >>> outcome = run_all(mg.tanh, np.array([0.5, -1.0]))
    >>> sorted(set(outcome.values()))
    ['RuntimeError', 'ok']
    """
    outcome = {}
    for chain in compositions:
        try:
            outcome[chain] = check(g, x, chain, subject=subject)
        except Exception as err:
            raise CompositionMismatch(f"{subject or 'subject'}: {' o '.join(chain)} failed: {err!r}") from err
    return outcome


# ---------------------------------------------------------------------------
# The subjects: the kinds of function users write
# ---------------------------------------------------------------------------


def packed_op(op, inputs, attrs):
    """A registry op as a subject: a function of one vector holding its differentiable inputs, and that vector.

    The inputs without gradient (masks, labels) are held fixed; a result
    fixed only up to sign (eigenvectors) gets the sign its test's gauge
    chooses at the given inputs, held constant nearby; a complex result is
    given as its real parts, then its imaginary parts.

    Examples
    --------
    >>> import microgradnp as mg
    >>> from microgradnp.ops import REGISTRY
    >>> g, x0 = packed_op(REGISTRY["mul"], (mg.tensor([2.0], requires_grad=True),
    ...                                     mg.tensor([3.0], requires_grad=True)), {})
    >>> x0, g(mg.tensor(x0))
    (array([2., 3.]), tensor([6.]))
    """
    from ..engine import apply

    where = [i for i, x in enumerate(inputs) if x.requires_grad]
    shapes = [inputs[i].shape for i in where]
    sizes = [int(np.prod(s)) for s in shapes]
    x0 = np.concatenate([inputs[i]._data.reshape(-1) for i in where])
    gauge = None
    if op.test is not None and op.test.gauge is not None:
        gauge = op.test.gauge(apply(op, inputs, attrs)._data, **attrs).astype(np.float64)

    def g(x):
        args, start = list(inputs), 0
        for i, shape, size in zip(where, shapes, sizes):
            args[i] = x[start:start + size].reshape(shape)
            start += size
        out = apply(op, tuple(args), attrs)
        out = (out if gauge is None else out * gauge).reshape(-1)
        if out.dtype.kind == "c":  # a complex result (the Fourier transforms): its real and imaginary parts
            from ..api import concatenate, imag, real

            out = concatenate([real(out), imag(out)])
        return out

    return g, x0


def subjects() -> dict:
    """The subjects besides the registry ops: ``{name: (function, x0)}``, one of each kind users write.

    Examples
    --------
    >>> list(subjects()) == list(SUBJECTS[1:])
    True
    """
    from .. import api, nn
    from ..function import Function

    @func.custom_vjp
    def softplus_vjp(x):
        return api.log(1.0 + api.exp(x))

    softplus_vjp.defvjp(lambda x: (softplus_vjp(x), x), lambda x, g: (g * api.sigmoid(x),))

    @func.custom_jvp
    def softplus_jvp(x):
        return api.log(1.0 + api.exp(x))

    softplus_jvp.defjvp(lambda p, t: (softplus_jvp(p[0]), t[0] * api.sigmoid(p[0])))

    class Cube(Function):
        """x ** 3 with a backward on NumPy arrays and no jvp: first order only."""

        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x ** 3

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_arrays
            return 3 * x ** 2 * g

    model = nn.Sequential(nn.Linear(2, 2, rng=0), nn.Tanh(), nn.Linear(2, 1, rng=1))
    names = [k for k, _ in model.named_parameters()]
    shapes = [p.shape for _, p in model.named_parameters()]
    X = np.array([[0.5, -1.0], [1.5, 0.25]])

    def module(x):
        params, start = {}, 0
        for k, shape in zip(names, shapes):
            size = int(np.prod(shape))
            params[k] = x[start:start + size].reshape(shape)
            start += size
        return func.functional_call(model, params, (X,)).reshape(-1)

    def numpy_code(x):
        """Ordinary NumPy code: ufuncs and array functions dispatched to microgradnp by the Tensor."""
        return np.tanh(x) * np.einsum("i,i->", x, x) + np.sum(np.exp(-x)) - np.concatenate([x[1:], x[:1]]) ** 2

    x = np.array([0.3, -1.2, 0.7])
    return {
        "custom_vjp": (softplus_vjp, x),
        "custom_jvp": (softplus_jvp, x),
        "Function (NumPy backward)": (Cube.apply, x),
        "nn.Module (functional_call)": (module, np.concatenate([p._data.reshape(-1) for p in model.parameters()])),
        "NumPy code on Tensors": (numpy_code, x),
    }


#: The subjects' names: every differentiable registry op, then :func:`subjects`.
SUBJECTS = ("every differentiable registry op", "custom_vjp", "custom_jvp", "Function (NumPy backward)",
            "nn.Module (functional_call)", "NumPy code on Tensors")


def _cell(subject: str, chain) -> str:
    found = documented(None if subject == SUBJECTS[0] else subject, chain)
    return "✓" if found is None else found[2]


def support_markdown() -> str:
    """The matrix as the docs show it: what each subject does under each transform and pair of transforms.

    Examples
    --------
    >>> print(support_markdown().splitlines()[0])
    ## Each transform alone
    """
    lines = ["| | " + " | ".join(f"`{t}`" for t in TRANSFORMS) + " |", "|---" * (len(TRANSFORMS) + 1) + "|"]
    for subject in SUBJECTS:
        lines.append(f"| {subject} | " + " | ".join(_cell(subject, (t,)) for t in TRANSFORMS) + " |")
    out = ["## Each transform alone", "", *lines, ""]
    groups: dict = {}
    for subject in SUBJECTS:
        key = tuple(_cell(subject, (a, b)) for a in TRANSFORMS for b in TRANSFORMS)
        groups.setdefault(key, []).append(subject)
    for cells, names in groups.items():
        out += [f"## Pairs: {', '.join(names)}", "",
                "Rows: the outer transform; columns: the inner one (`vmap` row, `grad` column: `vmap(grad(f))`).", "",
                "| outer \\ inner | " + " | ".join(f"`{t}`" for t in TRANSFORMS) + " |",
                "|---" * (len(TRANSFORMS) + 1) + "|"]
        it = iter(cells)
        for a in TRANSFORMS:
            out.append(f"| `{a}` | " + " | ".join(next(it) for _ in TRANSFORMS) + " |")
        out.append("")
    out += ["## Triples", "", "| | " + " | ".join(f"`{' o '.join(c)} o f`" for c in TRIPLES) + " |",
            "|---" * (len(TRIPLES) + 1) + "|"]
    for subject in SUBJECTS:
        out.append(f"| {subject} | " + " | ".join(_cell(subject, c) for c in TRIPLES) + " |")
    out += ["", "## What the other cells mean", "", "✓: equals its reference (central differences in float64, "
            "a loop over the examples, the Jacobian's columns).", ""]
    out += [f"* **{label}**: {meaning}." for label, meaning in LABELS.items()]
    return "\n".join(out) + "\n"
