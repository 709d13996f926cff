"""What every backend's test compares with: the gradient of the full batch on one process."""

import numpy as np

import microgradnp as mg
from microgradnp.nn import functional as F


def gradients(X, Y) -> list:
    """The mean squared-loss gradient of the 3-4-2 tanh MLP (seed 0) over the whole of ``X``, ``Y``."""
    model = mg.nn.MLP([3, 4, 2], activation="tanh", rng=0)
    grads = mg.grad(F.squared_loss(model(X), Y) / len(X), list(model.parameters()))
    return [np.asarray(g.data if isinstance(g, mg.Tensor) else g) for g in grads]


def assert_equal_to_full_batch(got: list, X, Y) -> None:
    """``got``, one process's parameter gradients, equal the full batch's to 1e-14 (relative)."""
    for g, e in zip(got, gradients(X, Y), strict=True):
        np.testing.assert_allclose(g, e, rtol=1e-14, atol=1e-14 * np.abs(e).max())


#: Each process's part of the check: its shard (bounds from the command line) through DistributedDataParallel.
SHARD_SCRIPT = """
import sys
import numpy as np
import microgradnp as mg
from microgradnp.nn import functional as F
mg.distributed.init_process_group()          # the group the launcher made (mpirun, torchrun)
rank = mg.distributed.get_rank()
d = np.load(sys.argv[1])
bounds = [int(b) for b in sys.argv[3:]]
model = mg.distributed.DistributedDataParallel(mg.nn.MLP([3, 4, 2], activation="tanh", rng=rank))
F.squared_loss(model(d["X"][bounds[rank]:bounds[rank + 1]]), d["Y"][bounds[rank]:bounds[rank + 1]]).backward()
np.savez(sys.argv[2] + f"{rank}.npz", *[p.grad for p in model.module.parameters()])
"""


def assert_launched_training_equals_full_batch(launch, tmp_path, bounds: list, seed: int = 0) -> None:
    """``launch(script, *args)`` (a completed subprocess) runs ``SHARD_SCRIPT`` in ``len(bounds) - 1`` processes
    on shards ``bounds``; every process's gradients must equal the full batch's."""
    rng = np.random.default_rng(seed)
    X, Y = rng.standard_normal((bounds[-1], 3)), rng.standard_normal((bounds[-1], 2))
    np.savez(tmp_path / "data.npz", X=X, Y=Y)
    script = tmp_path / "train.py"
    script.write_text(SHARD_SCRIPT)
    done = launch(script, tmp_path / "data.npz", tmp_path / "grads", *bounds)
    assert done.returncode == 0, done.stderr[-3000:]
    for rank in range(len(bounds) - 1):
        got = np.load(tmp_path / f"grads{rank}.npz")
        assert_equal_to_full_batch([got[f"arr_{k}"] for k in range(len(got.files))], X, Y)
