"""The same data-parallel training under torch.distributed's gloo (`torchrun`): CI installs PyTorch's CPU build."""

import shutil
import subprocess
import sys
import textwrap

import pytest

from tests.distributed.full_batch import assert_launched_training_equals_full_batch

pytest.importorskip("torch.distributed")
TORCHRUN = shutil.which("torchrun")
pytestmark = pytest.mark.skipif(TORCHRUN is None, reason="no torchrun (PyTorch not installed)")


def _torchrun(tmp_path, n: int, body: str, *args):
    script = tmp_path / "train.py"
    script.write_text(textwrap.dedent(body))
    return _launch(script, n, *args)


def _launch(script, n: int, *args):
    # A timeout only as a guard against a hang: how fast a failure stops the job is benchmarks/fault_latency.py's.
    return subprocess.run([TORCHRUN, "--nproc-per-node", str(n), str(script), *map(str, args)],
                          capture_output=True, text=True, timeout=300)


def test_data_parallel_gradients_under_gloo_equal_the_full_batch_gradient(tmp_path):
    assert_launched_training_equals_full_batch(lambda script, *args: _launch(script, 2, *args), tmp_path, [0, 4, 5],
                                               seed=1)


def test_a_rank_that_raises_ends_the_torchrun_job_with_an_error(tmp_path):
    done = _torchrun(tmp_path, 2, """
        import numpy as np
        import microgradnp as mg
        mg.distributed.init_process_group("gloo", timeout=20)
        if mg.distributed.get_rank() == 1:
            raise ValueError("a bad batch on rank 1")
        mg.distributed.all_reduce_(np.ones(3))
    """)
    assert done.returncode != 0
    assert "a bad batch on rank 1" in done.stderr


def test_without_a_launcher_the_error_names_every_way_to_start():
    done = subprocess.run([sys.executable, "-c", "import microgradnp as mg; mg.distributed.init_process_group()"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode != 0 and "torchrun --nproc-per-node N script.py" in done.stderr
