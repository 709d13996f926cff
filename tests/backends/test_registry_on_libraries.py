"""Every registry op's forward and VJPs on other array libraries (array-api-strict, torch CPU).

The rules are written once, for a namespace; these tests hand them the namespace of another
library and compare with NumPy's results on the same inputs (NumPy's VJPs are held to finite
differences by the registry's property tests, so agreeing with them is agreeing with the
derivative).  An op that cannot run on a library is listed in ``backends.KNOWN_GAPS`` with the
reason and the exception it raises: such an op may raise that, never return another number.
array-api-strict offers the standard and nothing more, so passing there proves the rules use
only the standard's spellings (keyword ``axis``, ``concat``, no boolean products, ...).
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from microgradnp import backends
from microgradnp.ops import REGISTRY, xp
from microgradnp.testing import strategies as mst


def _library_params():
    params = []
    for library in ("array_api_strict", "torch"):
        try:
            __import__(library)
            __import__("array_api_compat")
            found = True
        except ImportError:
            found = False
        params.append(pytest.param(library, marks=pytest.mark.skipif(not found, reason=f"{library} is not installed")))
    return params


LIBRARIES = _library_params()
FEW = settings(max_examples=max(5, settings().max_examples // 4))


def gap_errors(library: str, name: str) -> tuple:
    """The errors op ``name`` may raise on ``library`` (its ``KNOWN_GAPS`` entry); ``()`` when it must agree."""
    gap = backends.KNOWN_GAPS.get(library, {}).get(name)
    if gap is None:
        return ()
    return gap[1] if isinstance(gap[1], tuple) else (gap[1],)


def _convert(value, library):
    """NumPy arrays (inputs, and index arrays inside attributes) as arrays of ``library``."""
    if isinstance(value, (np.ndarray, np.generic)):
        return backends.from_numpy(value, library)
    if isinstance(value, tuple):
        return tuple(_convert(v, library) for v in value)
    if isinstance(value, list):
        return [_convert(v, library) for v in value]
    if isinstance(value, dict):
        return {k: _convert(v, library) for k, v in value.items()}
    return value


def _back(value):
    return tuple(backends.to_numpy(v) for v in value) if isinstance(value, tuple) else backends.to_numpy(value)


def _close(got, want, rtol, what):
    if isinstance(want, tuple):
        for i, (g, w) in enumerate(zip(got, want)):
            _close(g, w, rtol, f"{what}[{i}]")
        return
    got = np.asarray(got)
    assert got.dtype.kind == np.asarray(want).dtype.kind, f"{what}: dtype {got.dtype} for NumPy's {np.asarray(want).dtype}"
    np.testing.assert_allclose(np.broadcast_to(got, np.shape(want)), want, rtol=rtol, atol=1e-12, err_msg=what)


def _agree_with_numpy(op, library, data):
    inputs, attrs = data.draw(mst.op_inputs(op), label="inputs")
    arrays = [x.numpy() for x in inputs]
    ns = backends.namespace(library)
    out = op.bind(xp)(*arrays, **attrs)
    out = tuple(np.asarray(o) for o in out) if isinstance(out, tuple) else np.asarray(out)
    got = _back(op.bind(ns)(*_convert(arrays, library), **_convert(attrs, library)))
    rtol = max(op.test.rtol, 1e-10)
    if op.test.gauge is not None:  # signs of eigenvectors are LAPACK's choice: compare them fixed
        out, got = out * op.test.gauge(out, **attrs), got * op.test.gauge(got, **attrs)
    _close(got, out, rtol, f"{op.name} forward on {library}")
    if not op.differentiable:
        return
    # The VJPs on the same inputs, output and upstream gradient (NumPy's output: a rule may
    # depend on the sign choices in it).
    out = op.bind(xp)(*arrays, **attrs)
    g = data.draw(mst.arrays(shape=np.shape(out[0] if isinstance(out, tuple) else out)), label="upstream")
    theirs = _convert((g, out, arrays, attrs), library)
    if op.vjps is not None:
        for i, rule in enumerate(op.vjps[:len(arrays)]):
            if i in op.indices:
                continue
            want = rule(xp, g.copy(), out, *arrays, **attrs)
            got = rule(ns, theirs[0], theirs[1], *theirs[2], **theirs[3])
            _close(_back(got), np.asarray(want), rtol, f"{op.name} VJP of input {i} on {library}")
    else:
        needs = [i not in op.indices for i in range(len(arrays))]
        wants = op.vjp_all(xp, g.copy(), out, arrays, attrs, needs)
        gots = op.vjp_all(ns, theirs[0], theirs[1], list(theirs[2]), theirs[3], needs)
        for i, (want, got) in enumerate(zip(wants, gots)):
            if want is not None:
                _close(_back(got), np.asarray(want), rtol, f"{op.name} VJP of input {i} on {library}")


@pytest.mark.parametrize("library", LIBRARIES)
@pytest.mark.parametrize("name", sorted(REGISTRY))
@FEW
@given(data=st.data())
def test_every_op_agrees_with_numpy_or_is_a_known_gap(name, library, data):
    try:
        _agree_with_numpy(REGISTRY[name], library, data)
    except gap_errors(library, name):
        pass  # the listed failure, loud; a wrong number would fail _close instead


@pytest.mark.parametrize("library", LIBRARIES)
def test_the_gaps_name_real_ops_with_a_reason(library):
    for name, (reason, raises) in backends.KNOWN_GAPS[library].items():
        assert name in REGISTRY and len(reason) > 20, name
        assert all(issubclass(e, Exception) for e in (raises if isinstance(raises, tuple) else (raises,))), name


@pytest.mark.parametrize("library", LIBRARIES)
def test_repeated_indices_accumulate_in_the_scatter_add(library):
    """The trap of array_api_extra.at(...).add: ``[1, 1, 0]`` must give ``[2, 1, 0]``."""
    ns = backends.namespace(library)
    values = backends.from_numpy(np.ones(3), library)
    index = backends.from_numpy(np.array([0, 0, 1]), library)
    if library == "array_api_strict":
        with pytest.raises(backends.UnsupportedOnBackend, match="scatter_add.*array_api_strict"):
            ns.index_put(values, (index,), (3,))
        return
    np.testing.assert_array_equal(backends.to_numpy(ns.index_put(values, (index,), (3,))), [2.0, 1.0, 0.0])
    values = backends.from_numpy(np.array([[1.0, 2.0], [3.0, 4.0]]), library)
    columns = backends.from_numpy(np.array([1, 1]), library)  # both columns of values go to column 1
    got = backends.to_numpy(ns.index_put(values, (slice(None), columns), (2, 3)))
    np.testing.assert_array_equal(got, [[0.0, 3.0, 0.0], [0.0, 7.0, 0.0]])


EINSUMS = [("ij,jk->ik", [(2, 3), (3, 4)]), ("ij,jk", [(2, 3), (3, 4)]), ("i,i", [(3,), (3,)]),
           ("i,j->ij", [(2,), (3,)]), ("ii->i", [(3, 3)]), ("ii", [(3, 3)]), ("iij->ji", [(3, 3, 2)]),
           ("...ij,...jk->...ik", [(5, 2, 3), (5, 3, 4)]), ("...ij,jk", [(5, 2, 3), (3, 4)]),
           ("...,...->...", [(2, 3), (3,)]), ("...i,...i->...", [(4, 3), (1, 3)]), ("ij->ji", [(2, 3)]),
           ("ij->", [(2, 3)]), ("ijk,ikl->jl", [(2, 3, 4), (2, 4, 5)]), ("i,i,i->", [(3,), (3,), (3,)]),
           (",->", [(), ()]), ("i,->i", [(3,), ()]), ("ab,cd->abcd", [(2, 2), (3, 1)])]


@pytest.mark.parametrize("library", LIBRARIES)
@pytest.mark.parametrize("subscripts, shapes", EINSUMS, ids=[s for s, _ in EINSUMS])
def test_einsum_written_from_the_standard_equals_numpys(library, subscripts, shapes):
    """What a library without einsum runs (array-api-strict; checked on torch too, beside torch's own)."""
    rng = np.random.default_rng(0)
    operands = [rng.standard_normal(shape) for shape in shapes]
    got = backends.namespace(library)._einsum_from_standard(
        subscripts, *[backends.from_numpy(x, library) for x in operands])
    want = np.einsum(subscripts, *operands)
    assert backends.library_of(got) == library
    np.testing.assert_allclose(backends.to_numpy(got), want, rtol=1e-12, atol=1e-14)
    assert backends.to_numpy(got).shape == want.shape


def test_numpy_arrays_keep_the_fast_path():
    assert backends.namespace_of(np.zeros(2)) is xp
    assert backends.namespace_of(np.float64(1.0)) is xp
