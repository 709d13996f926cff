"""NumPy functions called on Tensors (NEP 18, ``Tensor.__array_function__``): the registry's
functions record their op, value-only functions see the arrays, the rest are refused by name."""

import inspect

import numpy as np
import pytest

import microgradnp as mg
from microgradnp.api import FUNCTIONS
from microgradnp.ops import REGISTRY
from microgradnp.testing import gradcheck

rng = np.random.default_rng(3)
C = rng.standard_normal((2, 4))


def T(a):
    return mg.tensor(np.asarray(a, dtype=float), requires_grad=True)


def test_every_registry_function_with_a_numpy_twin_is_routed():
    routed = 0
    for op in REGISTRY.values():
        if not op.public:
            continue
        home = np if op.namespace is None else getattr(np, op.namespace)
        for name in (op.adapter.__name__, *op.aliases):
            twin = getattr(home, name, None)
            if callable(twin) and not isinstance(twin, np.ufunc) and hasattr(twin, "_implementation"):
                assert mg.Tensor._functions[twin] is FUNCTIONS[name], name
                routed += 1
    assert routed >= 60


def test_numpy_keyword_names_reach_our_functions():
    # Every parameter of ours after the data is one of NumPy's (or PyTorch's dim/keepdim spellings),
    # so np.f(t, name=value) means what it means in NumPy.
    for np_f, f in mg.Tensor._functions.items():
        try:
            params = inspect.signature(np_f).parameters
        except (TypeError, ValueError):  # C functions without a signature
            continue
        if any(p.kind is p.VAR_KEYWORD for p in params.values()):  # np.pad's constant_values, ...
            continue
        theirs = set(params)
        ours = list(inspect.signature(f).parameters)[1:]
        unknown = [n for n in ours if n not in theirs and n not in ("dim", "keepdim", "dims", "min", "max")]
        assert not unknown, f"np.{np_f.__name__}: our {unknown} are not NumPy's names"


def test_positional_arguments_are_read_by_numpys_signature():
    t = T([[1.0, 2.0], [3.0, 4.0]])
    assert np.sum(t, 0, None, None, True).shape == (1, 2)  # axis, dtype, out, keepdims
    assert np.sum(t, 0, None).shape == (2,)
    np.testing.assert_array_equal(np.clip(t, 2.0, 3.0).data, [[2.0, 2.0], [3.0, 3.0]])
    np.testing.assert_array_equal(np.nan_to_num(T([np.nan, 1.0]), True, 5.0).data, [5.0, 1.0])
    with pytest.raises(TypeError, match="copy=False"):
        np.nan_to_num(t, False)


@pytest.mark.parametrize(
    "call",
    [
        lambda a, b: np.sum(a * b, axis=0),
        lambda a, b: np.mean(np.tensordot(a, b, axes=([1], [1]))),
        lambda a, b: np.linalg.inv(a @ b.T + 3 * np.eye(3)),
        lambda a, b: np.sinc(a) + np.cos(b),
        lambda a, b: np.concatenate([a, b], axis=1),
        lambda a, b: np.stack(np.split(a, 2, axis=1)),
        lambda a, b: np.linalg.norm(a - b, axis=1),
        lambda a, b: np.einsum("ij,kj->ik", a, b),
        lambda a, b: np.dot(C, b.T) + np.sum(a),  # an array and a Tensor
        lambda a, b: np.where(a.data > 0, a, b),
        lambda a, b: np.linalg.slogdet(a @ b.T + 3 * np.eye(3))[1],
    ],
)
def test_numpy_functions_on_tensors_record_and_differentiate(call):
    a, b = T(rng.standard_normal((3, 4))), T(rng.standard_normal((3, 4)))
    out = call(a, b)
    assert isinstance(out, mg.Tensor) and out.requires_grad
    assert gradcheck(call, (a, b))


def test_the_numpy_result_is_the_numpy_value():
    a = rng.standard_normal((3, 3)) + 3 * np.eye(3)
    np.testing.assert_array_equal(np.linalg.inv(T(a)).data, np.linalg.inv(a))
    np.testing.assert_array_equal(np.cumsum(T(a), axis=1).data, np.cumsum(a, axis=1))
    np.testing.assert_array_equal(np.trace(T(a)).data, np.trace(a))


def test_value_only_functions_see_the_arrays():
    t = T([[1.0, 0.0], [3.0, 4.0]])
    assert np.shape(t) == (2, 2) and np.ndim(t) == 2 and np.size(t) == 4
    assert np.allclose(t, t.data) and np.array_equal(t, t.data)
    np.testing.assert_array_equal(np.nonzero(t)[1], [0, 0, 1])
    assert np.count_nonzero(t) == 3


def test_unsupported_numpy_functions_are_refused_by_name():
    t = T([1.0, 2.0, 2.0])
    with pytest.raises(TypeError, match=r"np\.unique is not differentiable"):
        np.unique(t)
    with pytest.raises(TypeError, match=r"np\.linalg\.cond is not differentiable"):
        np.linalg.cond(T(np.eye(2)))


def test_numpy_arguments_we_lack_are_dropped_at_their_defaults_and_refused_otherwise():
    t = T([1.0, 2.0])
    assert float(np.sum(t, out=None).data) == 3.0
    with pytest.raises(TypeError, match=r"np\.sum on Tensors records microgradnp's sum.*dtype="):
        np.sum(t, dtype=np.float32)
    with pytest.raises(TypeError, match=r"np\.sort.*kind='heapsort'"):
        np.sort(t, kind="heapsort")
