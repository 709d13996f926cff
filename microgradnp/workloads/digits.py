"""Workload 2: Ng's digit network, trained with scipy's conjugate gradients.

The second reference notebook (Andrew Ng's exercise 4) trains a 400-25-10
sigmoid network on 5000 20x20 images with the cost

    J = 1/m sum_i sum_k [-y_k log h_k - (1 - y_k) log(1 - h_k)]
        + lambda / (2 m) * (sum of squared weights, biases excluded)

by ``scipy.optimize.minimize(method='CG', jac=True)``, after checking its
hand-written backpropagation on a small 3-5-3 network whose weights are
filled with ``sin(0), sin(1), ...`` (relative difference below 1e-9).

Here the cost is written with microgradnp operations
(``binary_cross_entropy_with_logits`` summed over the 10 outputs and
averaged over examples, plus ``l2_penalty``), the gradient comes from
autodiff, and ``mg.optim.minimize`` does the unrolling that the notebook
does by hand.

* By default it trains on scikit-learn's bundled 8x8 digits (64-25-10,
  1,797 real images, no download), with a held-out quarter.
* ``run(mat="ex4data1.mat")`` trains on the exercise's own 5000 20x20 images
  (400-25-10), if you have the file; ``weights="ex4weights.mat"`` also
  evaluates the exercise's pre-trained Theta1/Theta2 (cost about 0.383770
  with lambda = 1).
* ``run(sweep=True)`` also runs the notebook's lambda/MaxIter table.

``run`` reports train and held-out accuracy and the debug-network gradient
check and, given ``out_dir``, writes the hidden units as a grid of images.

From the command line: ``microgradnp demo digits`` or
``python examples/digits.py --help`` in a clone.
"""

from __future__ import annotations

import os
import time
from types import SimpleNamespace

import numpy as np

import microgradnp as mg
from microgradnp.nn import functional as F

#: The notebook's lambda / MaxIter cases.
SWEEP = [(10, 0.5), (10, 100.0), (10, 1000.0), (30, 1.0), (200, 0.0)]


# --8<-- [start:cost]
def cost(model, X, Y, lam: float):
    """Ng's regularized cost: logistic loss summed over the K outputs, averaged over examples, plus L2."""
    logits = model(X)
    return F.binary_cross_entropy_with_logits(logits, Y, reduction="batchmean") + F.l2_penalty(model, lam, len(Y))


def make_model(sizes, rng) -> mg.nn.MLP:
    """Sigmoid hidden units; the output sigmoid is folded into the loss (logits out)."""
    return mg.nn.MLP(sizes, activation="sigmoid", output_activation=None, init=mg.nn.init.uniform(0.12), rng=rng)


# --8<-- [end:cost]
# --- the debug network of checkNNGradients ---------------------------------


# --8<-- [start:gradcheck]
def debug_weights(fan_out: int, fan_in: int) -> np.ndarray:
    """The exercise's ``debugInitializeWeights``: sin(0), sin(1), ... / 10, shape (fan_out, 1 + fan_in)."""
    shape = (fan_out, 1 + fan_in)
    return np.reshape(np.sin(np.arange(np.prod(shape))), shape) / 10


def debug_gradient_check(lam: float = 0.0, eps: float = 1e-4) -> float:
    """The notebook's check on a 3-5-3 network and 5 examples: ||num - grad|| / ||num + grad||.

    The numerical gradient is the notebook's: central differences with step
    ``1e-4`` on each parameter in turn.
    """
    n_in, n_hidden, n_labels, m = 3, 5, 3, 5
    model = mg.nn.MLP.from_thetas([debug_weights(n_hidden, n_in), debug_weights(n_labels, n_hidden)],
                                  output_activation=None)
    X = mg.tensor(debug_weights(m, n_in - 1))
    y = np.mod(np.arange(m), n_labels)  # the notebook's 1 + mod(range(m), 3), zero-based
    Y = F.one_hot(y, n_labels)
    params = list(model.parameters())
    analytic = np.concatenate([g.data.ravel() for g in mg.grad(cost(model, X, Y, lam), params)])
    numeric = []
    with mg.no_grad():
        for p in params:
            flat = p.data.reshape(-1)
            for j in range(flat.size):
                old = flat[j]
                flat[j] = old - eps
                loss1 = cost(model, X, Y, lam).item()
                flat[j] = old + eps
                loss2 = cost(model, X, Y, lam).item()
                flat[j] = old
                numeric.append((loss2 - loss1) / (2 * eps))
    numeric = np.array(numeric)
    return float(np.linalg.norm(numeric - analytic) / np.linalg.norm(numeric + analytic))


# --8<-- [end:gradcheck]
# --- data -------------------------------------------------------------------


def load(mat_path: str | None, test_size: float, seed: int):
    """Train/test split of the digits: the bundled 8x8 set, or Ng's ex4data1.mat."""
    if mat_path:
        data = mg.data.load_mat(mat_path)  # labels 1..10 with 10 = digit 0 become 0..9
        X, y, side, column_major = data["X"], data["y"], 20, True
    else:
        X, y = mg.data.load_digits()
        side, column_major = 8, False
    X_tr, X_te, y_tr, y_te = mg.data.train_test_split(X, y, test_size=test_size, rng=seed, stratify=y)
    return X_tr, X_te, y_tr, y_te, side, column_major


@mg.no_grad()
def accuracy(model, X, y) -> float:
    return float(np.mean(model(mg.tensor(X)).data.argmax(axis=1) == y))


# --8<-- [start:train]
def train(model, X, y, lam: float, maxiter: int, progress: bool = False):
    """Ng's training: ``minimize(method="CG", jac=True)`` over all parameters."""
    Xt, Y = mg.tensor(X), F.one_hot(y, 10)
    costs = []
    result = mg.optim.minimize(lambda: cost(model, Xt, Y, lam), model.parameters(), method="CG", maxiter=maxiter,
                               callback=lambda it, loss: costs.append(loss), progress=progress)
    return result, costs


# --8<-- [end:train]
def train_data_parallel(X, y, lam: float, maxiter: int, sizes, seed: int, workers: int) -> dict:
    """:func:`train` on ``workers`` processes of this machine (``mg.distributed``), each on its shard.

    Every process evaluates the cost and its gradient on every ``workers``-th
    example; one all-reduce sums them (the data term summed over the shard,
    the penalty divided among the processes), and every process then runs
    the same conjugate-gradient iteration on the same numbers.  Returns the
    trained parameters (one flat vector), SciPy's result fields and, per
    process, its examples, evaluations and seconds.
    """
    import sys

    method = "fork" if sys.platform == "linux" else "spawn"
    reports = mg.distributed.spawn(_cg_worker, workers, args=(X, y, lam, maxiter, list(sizes), seed),
                                   start_method=method)
    return {"flat": reports[0]["flat"], "fun": reports[0]["fun"], "nit": reports[0]["nit"],
            "nfev": reports[0]["nfev"], "workers": [{k: r[k] for k in ("examples", "evaluations", "seconds")}
                                                    for r in reports]}


def _cg_worker(rank: int, X, y, lam: float, maxiter: int, sizes, seed: int) -> dict:
    import scipy.optimize

    dist = mg.distributed
    dist.init_process_group()
    world = dist.get_world_size()
    X_shard, Y_shard = mg.tensor(X[rank::world]), np.eye(10)[y[rank::world]]
    model = make_model(sizes, np.random.default_rng(seed))  # the same seed: the same start everywhere
    params = list(model.parameters())
    shapes = [p.shape for p in params]

    def set_flat(flat):
        start = 0
        for p, shape in zip(params, shapes):
            n = int(np.prod(shape))
            p.data[...] = flat[start:start + n].reshape(shape)
            start += n

    def cost_and_gradient(flat):
        set_flat(flat)
        # This shard's part of Ng's cost: its examples' losses summed, over all examples, and the penalty
        # shared among the processes, so that the sum over processes is the cost of the whole training set.
        part = (F.binary_cross_entropy_with_logits(model(X_shard), Y_shard, reduction="sum") / len(X)
                + F.l2_penalty(model, lam, len(X)) / world)
        grads = mg.grad(part, params)
        buffer = np.concatenate([[part.item()], *[np.asarray(g).ravel() for g in grads]])
        dist.all_reduce_(buffer)
        return buffer[0], buffer[1:]

    x0 = np.concatenate([p.data.ravel() for p in params])
    start = time.perf_counter()
    result = scipy.optimize.minimize(cost_and_gradient, x0, jac=True, method="CG", options={"maxiter": maxiter})
    seconds = time.perf_counter() - start
    return {"flat": result.x if rank == 0 else None, "fun": float(result.fun), "nit": int(result.nit),
            "nfev": int(result.nfev), "examples": len(X_shard), "evaluations": int(result.nfev), "seconds": seconds}


def plot_hidden_units(model, side: int, column_major: bool, path: str, title: str = "") -> str:
    """Each hidden unit's input weights as an image, as the notebook's ``displayData(Theta1[:, 1:])``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    W = model.linears[0].weight.data
    n = W.shape[0]
    cols = int(np.ceil(np.sqrt(n)))
    rows = int(np.ceil(n / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(cols * 1.1, rows * 1.1 + (0.3 if title else 0)),
                             gridspec_kw={"wspace": 0.05, "hspace": 0.05})
    for i, ax in enumerate(np.ravel(axes)):
        ax.axis("off")
        if i < n:
            img = W[i].reshape(side, side)
            ax.imshow(img.T if column_major else img, cmap="gray_r")
    if title:
        fig.suptitle(title, fontsize=10)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return path


def run(mat: str | None = None, weights: str | None = None, lam: float = 1.0, maxiter: int = 100,
        test_size: float = 0.25, seed: int = 0, sweep: bool = False, out_dir: str | None = None,
        progress: bool = False, workers: int = 1) -> dict:
    """Gradient check, training, evaluation, figures; returns a summary."""
    start = time.perf_counter()
    summary = {"workload": "digits", "gradient check (lambda=0)": debug_gradient_check(0.0),
               "gradient check (lambda=3)": debug_gradient_check(3.0)}
    X_tr, X_te, y_tr, y_te, side, column_major = load(mat, test_size, seed)
    sizes = [X_tr.shape[1], 25, 10]
    if weights:
        w = mg.data.load_mat(weights)
        pretrained = mg.nn.MLP.from_thetas([w["Theta1"], w["Theta2"]], output_activation=None)
        X_all, y_all = np.vstack([X_tr, X_te]), np.concatenate([y_tr, y_te])
        summary["pretrained cost (lambda=1)"] = cost(pretrained, mg.tensor(X_all), F.one_hot(y_all, 10), 1.0).item()
        summary["pretrained accuracy"] = accuracy(pretrained, X_all, y_all)
    model = make_model(sizes, np.random.default_rng(seed))
    if workers > 1:  # data-parallel: the same iterations, the evaluations shared among processes
        parallel = train_data_parallel(X_tr, y_tr, lam, maxiter, sizes, seed, workers)
        start_at = 0
        for p in model.parameters():
            p.data[...] = parallel["flat"][start_at:start_at + p.data.size].reshape(p.shape)
            start_at += p.data.size
        result = SimpleNamespace(nit=parallel["nit"], nfev=parallel["nfev"], fun=parallel["fun"])
        costs: list = []
        summary["workers"] = parallel["workers"]
    else:
        result, costs = train(model, X_tr, y_tr, lam, maxiter, progress)
    summary.update({
        "model": repr(model), "lambda": lam, "maxiter": maxiter, "iterations": int(result.nit),
        "function evaluations": int(result.nfev), "final loss": float(result.fun), "costs": costs,
        "train accuracy": accuracy(model, X_tr, y_tr), "accuracy": accuracy(model, X_te, y_te),
        "n": len(y_te), "model_obj": model, "example": (X_tr, y_tr, lam),
    })
    if out_dir:
        os.makedirs(out_dir, exist_ok=True)
        summary["figures"] = [plot_hidden_units(model, side, column_major, os.path.join(out_dir, "digits_hidden_units.png"),
                                                f"hidden units after {result.nit} CG iterations, lambda={lam:g}")]
    if sweep:
        rows = []
        for i, (iters, lam_i) in enumerate(SWEEP):
            m = make_model(sizes, np.random.default_rng(seed))
            res, _ = train(m, X_tr, y_tr, lam_i, iters, progress)
            rows.append({"maxiter": iters, "lambda": lam_i, "cost": float(res.fun),
                         "train accuracy": accuracy(m, X_tr, y_tr), "test accuracy": accuracy(m, X_te, y_te)})
            if out_dir:
                summary["figures"].append(plot_hidden_units(
                    m, side, column_major, os.path.join(out_dir, f"digits_sweep_{i}.png"),
                    f"MaxIter = {iters}, lambda = {lam_i:g}"))
        summary["sweep"] = rows
    summary["seconds"] = time.perf_counter() - start
    return summary


def graph_loss(model=None, batch: int = 8):
    """Ng's cost on a few bundled digits, for drawing."""
    X, y = mg.data.load_digits()
    model = model or make_model([X.shape[1], 25, 10], np.random.default_rng(0))
    if model.sizes[0] != X.shape[1]:  # a model trained on --mat data: draw with its own input size
        X = np.zeros((batch, model.sizes[0]))
    return cost(model, mg.tensor(X[:batch], name="X"), F.one_hot(y[:batch], 10), lam=1.0)
