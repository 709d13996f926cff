"""The same data-parallel training under torch.distributed's gloo (`torchrun`): CI installs PyTorch's CPU build."""

import shutil
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

from tests.distributed.full_batch import assert_equal_to_full_batch

pytest.importorskip("torch.distributed")
TORCHRUN = shutil.which("torchrun")
pytestmark = pytest.mark.skipif(TORCHRUN is None, reason="no torchrun (PyTorch not installed)")


def _torchrun(tmp_path, n: int, body: str, *args: str):
    script = tmp_path / "train.py"
    script.write_text(textwrap.dedent(body))
    return subprocess.run([TORCHRUN, "--nproc-per-node", str(n), str(script), *args], capture_output=True,
                          text=True, timeout=180)


def test_data_parallel_gradients_under_gloo_equal_the_full_batch_gradient(tmp_path):
    rng = np.random.default_rng(1)
    X, Y = rng.standard_normal((5, 3)), rng.standard_normal((5, 2))
    np.savez(tmp_path / "data.npz", X=X, Y=Y)
    done = _torchrun(tmp_path, 2, """
        import sys
        import numpy as np
        import microgradnp as mg
        from microgradnp.nn import functional as F
        mg.distributed.init_process_group()                  # found from torchrun's environment
        rank = mg.distributed.get_rank()
        d = np.load(sys.argv[1])
        shard = slice(0, 4) if rank == 0 else slice(4, 5)     # 4 and 1 examples
        model = mg.distributed.DistributedDataParallel(mg.nn.MLP([3, 4, 2], activation="tanh", rng=rank))
        F.squared_loss(model(d["X"][shard]), d["Y"][shard]).backward()
        np.savez(sys.argv[2] + f"{rank}.npz", *[p.grad for p in model.module.parameters()])
    """, str(tmp_path / "data.npz"), str(tmp_path / "grads"))
    assert done.returncode == 0, done.stderr[-3000:]
    for rank in range(2):
        got = np.load(tmp_path / f"grads{rank}.npz")
        assert_equal_to_full_batch([got[f"arr_{k}"] for k in range(len(got.files))], X, Y)


def test_a_rank_that_raises_ends_the_torchrun_job_with_an_error(tmp_path):
    start = time.monotonic()
    done = _torchrun(tmp_path, 2, """
        import numpy as np
        import microgradnp as mg
        mg.distributed.init_process_group("gloo", timeout=20)
        if mg.distributed.get_rank() == 1:
            raise ValueError("a bad batch on rank 1")
        mg.distributed.all_reduce_(np.ones(3))
    """)
    assert done.returncode != 0 and time.monotonic() - start < 90
    assert "a bad batch on rank 1" in done.stderr


def test_without_a_launcher_the_error_names_every_way_to_start():
    done = subprocess.run([sys.executable, "-c", "import microgradnp as mg; mg.distributed.init_process_group()"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode != 0 and "torchrun --nproc-per-node N script.py" in done.stderr
