"""Drawings a teacher can project: measured from the page itself in headless Chromium at 1400x1000.

For five graphs (the README's blobs workload, an MLP training step, the 2-5-5-2
moons net, a 30-step RNN written with plain ops, a 400-node graph) the SVG
shown at 100% and the HTML view's first frame must have no text under 10 px,
every node inside the drawing's canvas (nothing clipped), and, in the HTML
view, no node under the panel.  The same graph rendered twice gives the same
bytes.
"""

import shutil

import numpy as np
import pytest

import microgradnp as mg
from microgradnp.viz import render
from tests.browser import CHROMIUM, readability
from tests.test_viz import _plain_rnn as plain_rnn_loss

pytestmark = [
    pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is not installed"),
    pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium is not installed"),
]


def _workload(name):
    from microgradnp.cli import load

    loss = load(name).graph_loss()
    loss.backward(retain_graph=True)
    return loss


def _mlp_step():
    net = mg.nn.MLP([4, 8, 8, 3], rng=0)
    loss = mg.nn.functional.cross_entropy(net(mg.randn(16, 4, rng=0)), np.arange(16) % 3)
    loss.backward(retain_graph=True)
    return loss


def _plain_rnn(steps=30):
    loss = plain_rnn_loss(steps)
    loss.backward(retain_graph=True)
    return loss


def _four_hundred_nodes():
    xs = [mg.tensor([float(i), 1.0], requires_grad=True) for i in range(50)]
    loss = sum((mg.tanh(x) * x).sum() for x in xs)
    loss.backward(retain_graph=True)
    return loss


GRAPHS = {"blobs": lambda: _workload("blobs"), "mlp_step": _mlp_step, "moons": lambda: _workload("moons"),
          "rnn_30_plain_ops": _plain_rnn, "400_nodes": _four_hundred_nodes}

@pytest.mark.parametrize("name", list(GRAPHS))
def test_a_drawing_is_readable_unclipped_and_the_same_every_time(name, tmp_path):
    loss = GRAPHS[name]()
    for ext in ("svg", "html"):
        render(loss, tmp_path / f"a.{ext}")
        render(loss, tmp_path / f"b.{ext}")
        assert (tmp_path / f"a.{ext}").read_bytes() == (tmp_path / f"b.{ext}").read_bytes(), ext
    for page in ("a.svg", "a.html"):
        found = readability(tmp_path / page)
        assert "error" not in found, found
        assert found["nodes"] > 5
        assert found["smallest"] >= 10, f"{page}: text {found['smallest']:.1f} px high"
        assert not found["outside"], f"{page}: nodes outside the canvas: {found['outside']}"
        assert not found["under"], f"{page}: nodes under the panel: {found['under']}"
