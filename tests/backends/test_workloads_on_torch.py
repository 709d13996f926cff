"""The reference workloads trained on torch CPU tensors: the same losses as on NumPy, in float64.

Each workload's own model and cost (microgradnp.workloads), moved with ``model.to("torch")`` and fed
torch data, against the same program on NumPy.  Step by step the two agree to a few ulps (torch and
NumPy add in different orders); gradient descent keeps them within 1e-12.  Conjugate gradients
amplifies such differences (about 3x per iteration, measured below), so the digits network is held
to 1e-12 over its first iterations and to the same optimum after.
"""

import numpy as np
import pytest

import microgradnp as mg
from microgradnp.nn import functional as F
from microgradnp.workloads import blobs, digits, moons

torch = pytest.importorskip("torch")
pytest.importorskip("array_api_compat")


def _data(x, library: str):
    return mg.tensor(np.asarray(x, dtype=np.float64)).to(library)


def _blobs_losses(library: str, steps: int = 300):
    """Workload 1: the 2-2-2 sigmoid net, per-example SGD on the squared loss, one drawn example per step."""
    X, y, model, rng = blobs.build(replay_seed=True)
    model.to(library)
    targets = blobs.TARGETS[y]
    opt = mg.optim.SGD(model.parameters(), lr=0.1)
    order = np.random.default_rng(5).integers(len(X), size=steps)
    losses = []
    for i in order:
        x, t = _data(X[i], library), _data(targets[i], library)
        loss = 0.5 * ((t - model(x)) ** 2).sum()
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return np.array(losses), model


def test_blobs_per_example_sgd_on_torch_equals_numpy():
    want, _ = _blobs_losses("numpy")
    got, model = _blobs_losses("torch")
    assert all(p.library == "torch" for p in model.parameters())
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)


def _moons_losses(library: str, iters: int = 300):
    """Workload 3: the 2-5-5-2 net on two moons, full-batch gradient descent on its own cost."""
    X, y = mg.data.make_moons(200, noise=0.1, rng=0)
    model = moons.make_model(np.random.default_rng(0)).to(library)
    Xt, Y = _data(X, library), _data(F.one_hot(y, 2), library)
    opt = mg.optim.SGD(model.parameters(), lr=0.5)
    losses = []
    for _ in range(iters):
        loss = moons.cost(model, Xt, Y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return np.array(losses)


def test_moons_full_batch_on_torch_equals_numpy():
    np.testing.assert_allclose(_moons_losses("torch"), _moons_losses("numpy"), rtol=0, atol=1e-12)


def _digits_fit(library: str, maxiter: int):
    """Workload 2: the digits network (64-25-10 on the bundled 8x8 digits) with its regularised cost and CG."""
    X, _, y, _, _, _ = digits.load(None, test_size=0.5, seed=0)
    model = digits.make_model([X.shape[1], 25, 10], np.random.default_rng(0)).to(library)
    Xt, Y = _data(X, library), _data(F.one_hot(y, 10), library)
    result = mg.optim.minimize(lambda: digits.cost(model, Xt, Y, 1.0), list(model.parameters()), method="CG",
                               maxiter=maxiter)
    return result, model


def test_digits_with_cg_on_torch_equals_numpy():
    for maxiter in (1, 3, 5):
        (want, _), (got, model) = _digits_fit("numpy", maxiter), _digits_fit("torch", maxiter)
        assert all(p.library == "torch" for p in model.parameters())
        assert got.nit == want.nit and got.nfev == want.nfev
        assert abs(got.fun - want.fun) <= 1e-12, (maxiter, got.fun, want.fun)


def test_the_cnn_is_refused_by_name_on_torch():
    from microgradnp.workloads import cnn

    with pytest.raises(NotImplementedError, match=r"buffers .*running_mean.*NumPy"):
        cnn.make_model(np.random.default_rng(0)).to("torch")
