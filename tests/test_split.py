"""The split family: NumPy's sections and indices, each piece recorded as a slice of the input."""

import numpy as np
import pytest

import microgradnp as mg
from microgradnp.testing import gradcheck


@pytest.mark.parametrize("how", [2, [3, -2], [4, 1], [0, 20]])
def test_split_matches_numpy(how):
    a = np.arange(12.0).reshape(6, 2)
    for name in ("split", "array_split", "vsplit"):
        got = getattr(mg, name)(mg.tensor(a), how)
        want = getattr(np, name)(a, how)
        assert [p.shape for p in got] == [p.shape for p in want]
        for p, q in zip(got, want):
            np.testing.assert_array_equal(p.data, q)


def test_array_split_allows_unequal_sections_and_split_refuses_them():
    x = mg.tensor(np.arange(10.0), requires_grad=True)
    pieces = mg.array_split(x, 3)
    assert [p.shape for p in pieces] == [(4,), (3,), (3,)]
    (pieces[0].sum() * 2 + pieces[2].sum()).backward()
    np.testing.assert_array_equal(x.grad, [2, 2, 2, 2, 0, 0, 0, 1, 1, 1])
    with pytest.raises(ValueError, match="does not split into 3 equal sections; use array_split"):
        mg.split(x, 3)
    with pytest.raises(ValueError, match="must be positive"):
        mg.array_split(x, 0)


def test_hsplit_vsplit_dsplit_pick_numpys_axes():
    a = np.arange(24.0).reshape(2, 4, 3)
    assert [p.shape for p in mg.hsplit(mg.tensor(a), 2)] == [(2, 2, 3)] * 2
    assert [p.shape for p in mg.dsplit(mg.tensor(a), [1])] == [(2, 4, 1), (2, 4, 2)]
    assert [p.shape for p in mg.hsplit(mg.tensor(np.arange(4.0)), 2)] == [(2,), (2,)]
    with pytest.raises(ValueError, match="vsplit needs at least two dimensions"):
        mg.vsplit(mg.tensor(np.arange(4.0)), 2)
    with pytest.raises(ValueError, match="dsplit needs at least three dimensions"):
        mg.dsplit(mg.tensor(a[0]), 2)


@pytest.mark.parametrize("name", ["vstack", "hstack", "dstack", "column_stack"])
@pytest.mark.parametrize("shapes", [[(3,), (3,)], [(2, 3), (2, 3)], [(), ()], [(2, 3, 1), (2, 3, 2)]])
def test_the_stacking_family_is_numpys_and_differentiable(name, shapes):
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal(s) for s in shapes]
    try:
        expected = getattr(np, name)(arrays)
    except ValueError:
        with pytest.raises(ValueError):
            getattr(mg, name)([mg.tensor(a) for a in arrays])
        return
    tensors = [mg.tensor(a, requires_grad=True) for a in arrays]
    out = getattr(np, name)(tensors)  # NumPy's own name records it
    np.testing.assert_array_equal(out.detach().numpy(), expected)
    assert gradcheck(lambda *xs: getattr(mg, name)(list(xs)), tuple(tensors))
