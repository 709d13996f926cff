"""The op registry: every operation, its forward and its VJP side by side, as plain data.

An :class:`Op` holds everything about one operation, in one place:

* ``forward(xp, *arrays, **attrs)``: the value, written with the array
  namespace ``xp`` (:mod:`microgradnp.ops.xp` for NumPy), never ``np.``;
  or, when the forward is one namespace function as it is, that function's
  name (``"exp"`` for ``xp.exp``);
* ``vjps``: one vector-Jacobian product per input,
  ``vjp(ns, g, out, *inputs, **attrs)``, the gradient with respect to that
  input given the upstream gradient ``g`` (or one ``vjp_all`` for ops with a
  variable number of inputs);
* ``jvp``: the Jacobian-vector product (forward mode), the tangent of the
  output given the inputs' tangents: ``jvp(ns, tangents, out, *inputs,
  **attrs)``, or one of :data:`JVP_KINDS`, which derive it from what is
  already there (elementwise ops: the VJP applied to the tangent; linear
  ops: the forward applied to it; ...), or ``None``: derived by transposing
  the VJP (always right, costs one recorded VJP and one VJP of it);
* ``batch``: how :func:`microgradnp.func.vmap` runs the op on a batch of
  inputs at once (one of :data:`BATCH_KINDS`, or a function); ops without
  one run once per example, in a loop;
* ``jvp_rule`` and ``batch_rule``: those two rules as functions, built once
  from the kinds when the op is made (:mod:`microgradnp.ops.rules`), which
  is what the interpreters call;
* ``indices``: the positions of inputs that are integer indices or boolean
  masks (``pick``'s labels, ``where``'s condition): no gradient, no tangent;
* ``numpy_vjps``: optionally, a NumPy-only form of the same rule that is
  measurably faster; the registry tests check that it agrees with ``vjps``;
* ``formula``: the forward and the VJP in one line of math;
* ``test``: an :class:`OpTest` with what the property tests need;
* ``adapter``: the public function's signature and docstring; it turns the
  user's arguments into ``(inputs, attrs)``;
* where the op is exposed: as a Tensor method, as operators, as a NumPy ufunc,
  in a sub-namespace (``mg.linalg``);
* ``unpack``: for an op with several results (``eigh``: eigenvalues and
  eigenvectors), how the public function splits its one packed output.

This module is pure data: it imports nothing from the rest of the package.
``microgradnp.api`` turns the registry into the public functions, the Tensor
methods and operators, the ufunc table and ``__all__``; the engine runs the
forwards and the VJPs.

Adding an op is one :func:`defop` entry in one ``ops/*.py`` file: the
decorated function is the adapter, and everything else comes from it.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Callable

from . import rules

__all__ = ["Op", "OpTest", "REGISTRY", "JVP_KINDS", "BATCH_KINDS", "defop", "concrete_value"]

#: Every registered op, by name.  The name is the graph label and the test id.
REGISTRY: dict[str, "Op"] = {}

#: The JVP rules derived from the rest of an entry (:mod:`microgradnp.ops.rules` builds them):
#:
#: * ``"elementwise"``: each output element depends on the matching (broadcast)
#:   element of each input, so the Jacobian is diagonal and the JVP is the VJP
#:   applied to the tangent: ``sum_i vjp_i(t_i)``;
#: * ``"linear"``: linear in its data inputs taken together (the inputs at
#:   ``indices`` are indices or masks): the JVP is the forward applied to the
#:   tangents (zeros for data inputs without one, an integer constant included);
#: * ``"multilinear"``: linear in each floating-point input separately
#:   (``matmul``, ``einsum``): ``sum_i f(..., t_i, ...)``;
#: * ``"reduction"``: one input, each output element reducing its own slice
#:   over ``axis`` (``keepdims`` as given): ``sum(vjp(1) * t, axis)``.
JVP_KINDS = ("elementwise", "linear", "multilinear", "reduction")

#: The batching rules of :func:`microgradnp.func.vmap`, the batch axis first:
#:
#: * ``"elementwise"``: NumPy broadcasting, with the batch axis of each batched
#:   input kept in front (size-1 axes inserted after it); the default of every
#:   op whose ``jvp`` is ``"elementwise"``;
#: * ``"reshape"``: the op only reshapes (row-major order kept): the batch
#:   reshaped to the batch size plus the example's result shape;
#: * ``"reduce"``: the ``axis`` attribute shifted past the batch axis, ``None``
#:   meaning every axis of the example;
#: * ``"axis"``: the same, but ``axis=None`` (which flattens) runs once per example;
#: * ``"trailing"``: the forward already treats leading axes as a stack (``inv``,
#:   ``tril``): the batch runs through it as it is.
#:
#: A function ``batch(ns, args, batched, size, **attrs)`` gets the inputs
#: (on the level below the transform, batch axis first where ``batched[i]``)
#: and the batch size, and returns the batched result, computed with the
#: namespace ``ns`` (or ``None``: run once per example); see
#: :mod:`microgradnp.ops.rules`.
BATCH_KINDS = ("elementwise", "reshape", "reduce", "axis", "trailing")


@dataclass(frozen=True)
class OpTest:
    """Test metadata of an op, read by :func:`microgradnp.testing.strategies.op_inputs`.

    Parameters
    ----------
    sig
        Input signature: how inputs and attributes are drawn (a key of
        ``microgradnp.testing.strategies.SIGNATURES``).
    ref
        An independent NumPy reference for the forward, called like the
        forward without its namespace (``ref(*arrays, **attrs)``).
    domain
        ``(lo, hi)`` for every input, or one ``(lo, hi)`` per input.
    kinks
        Points where the op is not differentiable; drawn elements stay at
        least ``margin`` away from them (by construction, not by rejection).
    margin
        Distance kept from kinks, ties and between the inputs of
        ``maximum``/``minimum``.
    distinct
        Elements along a reduction must differ by ``margin`` (``max``/``min``
        ties are kinks).
    apart
        The two inputs must differ elementwise by ``margin``.
    smooth
        Second derivatives are checked (``gradgradcheck``).  Piecewise-linear
        ops are included: their second derivative is zero away from kinks.
    rtol
        Relative tolerance of the forward against ``ref``.
    gauge
        For results fixed only up to sign (eigenvectors, singular vectors,
        QR factors): ``gauge(out, **attrs)``, an array of +-1 of ``out``'s
        shape that fixes each sign by a rule that is continuous where inputs
        are drawn.  LAPACK's own choice of sign can flip under a perturbation
        of 1e-6, which finite differences would see as a jump; the
        derivative tests differentiate ``out * gauge(out)`` instead.
    """

    sig: str
    ref: Callable | None = None
    domain: tuple = (-3.0, 3.0)
    kinks: tuple = ()
    margin: float = 1e-3
    distinct: bool = False
    apart: bool = False
    smooth: bool = True
    rtol: float = 1e-12
    gauge: Callable | None = None


class Op:
    """One registered operation (see the module docstring for its fields).

    ``op(*inputs, **attrs)`` runs it on its internal inputs and attributes
    (the engine installs the call); users call the public function instead
    (``mg.exp``, ``x.sum(axis=0)``), which has the real signature.
    """

    __slots__ = (
        "name", "forward", "vjps", "vjp_all", "jvp", "batch", "numpy_vjps", "numpy_vjp_all", "formula", "test", "adapter",
        "methods", "properties", "operators", "ufuncs", "aliases", "public", "namespace", "unpack", "differentiable",
        "indices", "makes_complex", "jvp_rule", "batch_rule", "run",
        "__weakref__",
    )

    def __init__(self, name, forward, *, vjps=None, vjp_all=None, jvp=None, batch=None, numpy_vjps=None, numpy_vjp_all=None,
                 formula="", test=None, adapter=None, methods=(), properties=(), operators=(), ufuncs=(), aliases=(),
                 public=True, namespace=None, unpack=None, differentiable=True, indices=(), makes_complex=False):
        self.name = name
        self.forward = forward
        self.vjps = vjps
        self.vjp_all = vjp_all
        if isinstance(jvp, str) and jvp not in JVP_KINDS:
            raise ValueError(f"op {name!r}: jvp must be a function or one of {JVP_KINDS}, got {jvp!r}")
        self.jvp = jvp
        if batch is None and jvp == "elementwise":
            batch = "elementwise"  # an elementwise op batches by broadcasting: one fact, stated once
        if isinstance(batch, str) and batch not in BATCH_KINDS:
            raise ValueError(f"op {name!r}: batch must be a function or one of {BATCH_KINDS}, got {batch!r}")
        self.batch = batch
        # The rules the engine uses on arrays: the NumPy-only form where there is one.
        self.numpy_vjps = numpy_vjps if numpy_vjps is not None else vjps
        self.numpy_vjp_all = numpy_vjp_all if numpy_vjp_all is not None else vjp_all
        self.formula = formula
        self.test = test
        self.adapter = adapter
        self.methods = methods
        self.properties = properties
        self.operators = operators
        self.ufuncs = ufuncs
        self.aliases = aliases
        self.public = public
        self.namespace = namespace
        self.unpack = unpack
        self.differentiable = differentiable
        self.indices = tuple(indices)
        self.makes_complex = makes_complex
        # The rules the interpreters call, built once from the kinds above.
        self.jvp_rule = rules.jvp_rule(self)
        self.batch_rule = rules.batch_rule(self)
        self.run = None  # the forward bound to the engine's namespace; the engine sets it on first use

    def bind(self, xp) -> Callable:
        """The forward as a function of the arrays (and attributes) alone, on namespace ``xp``.

        A forward named by a string is the namespace's own function, called
        directly: one Python frame less per operation than a ``lambda xp, a:
        xp.exp(a)`` (0.1-0.15 us of an op's 1.5 us on small arrays, measured).
        """
        if isinstance(self.forward, str):
            return getattr(xp, self.forward)
        return partial(self.forward, xp)

    @property
    def has_numpy_form(self) -> bool:
        """Whether a NumPy-only VJP stands beside the generic one."""
        return self.numpy_vjps is not self.vjps or self.numpy_vjp_all is not self.vjp_all

    def __repr__(self):
        return f"<op {self.name}: {self.formula}>"


def concrete_value(x):
    """``x``'s values for an adapter's check (an array), or ``None`` for a traced tensor, which has none.

    An adapter may look at its arguments' values to refuse bad input (weights
    that sum to zero); a tracer of ``vmap`` stands for many values at once, so
    such a check is left to the op's result there.
    """
    concrete = getattr(x, "_concrete", None)  # a Tensor's: None for a tracer; noted by mg.compile's trace
    return concrete() if concrete is not None else x  # an array already (the NumPy path)


def _names(x) -> tuple:
    if x is None or x is False:
        return ()
    return (x,) if isinstance(x, str) else tuple(x)


def defop(*, forward, vjp=None, vjp_all=None, jvp=None, batch=None, numpy_vjp=None, numpy_vjp_all=None, formula: str, test: OpTest,
          name: str | None = None, method=False, properties=(), operators=(), ufunc=(), aliases=(),
          public: bool = True, namespace: str | None = None, unpack=None, differentiable: bool = True,
          indices: tuple = (), makes_complex: bool = False):
    """Register an op; used as a decorator on its adapter, the public function's signature.

    The decorated function takes the user's arguments and returns
    ``(inputs, attrs)``: the tuple of inputs (Tensors or constants) the
    forward and the VJPs receive, and the dict of keyword attributes (or
    ``None``).  Its name, signature and docstring become the public
    function's.

    Parameters
    ----------
    forward
        ``forward(xp, *arrays, **attrs) -> array``, or the name of the
        namespace function that is the forward as it is (``"exp"``).
    vjp
        One VJP, or a tuple of one per input: ``vjp(ns, g, out, *inputs, **attrs)``.
    vjp_all
        For ops with a variable number of inputs:
        ``vjp_all(ns, g, out, inputs, attrs, needs) -> sequence`` with one
        gradient (or ``None``) per input; ``needs[i]`` says whether input
        ``i`` wants one.
    jvp
        The forward-mode rule: ``jvp(ns, tangents, out, *inputs, **attrs)``
        with one tangent (or ``None``) per input, returning the output's
        tangent; or one of :data:`JVP_KINDS`; or ``None`` (the VJP
        transposed).
    batch
        The batching rule of ``vmap``: one of :data:`BATCH_KINDS`, a function
        (see there), or ``None`` (once per example; ``"elementwise"`` for an op
        whose ``jvp`` is ``"elementwise"``).
    numpy_vjp, numpy_vjp_all
        A faster NumPy-only form of the same rule (optional).
    formula
        One line: the forward and the VJP, in math.
    test
        Test metadata (every op has it; a completeness test enforces it).
    name
        Registry name; defaults to the adapter's name.
    method
        Expose as a Tensor method: ``True`` (same name), a name, or names.
    properties
        Tensor properties that call it with no further argument (``"T"``).
    operators
        Tensor operators bound to it (``"__add__"``; ``"__radd__"`` swaps
        the operands).
    ufunc
        Names of NumPy ufuncs routed to it by ``Tensor.__array_ufunc__``.
    aliases
        Further public names of the same function (``"subtract"`` for ``sub``).
    public
        Expose as ``microgradnp.<name>`` (or ``microgradnp.<namespace>.<name>``).
    namespace
        The sub-namespace the public function lives in (``"linalg"``: NumPy's
        ``np.linalg.inv`` is ``mg.linalg.inv``).
    unpack
        For an op with several results: ``unpack(out, attrs)`` turns the one
        packed Tensor the op records into what the public function returns
        (a named tuple of Tensors, each a slice of ``out``).  The forward and
        the VJPs see the packed array; unused results get zero gradients.
    differentiable
        ``False`` for ops whose result never requires grad (comparisons).
    indices
        Positions of inputs that are integer indices or boolean masks: they
        get no gradient and no tangent, and a linear op's JVP passes them as
        they are.
    makes_complex
        The op may return complex values from real inputs (``fftn``,
        ``astype(complex)``): the engine notes the first such result, after
        which every op looks for complex inputs (see ``ops/complex.py``).
    """
    if (vjp is None) == (vjp_all is None) and differentiable:
        raise ValueError("defop: give either vjp (one per input) or vjp_all")

    def register(adapter):
        op_name = name or adapter.__name__
        if op_name in REGISTRY:
            raise ValueError(f"op {op_name!r} is registered twice")
        methods = _names(method) if method is not True else (adapter.__name__,)
        op = Op(
            op_name, forward,
            vjps=_per_input(vjp), vjp_all=vjp_all, jvp=jvp, batch=batch, numpy_vjps=_per_input(numpy_vjp), numpy_vjp_all=numpy_vjp_all,
            formula=formula, test=test, adapter=adapter, methods=methods, properties=_names(properties),
            operators=_names(operators), ufuncs=_names(ufunc), aliases=_names(aliases), public=public,
            namespace=namespace, unpack=unpack, differentiable=differentiable, indices=indices,
            makes_complex=makes_complex,
        )
        REGISTRY[op_name] = op
        return op

    return register


def _per_input(vjp):
    if vjp is None:
        return None
    return tuple(vjp) if isinstance(vjp, (tuple, list)) else (vjp,)
