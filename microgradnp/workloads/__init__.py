"""The reference workloads, shipped with the package so ``microgradnp demo`` runs anywhere.

Each module builds its data and model, trains it the way its notebook does,
and returns a summary from ``run(...)``; ``graph_loss()`` gives a small loss
to draw.  They are written with the public ``microgradnp`` interface only,
as a user's program would be, and need the ``examples`` extra (Matplotlib for
the figures, scikit-learn for the bundled digits, tqdm for progress bars):
``pip install "microgradnp[examples]"``.

* :mod:`~microgradnp.workloads.blobs`: a 2-2-2 net on Gaussian blobs,
  per-example SGD;
* :mod:`~microgradnp.workloads.digits`: Ng's digit network, gradient check and
  conjugate gradients through ``scipy.optimize``;
* :mod:`~microgradnp.workloads.moons`: a 2-5-5-2 net on two moons, full-batch
  gradient descent and a decision-boundary plot;
* :mod:`~microgradnp.workloads.cnn`: a small convolutional network on the 8x8
  digits, minibatches from a ``DataLoader`` and AdamW (not a seed notebook:
  the layers a PyTorch user reaches for next);
* :mod:`~microgradnp.workloads.sequence`: a GRU cell that learns to continue
  noisy sine waves, trained through time.
"""

from __future__ import annotations

import importlib

#: name -> one line on what it trains; ``load(name)`` gives the module.
WORKLOADS = {
    "blobs": "2-2-2 net, Gaussian blobs, per-example SGD (the notebook's draws)",
    "digits": "Ng's digit network, CG through scipy.optimize",
    "moons": "2-5-5-2 net, two moons, full-batch gradient descent",
    "cnn": "small CNN, 8x8 digits, minibatches and AdamW",
    "sequence": "GRU forecasting noisy sine waves, backpropagation through time",
}


def load(name: str):
    """The workload's module, imported on first use (so ``import microgradnp`` stays light)."""
    if name not in WORKLOADS:
        raise ValueError(f"unknown workload {name!r}; choose one of {', '.join(WORKLOADS)}")
    return importlib.import_module(f"{__name__}.{name}")
