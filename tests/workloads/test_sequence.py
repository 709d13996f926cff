"""Workload 5, the GRU forecaster: its data, a short run that beats the last-value baseline, free running."""

import numpy as np

from microgradnp.workloads import sequence


def test_waves_are_noisy_sines_of_the_asked_shape():
    waves = sequence.make_waves(5, np.random.default_rng(0), steps=30, noise=0.0)
    assert waves.shape == (5, 30) and np.abs(waves).max() <= 1.0
    assert np.std(np.diff(waves, axis=1)) > 0.05  # they move


def test_a_short_run_beats_repeating_the_last_value(tmp_path):
    s = sequence.run(epochs=8, n_train=256, n_test=32, out_dir=str(tmp_path))
    assert s["test mse"] < 0.5 * s["baseline mse"]
    assert s["losses"][-1] < s["losses"][0]
    assert (tmp_path / "sequence_forecast.png").stat().st_size > 1000
    free = s["model_obj"].continue_(s["example"][0][:2], 10)
    assert free.shape == (2, 10) and np.all(np.isfinite(free))


def test_the_loss_through_time_can_be_drawn():
    loss = sequence.graph_loss()
    assert loss.shape == () and loss.requires_grad
