"""Workload 5: a GRU that learns to continue noisy sine waves (backpropagation through time).

Each example is a sine wave of random frequency and phase, 40 steps long,
with a little noise; a ``GRUCell`` (16 units) reads it one step at a time and
a linear read-out predicts the next value from the state, so the loss is the
mean squared error of 39 one-step predictions.  Gradients flow back through
all the steps: the ordinary backward pass over the unrolled graph.  Trained
with Adam on minibatches; scored on held-out waves against the baseline of
repeating the last value, and plotted: a held-out wave, its predictions, and
a free-running continuation where the network feeds on its own predictions.

From the command line: ``microgradnp demo sequence``.
"""

from __future__ import annotations

import os
import time

import numpy as np

import microgradnp as mg

STEPS = 40


def make_waves(n: int, rng, steps: int = STEPS, noise: float = 0.05) -> np.ndarray:
    """``n`` noisy sine waves of ``steps`` samples, shape ``(n, steps)``: frequency and phase drawn per wave."""
    t = np.arange(steps)[None, :]
    freq = rng.uniform(0.1, 0.3, (n, 1))
    phase = rng.uniform(0, 2 * np.pi, (n, 1))
    return np.sin(freq * t + phase) + noise * rng.standard_normal((n, steps))


class Forecaster(mg.nn.Module):
    """A GRU cell over the sequence and a linear read-out of the next value."""

    def __init__(self, hidden: int = 16, rng=None):
        super().__init__()
        self.cell = mg.nn.GRUCell(1, hidden, rng=rng)
        self.readout = mg.nn.Linear(hidden, 1, rng=rng)

    def forward(self, waves, h=None):
        """One-step predictions for every step of ``waves`` ``(batch, steps)``: ``(batch, steps)``, and the last state."""
        preds = []
        for t in range(waves.shape[1]):
            h = self.cell(waves[:, t:t + 1], h)
            preds.append(self.readout(h))
        return mg.concatenate(preds, axis=1), h

    def continue_(self, waves, steps: int) -> np.ndarray:
        """Read ``waves``, then run free for ``steps`` more, each prediction fed back as the next input."""
        with mg.no_grad():
            preds, h = self(mg.tensor(waves))
            x, out = preds[:, -1:], []
            for _ in range(steps):
                h = self.cell(x, h)
                x = self.readout(h)
                out.append(x.data[:, 0])
        return np.stack(out, axis=1)


def loss_of(model, waves) -> mg.Tensor:
    preds, _ = model(waves[:, :-1])
    return mg.nn.functional.mse_loss(preds, waves[:, 1:])


def train(model, waves, epochs: int, batch_size: int = 32, lr: float = 0.02, rng=None, progress: bool = False):
    from tqdm.auto import tqdm

    loader = mg.data.DataLoader(mg.data.TensorDataset(waves), batch_size=batch_size, shuffle=True, rng=rng)
    opt = mg.optim.Adam(model.parameters(), lr=lr)
    losses = []
    bar = tqdm(range(epochs), desc="sequence", disable=not progress, leave=False)
    for _ in bar:
        total, count = 0.0, 0
        for (batch,) in loader:
            loss = loss_of(model, batch)
            opt.zero_grad()
            loss.backward()
            mg.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            total += loss.item() * len(batch)
            count += len(batch)
        losses.append(total / count)
        bar.set_postfix(loss=f"{losses[-1]:.4f}")
    return losses


def plot(model, wave: np.ndarray, path: str, free_steps: int = 40) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with mg.no_grad():
        preds, _ = model(mg.tensor(wave[None, :-1]))
    free = model.continue_(wave[None], free_steps)[0]
    t = np.arange(len(wave))
    fig, ax = plt.subplots(figsize=(7, 3.5))
    ax.plot(t, wave, "k.", label="held-out wave")
    ax.plot(t[1:], preds.data[0], "C0-", label="one-step predictions")
    ax.plot(np.arange(len(wave), len(wave) + free_steps), free, "C1--", label="running free on its own output")
    ax.set(xlabel="step", ylabel="value", title="GRU forecasting a sine wave")
    ax.legend(loc="lower left", fontsize=8)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return path


def run(epochs: int = 40, n_train: int = 512, n_test: int = 128, seed: int = 0, out_dir: str | None = None,
        progress: bool = False) -> dict:
    """Train on ``n_train`` waves, score on ``n_test`` others; returns a summary."""
    start = time.perf_counter()
    mg.manual_seed(seed)
    rng = np.random.default_rng(seed)
    train_waves, test_waves = make_waves(n_train, rng), make_waves(n_test, rng)
    model = Forecaster(rng=rng)
    losses = train(model, train_waves, epochs, rng=rng, progress=progress)
    with mg.no_grad():
        test_mse = loss_of(model, mg.tensor(test_waves)).item()
    baseline = float(np.mean((test_waves[:, 1:] - test_waves[:, :-1]) ** 2))  # repeat the last value
    figures = []
    if out_dir:
        os.makedirs(out_dir, exist_ok=True)
        figures.append(plot(model, test_waves[0], os.path.join(out_dir, "sequence_forecast.png")))
    return {
        "workload": "sequence", "model": "GRU 16 units + linear read-out", "test mse": test_mse,
        "baseline mse": baseline, "n": n_test, "final loss": losses[-1], "losses": losses,
        "accuracy": 1.0 - test_mse / baseline,  # the share of the last-value baseline's error removed
        "seconds": time.perf_counter() - start, "model_obj": model, "example": (test_waves,), "figures": figures,
    }


def graph_loss(model=None, batch: int = 2, steps: int = 4):
    """The forecaster's loss on two short waves, for drawing."""
    rng = np.random.default_rng(0)
    model = model or Forecaster(hidden=4, rng=rng)
    return loss_of(model, mg.tensor(make_waves(batch, rng, steps), name="waves"))
