"""A deep-equilibrium classifier on the digits: its hidden layer is the fixed point
``z = tanh(z W + x U + b)``, found by iterating and differentiated implicitly by
``microgradnp.func.fixed_point`` (the backward pass solves one linear system instead of going
back through the iterations). Trained with Adam; writes the training curves.

    python -m examples.deq_digits --out microgradnp-out
"""

from __future__ import annotations

import argparse
import os

import numpy as np

import microgradnp as mg
from microgradnp.func import fixed_point
from microgradnp.nn import functional as F

from ._figures import saved, subplots


# --8<-- [start:model]
class DEQ(mg.nn.Module):
    """x -> z* = tanh(z* W + x U + b) -> logits z* V + c, with W kept a contraction."""

    def __init__(self, inputs: int, hidden: int, classes: int, rng, tol: float = 1e-8):
        super().__init__()
        self.U = mg.nn.Parameter(rng.normal(0.0, 1.0 / np.sqrt(inputs), (inputs, hidden)))
        self.W = mg.nn.Parameter(rng.normal(0.0, 0.5 / np.sqrt(hidden), (hidden, hidden)))
        self.b = mg.nn.Parameter(np.zeros(hidden))
        self.out = mg.nn.Linear(hidden, classes, rng=rng)
        self.tol = tol

    def contraction(self):
        # tanh is 1-Lipschitz and the spectral norm is at most the Frobenius norm: the map contracts
        # by 0.9 at most, so the fixed point exists, is unique and the iteration reaches it.
        return 0.9 * self.W / mg.maximum(1.0, mg.sqrt((self.W ** 2).sum()))

    def equilibrium(self, x):
        injection = x @ self.U + self.b  # computed once, a parameter of the fixed-point problem

        def layer(z, p):
            W, inj = p
            return mg.tanh(z @ W + inj)

        z0 = mg.zeros((x.shape[0], self.W.shape[0]))
        return fixed_point(layer, z0, (self.contraction(), injection), tol=self.tol)

    def forward(self, x):
        return self.out(self.equilibrium(x))
# --8<-- [end:model]


def unrolled_gradient_gap(model, x, y, iterations: int = 200) -> float:
    """Largest difference between the implicit gradient and the one through ``iterations`` recorded steps."""
    implicit = mg.grad(F.cross_entropy(model(x), y), list(model.parameters()))
    W, injection = model.contraction(), x @ model.U + model.b
    z = mg.zeros((x.shape[0], W.shape[0]))
    for _ in range(iterations):
        z = mg.tanh(z @ W + injection)
    unrolled = mg.grad(F.cross_entropy(model.out(z), y), list(model.parameters()))
    return max(float(np.max(np.abs(a.data - b.data))) for a, b in zip(implicit, unrolled))


# --8<-- [start:train]
def train(epochs: int = 60, hidden: int = 32, batch: int = 256, lr: float = 0.01, seed: int = 0, progress=True):
    from tqdm.auto import tqdm

    X, y = mg.data.load_digits()
    X_train, X_test, y_train, y_test = mg.data.train_test_split(X, y, test_size=0.25, rng=seed)
    rng = np.random.default_rng(seed)
    model = DEQ(X.shape[1], hidden, 10, rng)
    optimizer = mg.optim.Adam(model.parameters(), lr=lr)
    loader = mg.data.DataLoader(mg.data.TensorDataset(X_train, y_train), batch_size=batch, shuffle=True, rng=seed)
    history: dict[str, list[float]] = {"loss": [], "test accuracy": []}
    for _ in tqdm(range(epochs), desc="DEQ epochs", disable=not progress, leave=False):
        total = 0.0
        for xb, yb in loader:
            optimizer.zero_grad()
            loss = F.cross_entropy(model(xb), yb)
            loss.backward()
            optimizer.step()
            total += loss.item() * len(yb)
        history["loss"].append(total / len(y_train))
        with mg.no_grad():
            history["test accuracy"].append(float((model(mg.tensor(X_test)).data.argmax(1) == y_test).mean()))
    return model, history, (X_test, y_test)
# --8<-- [end:train]


def plot(history, path: str) -> str:
    epochs = np.arange(1, len(history["loss"]) + 1)
    fig, (left, right) = subplots(1, 2, figsize=(8.5, 3.2))
    left.plot(epochs, history["loss"], color="tab:blue")
    left.set_xlabel("epoch")
    left.set_ylabel("training cross-entropy")
    left.set_yscale("log")
    right.plot(epochs, 100 * np.array(history["test accuracy"]), color="tab:green")
    right.set_xlabel("epoch")
    right.set_ylabel("test accuracy (%)")
    fig.suptitle("A deep-equilibrium layer (64 -> 32 -> 10) on the 8x8 digits, trained with implicit gradients",
                 fontsize=10)
    return saved(fig, path)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="microgradnp-out", help="folder for the figure")
    parser.add_argument("--epochs", type=int, default=60)
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    model, history, (X_test, y_test) = train(args.epochs, progress=not args.no_progress)
    gap = unrolled_gradient_gap(model, mg.tensor(X_test[:64]), y_test[:64])
    print(f"test accuracy after {args.epochs} epochs: {100 * history['test accuracy'][-1]:.1f}%; implicit against "
          f"unrolled (200 steps) gradient: largest difference {gap:.1e}")
    print("wrote", plot(history, os.path.join(args.out, "deq_digits.png")))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
