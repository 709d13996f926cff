"""The workloads package: every workload's summary has what the demo prints; unknown names are refused."""

import pytest

from microgradnp import workloads


@pytest.mark.parametrize("workload", ["blobs", "digits", "moons", "cnn", "sequence"])
def test_run_summaries_have_what_the_demo_prints(workload):
    module = workloads.load(workload)
    small = {"blobs": {"n": 100}, "digits": {"maxiter": 2}, "moons": {"n": 100, "iters": 5, "long_iters": 5, "long_subset": 50},
             "cnn": {"epochs": 1}, "sequence": {"epochs": 1, "n_train": 32, "n_test": 8}}
    s = module.run(**small[workload])
    for key in ("workload", "model", "accuracy", "final loss", "seconds", "model_obj", "example"):
        assert key in s


def test_every_workload_is_listed_and_loads():
    assert set(workloads.WORKLOADS) == {"blobs", "digits", "moons", "cnn", "sequence"}
    for name in workloads.WORKLOADS:
        module = workloads.load(name)
        assert callable(module.run) and callable(module.graph_loss)


def test_an_unknown_workload_is_refused_with_the_choices():
    with pytest.raises(ValueError, match="unknown workload 'mnist'; choose one of blobs, digits, moons"):
        workloads.load("mnist")
