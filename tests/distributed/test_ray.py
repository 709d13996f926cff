"""The same data-parallel training on Ray: tasks as the processes, an actor where their buffers meet."""

import os

import numpy as np
import pytest

pytest.importorskip("ray")

import microgradnp as mg  # noqa: E402
from microgradnp import distributed as dist  # noqa: E402
from microgradnp.nn import functional as F  # noqa: E402
from tests.distributed.full_batch import assert_equal_to_full_batch  # noqa: E402


@pytest.fixture(scope="module", autouse=True)
def ray_cluster():
    import ray

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def _ddp_gradient(rank, X, Y, bounds):
    dist.init_process_group()  # found from spawn's task environment
    model = dist.DistributedDataParallel(mg.nn.MLP([3, 4, 2], activation="tanh", rng=rank))
    lo, hi = bounds[rank], bounds[rank + 1]
    F.squared_loss(model(X[lo:hi]), Y[lo:hi]).backward()
    return [p.grad for p in model.module.parameters()]


def test_data_parallel_gradients_on_ray_equal_the_full_batch_gradient():
    rng = np.random.default_rng(2)
    X, Y = rng.standard_normal((5, 3)), rng.standard_normal((5, 2))
    results = dist.spawn(_ddp_gradient, 2, args=(X, Y, [0, 3, 5]), backend="ray", timeout=120)
    for grads in results:
        assert_equal_to_full_batch(grads, X, Y)
    for g, h in zip(*results):
        np.testing.assert_array_equal(g, h)


def _fails_on_rank_1(rank, how):
    dist.init_process_group()
    if rank == 1:
        if how == "raise":
            raise ValueError("a bad batch on rank 1")
        os._exit(1)  # the task's process dies
    dist.all_reduce_(np.ones(3))


@pytest.mark.parametrize("how, said", [("raise", r"(?s)rank 1 raised.*a bad batch on rank 1"), ("die", "rank 1 died")])
def test_a_task_that_fails_stops_the_run_with_an_error(how, said):
    # spawn's timeout only guards against a hang; how fast the others stop is benchmarks/fault_latency.py's.
    with pytest.raises(dist.DistributedError, match=said):
        dist.spawn(_fails_on_rank_1, 2, args=(how,), backend="ray", timeout=300)


def test_the_docs_ray_recipe_runs(tmp_path, monkeypatch):
    import pathlib
    import re

    page = (pathlib.Path(__file__).resolve().parents[2] / "docs" / "distributed.md").read_text()
    (block,) = [b for b in re.findall(r"```python\n(.*?)```", page, re.S) if 'backend="ray"' in b]
    monkeypatch.chdir(tmp_path)
    exec(compile(block, "docs/distributed.md", "exec"), {"__name__": "__main__"})  # noqa: S102 - the page's own
    assert set(mg.load(tmp_path / "digits.npz")) == set(mg.nn.MLP([64, 32, 10]).state_dict())
