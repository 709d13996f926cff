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


def _cnn_losses(library: str, steps: int = 6):
    """The CNN workload's network (conv, batch norm, pooling, dropout, AdamW) on the 8x8 digits, batch 32."""
    from microgradnp.workloads import cnn

    X, y = mg.data.load_digits()
    images, labels = X[:32 * steps].reshape(-1, 1, 8, 8), y[:32 * steps]
    model = cnn.make_model(np.random.default_rng(0)).to(library)  # its Dropout draws from the model's own seed
    opt = mg.optim.AdamW(model.parameters(), lr=0.01, weight_decay=1e-4)
    losses = []
    for i in range(steps):
        batch = slice(32 * i, 32 * (i + 1))
        target = labels[batch] if library == "numpy" else torch.asarray(labels[batch])
        loss = F.cross_entropy(model(_data(images[batch], library)), target)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    model.eval()
    evaluated = model(_data(images[:64], library)).numpy()
    return np.array(losses), evaluated, model


def test_the_cnn_with_batch_norm_and_dropout_on_torch_equals_numpy():
    want, want_eval, _ = _cnn_losses("numpy")
    got, got_eval, model = _cnn_losses("torch")
    assert all(p.library == "torch" for p in model.parameters())
    assert model[1].running_mean.__class__ is torch.Tensor  # the batch norm's running statistics moved too
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)
    # In eval mode the running statistics stand in for the batch's, and they carry the conv biases, whose
    # gradient is exactly zero in exact arithmetic (batch norm removes each channel's mean): their gradients
    # are rounding noise (1e-17), which Adam divides by its own root mean square, so each library's biases
    # take steps of the size of the learning rate in directions set by its rounding. Measured: conv biases
    # 1e-8 apart after 6 steps (every other parameter within 4e-15), eval outputs within 3e-8.
    np.testing.assert_allclose(got_eval, want_eval, rtol=0, atol=1e-6)


def _compiled_losses(library: str, build, feed, steps: int):
    """``build()`` gives ``(model, optimizer, cost)``; the step (cost, backward, update) compiled with
    ``fullgraph=True`` and fed ``feed(k)`` on ``library``: its losses, and the compiled step."""
    model, opt, cost = build(library)

    def train_step(*batch):
        loss = cost(model, *batch)
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss

    step = mg.compile(train_step, fullgraph=True)
    return np.array([step(*(_data(a, library) for a in feed(k))).item() for k in range(steps)]), step


def test_the_workloads_compiled_on_torch_equal_numpy():
    # Blobs (per-example SGD) and moons (full batch): the compiled step on torch tensors, traced once and
    # replayed, gives the eager NumPy losses.
    X, y, _, _ = blobs.build(replay_seed=True)
    order = np.random.default_rng(5).integers(len(X), size=300)

    def blobs_model(library):
        model = blobs.build(replay_seed=True)[2].to(library)
        return model, mg.optim.SGD(model.parameters(), lr=0.1), lambda m, x, t: 0.5 * ((t - m(x)) ** 2).sum()

    got, step = _compiled_losses("torch", blobs_model, lambda k: (X[order[k]], blobs.TARGETS[y[order[k]]]), 300)
    assert step.stats["traces"] == 1 and step.stats["replays"] == 299 and "matmul(" in step.code
    np.testing.assert_allclose(got, _blobs_losses("numpy")[0], rtol=0, atol=1e-12)

    Xm, ym = mg.data.make_moons(200, noise=0.1, rng=0)

    def moons_model(library):
        model = moons.make_model(np.random.default_rng(0)).to(library)
        return model, mg.optim.SGD(model.parameters(), lr=0.5), moons.cost

    got, step = _compiled_losses("torch", moons_model, lambda k: (Xm, F.one_hot(ym, 2)), 300)
    assert step.stats["traces"] == 1 and step.stats["replays"] == 299
    np.testing.assert_allclose(got, _moons_losses("numpy"), rtol=0, atol=1e-12)
