"""Workload 3: a 2-5-5-2 sigmoid network on two moons, trained by full-batch gradient descent.

The third reference notebook builds 1000 points of two interleaving moons
(noise 0.1), a network with two hidden layers of 5 sigmoid units (biases
included, Glorot-style uniform weights) and 2 sigmoid outputs, and minimizes

    J = -1/m sum_i sum_k [y_k log h_k + (1 - y_k) log(1 - h_k)]

by gradient descent with step 0.5: first 1000 iterations on all the points
(the boundary is still almost a straight line), then 5000 iterations on the
first 500 points from the same initial weights (the boundary bends around the
moons).  It plots the cost curves and the decision boundaries.

Here the cost is ``binary_cross_entropy_with_logits`` summed over the two
outputs and averaged over examples, and the gradient comes from autodiff.

From the command line: ``microgradnp demo moons`` or
``python examples/moons.py --help`` in a clone.
"""

from __future__ import annotations

import os
import time

import numpy as np

import microgradnp as mg
from microgradnp.nn import functional as F


# --8<-- [start:cost]
def cost(model, X, Y):
    return F.binary_cross_entropy_with_logits(model(X), Y, reduction="batchmean")


def make_model(rng) -> mg.nn.MLP:
    return mg.nn.MLP([2, 5, 5, 2], activation="sigmoid", output_activation=None, init="glorot", rng=rng)


# --8<-- [end:cost]
# --8<-- [start:train]
def train(model, X, y, alpha: float = 0.5, iters: int = 1000, progress: bool = False, desc: str = "moons"):
    """Full-batch gradient descent; returns the cost before each step (as the notebook records it)."""
    from tqdm.auto import tqdm

    Xt, Y = mg.tensor(X), F.one_hot(y, 2)
    opt = mg.optim.SGD(model.parameters(), lr=alpha)
    costs = np.empty(iters)
    bar = tqdm(range(iters), desc=desc, disable=not progress, leave=False)
    for i in bar:
        loss = cost(model, Xt, Y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        costs[i] = loss.item()
        if i % 100 == 0:
            bar.set_postfix(loss=f"{costs[i]:.4f}")
    return costs


# --8<-- [end:train]
@mg.no_grad()
def predict(model, X) -> np.ndarray:
    return model(mg.tensor(X)).data.argmax(axis=1)


def plot_costs(curves: dict, path: str) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for label, c in curves.items():
        ax.plot(c, label=label)
    ax.set_ylim(0, ax.get_ylim()[1])
    ax.set(xlabel="Iteration #", ylabel="Cost", title="Cost during gradient descent")
    ax.legend()
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return path


def plot_boundary(model, X, y, path: str, title: str, steps: int = 400) -> str:
    """The predicted class over the region around the data, with the points on top."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    (x0, y0), (x1, y1) = X.min(axis=0) - 1, X.max(axis=0) + 1
    xx, yy = np.meshgrid(np.linspace(x0, x1, steps), np.linspace(y0, y1, steps))
    z = predict(model, np.c_[xx.ravel(), yy.ravel()]).reshape(xx.shape)
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.contourf(xx, yy, z, cmap=plt.cm.Paired)
    ax.scatter(X[:, 0], X[:, 1], c=y, cmap=plt.cm.Paired, edgecolors="k", linewidths=0.3, s=14)
    ax.set(title=title, xlabel="$x_0$", ylabel="$x_1$")
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return path


def run(n: int = 1000, noise: float = 0.1, alpha: float = 0.5, iters: int = 1000, long_iters: int = 5000,
        long_subset: int = 500, seed: int = 0, out_dir: str | None = None, progress: bool = False) -> dict:
    """The notebook's two runs from the same initial weights; returns a summary."""
    start = time.perf_counter()
    rng = np.random.default_rng(seed)
    X, y = mg.data.make_moons(n, noise=noise, rng=rng)
    model = make_model(rng)
    initial = model.state_dict()
    curves = {f"{iters} iterations, {n} points": train(model, X, y, alpha, iters, progress, "moons (short run)")}
    short_acc = float(np.mean(predict(model, X) == y))
    figures = []
    if out_dir:
        os.makedirs(out_dir, exist_ok=True)
        figures.append(plot_boundary(model, X, y, os.path.join(out_dir, "moons_boundary_short.png"),
                                     f"after {iters} iterations on {n} points: {100 * short_acc:.1f}% right"))
    summary = {"workload": "moons", "short-run accuracy": short_acc}
    if long_iters:
        model.load_state_dict(initial)  # the notebook starts the long run from the same weights
        curves[f"{long_iters} iterations, {long_subset} points"] = train(
            model, X[:long_subset], y[:long_subset], alpha, long_iters, progress, "moons (long run)")
    acc = float(np.mean(predict(model, X) == y))
    if out_dir:
        if long_iters:
            figures.append(plot_boundary(model, X, y, os.path.join(out_dir, "moons_boundary.png"),
                                         f"after {long_iters} iterations on {long_subset} points: "
                                         f"{100 * acc:.1f}% of all {n} right"))
        figures.insert(0, plot_costs(curves, os.path.join(out_dir, "moons_cost.png")))
    last = list(curves.values())[-1]
    summary.update({
        "model": repr(model), "accuracy": acc, "n": n, "final loss": float(last[-1]), "costs": curves,
        "seconds": time.perf_counter() - start, "model_obj": model, "example": (X, y), "figures": figures,
    })
    return summary


def graph_loss(model=None, batch: int = 16):
    """The moons cost on a few points, for drawing."""
    rng = np.random.default_rng(0)
    X, y = mg.data.make_moons(batch, noise=0.1, rng=rng)
    model = model or make_model(rng)
    return cost(model, mg.tensor(X, name="X"), F.one_hot(y, 2))
