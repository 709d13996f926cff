"""The registry as data: NumPy-only VJPs agree with the generic rule, no forward or VJP calls NumPy directly,
VJPs use only the shared vocabulary, each op is exposed where its entry says, and an op is one entry.
"""

import types

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import microgradnp as mg
from microgradnp.engine import TENSOR_NS
from microgradnp.ops import REGISTRY, xp
from microgradnp.testing import strategies as mst

WITH_NUMPY_FORM = sorted(name for name, op in REGISTRY.items() if op.has_numpy_form)


def test_some_ops_have_a_numpy_form():
    assert {"sigmoid", "tanh", "squared_error", "bce_with_logits"} <= set(WITH_NUMPY_FORM)


@pytest.mark.parametrize("name", WITH_NUMPY_FORM)
@given(data=st.data())
def test_numpy_only_vjps_agree_with_the_generic_rule(name, data):
    op = REGISTRY[name]
    inputs, attrs = data.draw(mst.op_inputs(op), label="inputs")
    arrays = [x.numpy() for x in inputs]
    out = np.asarray(op.bind(xp)(*arrays, **attrs))
    g = data.draw(mst.arrays(shape=out.shape), label="upstream")
    for i, (fast, generic) in enumerate(zip(op.numpy_vjps[:len(arrays)], op.vjps)):  # (getitem: 1 or 2 inputs)
        a = fast(xp, g.copy(), out, *arrays, **attrs)
        b = generic(xp, g.copy(), out, *arrays, **attrs)
        np.testing.assert_allclose(np.broadcast_to(a, np.shape(b)), b, rtol=1e-12, atol=1e-14, err_msg=f"input {i}")


def _referenced_globals(fn, seen):
    """The global names a function's code uses, following the helpers of the ops package."""
    code = fn.__code__
    stack, names = [code], set()
    while stack:
        c = stack.pop()
        names |= set(c.co_names)
        stack.extend(k for k in c.co_consts if isinstance(k, types.CodeType))
    found = set()
    for n in names:
        target = fn.__globals__.get(n)
        if isinstance(target, types.ModuleType):
            found.add(target.__name__)
        elif isinstance(target, types.FunctionType) and target.__module__.startswith("microgradnp.ops.") \
                and target.__module__ != "microgradnp.ops.xp" and target not in seen:
            seen.add(target)
            found |= _referenced_globals(target, seen)
    return found


def _rules(op):
    forward = () if isinstance(op.forward, str) else (op.forward,)  # a name: the namespace's own function
    for f in (*forward, *(op.vjps or ()), op.vjp_all, *(op.numpy_vjps or ()), op.numpy_vjp_all):
        if f is not None:
            yield f


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_forwards_and_vjps_call_no_numpy_directly(name):
    for f in _rules(REGISTRY[name]):
        modules = _referenced_globals(f, set())
        assert "numpy" not in modules and "scipy.special" not in modules, f"{name}: {f.__qualname__} uses {modules}"


def _ns_names(fn, seen):
    """Every ``ns.<name>`` in a function and the ops helpers it calls."""
    import dis

    names = set()
    code_objs = [fn.__code__]
    while code_objs:
        c = code_objs.pop()
        code_objs.extend(k for k in c.co_consts if isinstance(k, types.CodeType))
        instrs = list(dis.get_instructions(c))
        for a, b in zip(instrs, instrs[1:]):
            if a.opname in ("LOAD_FAST", "LOAD_DEREF") and a.argval == "ns" and b.opname in ("LOAD_ATTR", "LOAD_METHOD"):
                names.add(b.argval)
    for n in fn.__code__.co_names:
        target = fn.__globals__.get(n)
        if isinstance(target, types.FunctionType) and target.__module__.startswith("microgradnp.ops.") \
                and target not in seen:
            seen.add(target)
            names |= _ns_names(target, seen)
    return names


@pytest.mark.parametrize("name", sorted(name for name, op in REGISTRY.items() if op.differentiable))
def test_generic_vjps_use_only_the_shared_vocabulary(name):
    op = REGISTRY[name]
    for f in (*(op.vjps or ()), op.vjp_all, op.jvp if callable(op.jvp) else None):
        if f is not None:
            used = _ns_names(f, set())
            assert used <= set(xp.VJP_VOCABULARY), f"{name}: {f.__qualname__} uses ns.{used - set(xp.VJP_VOCABULARY)}"


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_a_forward_named_by_a_string_is_a_namespace_function(name):
    op = REGISTRY[name]
    if isinstance(op.forward, str):
        assert callable(getattr(xp, op.forward, None)), f"{name}: xp has no {op.forward!r}"
        assert op.bind(xp) is getattr(xp, op.forward)


def test_both_namespaces_offer_the_whole_vocabulary():
    for n in xp.VJP_VOCABULARY:
        assert callable(getattr(xp, n)) and callable(getattr(TENSOR_NS, n)), n


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_every_op_is_exposed_where_its_entry_says(name):
    op = REGISTRY[name]
    f = mg.api.FUNCTIONS[op.adapter.__name__]
    assert f.op is op and f.__doc__ == op.adapter.__doc__
    if op.public:
        assert ">>>" in f.__doc__, f"{name}: a public function needs a runnable example"
        home = mg if op.namespace is None else getattr(mg, op.namespace)
        for n in (op.adapter.__name__, *op.aliases):
            assert getattr(home, n) is f and n in home.__all__
    else:
        assert not hasattr(mg, op.adapter.__name__)
    for n in op.methods:
        assert getattr(mg.Tensor, n) is f
    for n in op.operators:
        assert n in vars(mg.Tensor)
    for n in op.ufuncs:  # the NumPy ufunc on Tensors records this op
        ufunc = getattr(np, n)
        domain = op.test.domain
        domains = domain if isinstance(domain[0], tuple) else (domain,) * ufunc.nin
        args = [mg.tensor([lo + 0.3 * (hi - lo), lo + (0.7 + 0.05 * i) * (hi - lo)], requires_grad=True)
                for i, (lo, hi) in enumerate(domains)]  # inside the op's domain (arccos(2) is NaN)
        out = ufunc(*args)
        assert isinstance(out, mg.Tensor), n
        np.testing.assert_array_equal(out.data, ufunc(*[a.numpy() for a in args]))
        if op.differentiable:
            assert out.op == name and out.requires_grad, n
        else:  # comparisons give plain boolean leaves
            assert out.op is None and not out.requires_grad, n


def test_adding_an_op_is_one_entry(monkeypatch):
    """A new entry, through the same machinery api uses, gives a recording function with its property test."""
    from microgradnp.engine import function
    from microgradnp.ops.registry import OpTest, defop

    monkeypatch.setattr("microgradnp.ops.registry.REGISTRY", dict(REGISTRY))

    @defop(forward=lambda xp, a: a * a * a, vjp=lambda ns, g, out, a: g * 3 * a * a,
           formula="a^3;  da = 3 g a^2", test=OpTest("unary", ref=lambda a: a ** 3))
    def cube(x):
        """x cubed.

        >>> 1
        1
        """
        return (x,), None

    x = mg.tensor([1.0, 2.0], requires_grad=True)
    function(cube)(x).sum().backward()
    np.testing.assert_array_equal(x.grad, [3.0, 12.0])
    assert mg.testing.gradcheck(function(cube), mg.tensor([0.5, -1.5], requires_grad=True))
