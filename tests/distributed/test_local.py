"""Data-parallel training on the local backend: the same gradient as one process, and failures that stop
every process with an error instead of a hang."""

import os
import pathlib
import re
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import microgradnp as mg
from microgradnp import distributed as dist
from microgradnp.nn import functional as F
from tests.distributed.full_batch import assert_equal_to_full_batch

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="forked workers (fast) are Linux's")


def _ddp_gradient(rank, X, Y, bounds):
    dist.init_process_group()
    model = dist.DistributedDataParallel(mg.nn.MLP([3, 4, 2], activation="tanh", rng=rank))  # rank 0's wins
    lo, hi = bounds[rank], bounds[rank + 1]
    F.squared_loss(model(X[lo:hi]), Y[lo:hi]).backward()  # the shard's sum
    return [p.grad for p in model.module.parameters()]


@settings(max_examples=max(6, settings().max_examples // 2), deadline=None)
@given(workers=st.integers(1, 3), data=st.data())
def test_the_data_parallel_gradient_equals_the_full_batch_gradient_whatever_the_shard_sizes(workers, data):
    n = data.draw(st.integers(workers, 12), label="examples")
    cuts = sorted(data.draw(st.lists(st.integers(1, n - 1), min_size=workers - 1, max_size=workers - 1,
                                     unique=True), label="cuts")) if workers > 1 else []
    bounds = [0, *cuts, n]
    rng = np.random.default_rng(data.draw(st.integers(0, 2 ** 16), label="seed"))
    X, Y = rng.standard_normal((n, 3)), rng.standard_normal((n, 2))
    results = dist.spawn(_ddp_gradient, workers, args=(X, Y, bounds), start_method="fork", timeout=60)
    for grads in results:
        assert_equal_to_full_batch(grads, X, Y)
    for grads in results[1:]:  # every process holds the same bits
        for g, h in zip(grads, results[0]):
            np.testing.assert_array_equal(g, h)


def _raises_on_rank_1(rank, path):
    dist.init_process_group()
    if rank == 1:
        raise ValueError("a bad batch on rank 1")
    try:
        dist.all_reduce_(np.ones(3))
    except dist.DistributedError as exc:
        pathlib.Path(path).write_text(str(exc))  # what rank 0 raised
        raise


def test_a_process_that_raises_stops_the_others_with_its_traceback(tmp_path):
    path = tmp_path / "rank0.txt"
    with pytest.raises(dist.DistributedError, match=r"(?s)rank 1 raised.*ValueError: a bad batch on rank 1"):
        dist.spawn(_raises_on_rank_1, 2, args=(str(path),), start_method="fork", timeout=60)
    message = path.read_text()
    assert "rank 0 stops" in message and "a bad batch" in message


def _dies_on_rank_1(rank, path):
    dist.init_process_group()
    model = dist.DistributedDataParallel(mg.nn.Linear(3, 1, rng=0))
    if rank == 1:
        os.kill(os.getpid(), signal.SIGKILL)  # killed mid-step, before its backward
    try:
        F.squared_loss(model(np.ones((2, 3))), np.zeros((2, 1))).backward()
    except dist.DistributedError as exc:
        pathlib.Path(path).write_text(str(exc))  # what rank 0 raised
        raise


def test_a_process_killed_mid_step_stops_the_others_with_an_error(tmp_path):
    # Rank 0 raises instead of waiting forever; how fast is benchmarks/fault_latency.py's (spawn's timeout only
    # guards against a hang).
    path = tmp_path / "rank0.txt"
    with pytest.raises(dist.DistributedError, match="rank 1"):
        dist.spawn(_dies_on_rank_1, 2, args=(str(path),), start_method="fork", timeout=300)
    message = path.read_text()
    assert "rank 1" in message and ("died" in message or "exited" in message)


def _different_collectives(rank):
    dist.init_process_group()
    if rank == 0:
        dist.barrier()
    else:
        dist.all_reduce_(np.ones(2))


def test_processes_calling_different_collectives_are_told_which():
    with pytest.raises(dist.DistributedError, match=r"different collectives.*rank 0: barrier.*rank 1: all_reduce_"):
        dist.spawn(_different_collectives, 2, start_method="fork", timeout=60)


def _waits_too_long(rank):
    dist.init_process_group(timeout=0.5)
    if rank == 1:
        time.sleep(3)
    dist.barrier()


def test_a_collective_that_nobody_answers_raises_after_the_timeout():
    with pytest.raises(dist.DistributedError, match=r"rank 0: no answer to barrier in 0.5 s"):
        dist.spawn(_waits_too_long, 2, start_method="fork", timeout=60)


def _mean_loss(rank):
    dist.init_process_group()
    model = dist.DistributedDataParallel(mg.nn.Linear(3, 1, rng=0))
    F.mse_loss(model(np.ones((2 + rank, 3))), np.zeros((2 + rank, 1))).backward()


def test_a_loss_that_is_a_mean_over_the_shard_is_refused_by_name():
    with pytest.raises(dist.DistributedError, match="the loss is a mean over this process's shard"):
        dist.spawn(_mean_loss, 2, start_method="fork", timeout=60)


def _broadcast_and_save(rank, path):
    dist.init_process_group()
    model = dist.DistributedDataParallel(mg.nn.Linear(2, 2, rng=rank))
    dist.save(model.module.state_dict(), path)
    return model.module.weight.data.copy(), mg.load(path)["weight"]


def test_parameters_start_from_rank_0_and_checkpoints_are_written_once(tmp_path):
    path = str(tmp_path / "checkpoint.npz")
    (w0, saved0), (w1, saved1) = dist.spawn(_broadcast_and_save, 2, args=(path,), start_method="fork", timeout=60)
    np.testing.assert_array_equal(w0, mg.nn.Linear(2, 2, rng=0).weight.data)
    np.testing.assert_array_equal(w1, w0)
    np.testing.assert_array_equal(saved0, w0)
    np.testing.assert_array_equal(saved1, w0)


def test_the_sampler_shards_every_epoch_without_repeats_and_reshuffles():
    for n, k in [(10, 3), (7, 2), (5, 5), (3, 4)]:
        shards = [list(dist.DistributedSampler(n, num_replicas=k, rank=r, seed=1)) for r in range(k)]
        assert sorted(i for s in shards for i in s) == list(range(n))
        assert max(map(len, shards)) - min(map(len, shards)) <= 1
        assert [len(dist.DistributedSampler(n, num_replicas=k, rank=r)) for r in range(k)] == list(map(len, shards))
    s = dist.DistributedSampler(100, num_replicas=2, rank=0, seed=3)
    first = list(s)
    assert list(s) == first
    s.set_epoch(1)
    assert list(s) != first and sorted(list(s) + list(dist.DistributedSampler(100, 2, 1, seed=3).__iter__())) != []
    with pytest.raises(ValueError, match="rank 2 is not in 0..1"):
        dist.DistributedSampler(10, num_replicas=2, rank=2)


def test_a_data_loader_takes_its_order_from_a_sampler():
    ds = mg.data.TensorDataset(np.arange(10.0).reshape(5, 2), np.arange(5))
    loader = mg.data.DataLoader(ds, batch_size=2, sampler=dist.DistributedSampler(5, num_replicas=2, rank=1,
                                                                                  shuffle=False))
    assert [y.tolist() for _, y in loader] == [[1, 3]] and len(loader) == 1
    with pytest.raises(ValueError, match="sampler and shuffle"):
        mg.data.DataLoader(ds, shuffle=True, sampler=[0, 1])


def _func_style(rank, X, Y):
    dist.init_process_group()
    params = {"w": np.ones((3, 2)) * 0.1}
    shard = slice(0, 1) if rank == 0 else slice(1, None)
    return dist.grad(lambda p, x, y: ((x @ p["w"] - y) ** 2).sum())(params, X[shard], Y[shard])


def test_the_functional_gradient_is_the_full_batch_mean():
    rng = np.random.default_rng(0)
    X, Y = rng.standard_normal((5, 3)), rng.standard_normal((5, 2))
    a, b = dist.spawn(_func_style, 2, args=(X, Y), start_method="fork", timeout=60)
    expected = mg.func.grad(lambda p, x, y: ((x @ p["w"] - y) ** 2).mean(axis=0).sum())({"w": np.ones((3, 2)) * 0.1},
                                                                                         X, Y)
    np.testing.assert_allclose(a["w"].data, expected["w"].data, rtol=1e-13)
    np.testing.assert_array_equal(a["w"].data, b["w"].data)


def test_without_a_launcher_the_error_says_how_to_start():
    with pytest.raises(RuntimeError, match="distributed.launch -n N script.py"):
        dist.init_process_group()
    assert not dist.is_initialized()


def _script(tmp_path, body: str) -> str:
    path = tmp_path / "train.py"
    path.write_text(textwrap.dedent(body))
    return str(path)


def test_the_launcher_runs_a_script_in_n_processes(tmp_path):
    script = _script(tmp_path, """
        import numpy as np
        import microgradnp as mg
        mg.distributed.init_process_group()
        total = mg.distributed.all_reduce_(np.array([mg.distributed.get_rank() + 1.0]))
        print(f"rank {mg.distributed.get_rank()} of {mg.distributed.get_world_size()}: {total[0]}")
    """)
    done = subprocess.run([sys.executable, "-m", "microgradnp.distributed.launch", "-n", "3", script],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    # Three processes share the pipe: their lines may interleave, so each is found on its own.
    assert sorted(re.findall(r"rank (\d) of 3: 6\.0", done.stdout)) == ["0", "1", "2"]


def test_the_launcher_exits_with_an_error_when_a_process_fails(tmp_path):
    script = _script(tmp_path, """
        import numpy as np
        import microgradnp as mg
        mg.distributed.init_process_group()
        if mg.distributed.get_rank() == 1:
            raise SystemExit(3)
        mg.distributed.all_reduce_(np.ones(2))
    """)
    done = subprocess.run([sys.executable, "-m", "microgradnp.distributed.launch", "-n", "2", script],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode != 0
    assert "rank 0 stops" in done.stderr and "rank 1" in done.stderr


def test_the_docs_recipes_run(tmp_path):
    # docs/distributed.md: its launcher script, run as the page says, and its functional example.
    page = (pathlib.Path(__file__).resolve().parents[2] / "docs" / "distributed.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", page, re.S)
    script = tmp_path / "train.py"
    script.write_text(blocks[0])
    done = subprocess.run([sys.executable, "-m", "microgradnp.distributed.launch", "-n", "2", str(script)],
                          capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("epoch") == 3 and (tmp_path / "digits.npz").exists()
    saved = mg.load(tmp_path / "digits.npz")
    assert set(saved) == set(mg.nn.MLP([64, 32, 10], activation="relu").state_dict())
    (functional,) = [b for b in blocks if "mg.distributed.grad(" in b]
    namespace: dict = {}
    exec(compile(functional, "docs/distributed.md", "exec"), namespace)  # noqa: S102 - the page's own example


def test_the_digit_network_trained_data_parallel_follows_the_same_iterations():
    from microgradnp.workloads import digits

    X_tr, _, y_tr, _, _, _ = digits.load(None, 0.25, 0)
    X, y = X_tr[:300], y_tr[:300]
    model = digits.make_model([64, 25, 10], np.random.default_rng(0))
    result, _ = digits.train(model, X, y, lam=1.0, maxiter=5)
    parallel = digits.train_data_parallel(X, y, lam=1.0, maxiter=5, sizes=[64, 25, 10], seed=0, workers=2)
    assert parallel["nit"] == result.nit
    np.testing.assert_allclose(parallel["fun"], result.fun, rtol=1e-10)
    flat = np.concatenate([p.data.ravel() for p in model.parameters()])
    np.testing.assert_allclose(parallel["flat"], flat, rtol=1e-8, atol=1e-10)
    assert [w["examples"] for w in parallel["workers"]] == [150, 150]


def test_the_demo_trains_the_digits_on_several_workers_and_says_how_fast(tmp_path):
    done = subprocess.run([sys.executable, "-m", "microgradnp", "demo", "digits", "--workers", "2", "--quick",
                           "--out", str(tmp_path)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert re.search(r"worker 0: \d+ examples, \d+ cost and gradient evaluations in [\d.]+ s: [\d,]+ examples/s",
                     done.stdout)
    assert "worker 1:" in done.stdout and (tmp_path / "digits_hidden_units.png").exists()
    refused = subprocess.run([sys.executable, "-m", "microgradnp", "demo", "blobs", "--workers", "2", "--out",
                              str(tmp_path)], capture_output=True, text=True, timeout=120)
    assert refused.returncode == 2 and "--workers trains the digit network" in refused.stderr


def _train_steps(rank, steps, checkpoint_in, checkpoint_out):
    """SGD with momentum, data-parallel on 2 shards; resumes from a checkpoint, writes one (rank 0 only)."""
    dist.init_process_group()
    rng = np.random.default_rng(0)
    X, Y = rng.standard_normal((9, 3)), rng.standard_normal((9, 2))
    model = dist.DistributedDataParallel(mg.nn.MLP([3, 4, 2], activation="tanh", rng=0))
    opt = mg.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    if checkpoint_in:
        state = mg.load(checkpoint_in)
        model.module.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
    for _ in range(steps):
        opt.zero_grad()
        F.squared_loss(model(X[rank::2]), Y[rank::2]).backward()
        opt.step()
    if checkpoint_out:
        dist.save({"model": model.module.state_dict(), "optimizer": opt.state_dict()}, checkpoint_out)
    return [p.data.copy() for p in model.module.parameters()]


def test_a_checkpoint_written_by_rank_0_resumes_to_the_same_result(tmp_path):
    path = str(tmp_path / "step2.npz")
    straight = dist.spawn(_train_steps, 2, args=(4, None, None), start_method="fork", timeout=60)
    dist.spawn(_train_steps, 2, args=(2, None, path), start_method="fork", timeout=60)
    resumed = dist.spawn(_train_steps, 2, args=(2, path, None), start_method="fork", timeout=60)
    for a, b in zip(straight[0], resumed[0]):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(resumed[0], resumed[1]):
        np.testing.assert_array_equal(a, b)
