"""``mg.compile`` on tensors of another array library: the replay equals eager for every registry op and for
random training programs, on torch CPU and array-api-strict; the guards notice a change of library or device.

The replay runs each op's forward on the library's namespace (the NumPy-only forms of the pipeline, operators
on ufuncs, buffers, inlined NumPy forwards, are written for NumPy ops only), so a step traced on torch computes
on torch at every call, and a torch step called with NumPy arrays (or another device) traces again.
"""

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import microgradnp as mg
from microgradnp import backends
from microgradnp.compiler import PASSES
from microgradnp.engine import apply
from microgradnp.ops import REGISTRY
from microgradnp.testing import strategies as mst

from ..compiler.test_replay import _UNARY, DECIDE_FROM_VALUES, training_program
from .test_registry_on_libraries import LIBRARIES, gap_errors
from .test_tensors_on_libraries import _on

FEW = settings(max_examples=max(5, settings().max_examples // 4), deadline=None)


def _fresh(library, inputs, scale=1.0):
    """New tensors of ``library`` with the values of ``inputs`` (those that require grad scaled)."""
    return [_on(library, mg.tensor(x.numpy() * scale, dtype=x.dtype) if x.requires_grad else x) for x in inputs]


def _same(got: mg.Tensor | None, want: mg.Tensor | None, library: str, what: str):
    assert (got is None) == (want is None), what
    if got is None:
        return
    assert got.library == library, f"{what}: the result left {library} for {got.library}"
    assert got.shape == want.shape, what
    np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-12, atol=1e-12, err_msg=what)


@pytest.mark.parametrize("library", LIBRARIES)
@pytest.mark.parametrize("name", sorted(REGISTRY))
@FEW
@given(data=st.data())
def test_every_op_replays_as_eager_on_the_library(name, library, data):
    # The op and its backward pass (a random upstream gradient), traced on one draw and replayed on another.
    op = REGISTRY[name]
    inputs, attrs = data.draw(mst.op_inputs(op), label="inputs")
    errors = gap_errors(library, name)
    try:
        shape = apply(op, tuple(_fresh(library, inputs)), attrs).shape
    except errors:
        return  # a known gap of the library: refused by name, never another number
    u = backends.from_numpy(np.random.default_rng(0).standard_normal(shape), library)

    def f(*xs):
        out = apply(op, xs, attrs)
        if op.differentiable and out.requires_grad:  # (in a trace, a comparison's result is followed too)
            (out * u).sum().backward()
        return out

    try:
        expected_inputs = _fresh(library, inputs, 1.05)
        expected = f(*expected_inputs)
    except (np.linalg.LinAlgError, ValueError):
        return  # the scaled draw left the op's domain
    except errors:
        return  # a known gap of the library (in its backward pass)
    step = mg.compile(f)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            step(*_fresh(library, inputs))
        except errors:
            return  # a known gap (the traced backward records its index arrays on the library, as create_graph)
        replayed = _fresh(library, inputs, 1.05)
        out = step(*replayed)
    _same(out, expected, library, f"{name}: the result")
    for i, (r, e) in enumerate(zip(replayed, expected_inputs)):
        _same(r.grad, e.grad, library, f"{name}: the gradient of input {i}")
    if name in DECIDE_FROM_VALUES and op.differentiable:
        assert step.stats["replays"] == 0 and any("runs eagerly" in str(w.message) for w in caught)
    else:
        assert step.stats == {**step.stats, "traces": 1, "replays": 1, "eager_calls": 0}, step.code


_PROGRAMS = dict(program=st.lists(st.sampled_from(sorted(_UNARY)), min_size=1, max_size=5),
                 optimizer=st.sampled_from(["sgd", "momentum", "adam", "by hand"]), seed=st.integers(0, 2 ** 16))


def _compiled_program_equals_eager(library, program, optimizer, seed, passes=None):
    rng = np.random.default_rng(seed)
    X, W0, V0 = rng.standard_normal((4, 3)), rng.standard_normal((3, 5)), rng.standard_normal((5, 2))
    eager, eager_params = training_program(program, optimizer, W0, V0, library)
    compiled_fn, params = training_program(program, optimizer, W0, V0, library)
    compiled = mg.compile(compiled_fn, passes=passes, fullgraph=True)
    with np.errstate(all="ignore"):  # a program of squares may diverge: then both must diverge alike
        for k in range(4):
            x = mg.tensor(X * (1.0 + 0.1 * k)).to(library)
            _same(compiled(x), eager(x), library, f"the loss of step {k}")
    for i, (p, q) in enumerate(zip(params, eager_params)):
        _same(p, q, library, f"parameter {i}")
    assert compiled.stats["traces"] == 1 and compiled.stats["replays"] == 3
    return compiled


@pytest.mark.parametrize("library", LIBRARIES)
@FEW
@given(**_PROGRAMS)
def test_random_training_programs_compiled_on_the_library_equal_eager(library, program, optimizer, seed):
    _compiled_program_equals_eager(library, program, optimizer, seed)


@pytest.mark.parametrize("library", LIBRARIES)
@pytest.mark.parametrize("off", sorted(PASSES))
@settings(max_examples=3, deadline=None)
@given(**_PROGRAMS)
def test_random_training_programs_on_the_library_with_each_pass_off(library, off, program, optimizer, seed):
    _compiled_program_equals_eager(library, program, optimizer, seed, passes=[p for p in PASSES if p != off])


@pytest.mark.parametrize("library", LIBRARIES)
def test_the_replay_computes_on_the_library_with_no_numpy_form(library):
    step = _compiled_program_equals_eager(library, ["tanh", "scale"], "adam", 0)
    code = step.code
    # NumPy's forms (operators on ufuncs, a.dot(b), out= buffers, inlined NumPy forwards) are not written for
    # another library's ops: each line calls the op's forward on the library's namespace.
    assert ".dot(" not in code and "out=B[" not in code and "np." not in code, code
    assert "matmul(" in code and "tanh(" in code


@pytest.mark.parametrize("library", LIBRARIES)
def test_a_step_traced_on_the_library_traces_again_for_numpy_or_another_device(library):
    step = mg.compile(lambda x: (mg.tanh(x) * 2.0).sum())
    x = np.array([0.5, -1.0])
    on_library = step(mg.tensor(x).to(library))
    assert on_library.library == library and step.stats["traces"] == 1
    on_numpy = step(mg.tensor(x))  # same shape and dtype, another library: not the library's program
    assert on_numpy.library == "numpy" and step.stats["traces"] == 2
    np.testing.assert_allclose(on_numpy.numpy(), on_library.numpy(), rtol=1e-12)
    again = step(mg.tensor(2.0 * x).to(library))  # the library's program, replayed
    assert again.library == library and step.stats == {**step.stats, "traces": 2, "replays": 1}
    np.testing.assert_allclose(again.numpy(), (np.tanh(2.0 * x) * 2.0).sum(), rtol=1e-12)
    raw = step(backends.from_numpy(x, library))  # the library's own array as the argument: traced as NumPy's are
    assert raw.library == library and step.stats["traces"] == 3
    assert step(backends.from_numpy(x, library)).library == library and step.stats["replays"] == 2
    if library == "array_api_strict":  # devices that refuse to be mixed, as CUDA's do
        import array_api_strict as strict

        other = mg.tensor(strict.asarray(x, device=strict.Device("device1")))
        out = step(other)
        assert out.device == other.device and step.stats["traces"] == 4
        np.testing.assert_allclose(out.numpy(), on_numpy.numpy(), rtol=1e-12)


@pytest.mark.parametrize("library", LIBRARIES)
def test_parameters_moved_to_another_library_trace_again(library):
    # The closure's tensors are guarded by their library too: a model moved after tracing is not replayed with
    # the program of its old arrays.
    w = mg.tensor(np.array([1.0, 2.0]), requires_grad=True)
    step = mg.compile(lambda x: (x * w).sum())
    step(np.ones(2))
    w.data = backends.from_numpy(np.array([3.0, 4.0]), library)
    out = step(backends.from_numpy(np.ones(2), library))
    assert out.library == library and out.item() == 7.0 and step.stats["traces"] == 2


def test_numba_compiles_numpy_arrays_and_says_so_for_others():
    torch = pytest.importorskip("torch")
    pytest.importorskip("numba")
    step = mg.compile(lambda x: (mg.tanh(x) * 2.0).sum(), backend="numba")
    with pytest.warns(RuntimeWarning, match=r"NumPy backend, not numba: .*torch"):
        out = step(mg.tensor(torch.ones(3, dtype=torch.float64)))
    assert out.library == "torch"
