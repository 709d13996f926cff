"""Workload 4, the small CNN on the 8x8 digits: its augmentation, a short training run, and its drawing."""

import numpy as np

import microgradnp as mg
from microgradnp.workloads import cnn


def test_shifted_moves_each_image_by_at_most_one_pixel():
    rng = np.random.default_rng(0)
    images = np.zeros((50, 1, 8, 8))
    images[:, 0, 3, 4] = 1.0
    moved = cnn.shifted(images, rng)
    assert moved.shape == images.shape
    where = np.argwhere(moved[:, 0] == 1.0)
    assert len(where) == 50  # the pixel is kept (it is not on the border), exactly once per image
    assert set(map(int, where[:, 1])) <= {2, 3, 4} and set(map(int, where[:, 2])) <= {3, 4, 5}
    assert len({(int(r), int(c)) for _, r, c in where}) > 3  # the shifts vary
    edge = np.zeros((400, 1, 8, 8))
    edge[:, 0, 0, :] = 1.0
    assert cnn.shifted(edge, rng)[:, 0].sum(axis=(1, 2)).min() == 0  # shifted off the image: zeros come in


def test_a_short_run_learns_and_writes_its_figures(tmp_path):
    s = cnn.run(epochs=3, out_dir=str(tmp_path))
    assert s["accuracies"][-1] > 0.85 and s["losses"][-1] < s["losses"][0]
    assert all((tmp_path / f).stat().st_size > 1000 for f in ("cnn_training.png", "cnn_filters.png"))
    model = s["model_obj"]
    assert isinstance(model[0], mg.nn.Conv2d) and model[0].weight.shape == (16, 1, 3, 3)


def test_the_cnn_loss_can_be_drawn():
    loss = cnn.graph_loss()
    assert loss.shape == () and loss.requires_grad
