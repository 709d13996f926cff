"""Graph drawing: exact DOT text, gradient flow, names, NaN flags, module folding, rendering."""

import shutil
import subprocess
import sys
import warnings
import xml.etree.ElementTree as ET

import numpy as np
import pytest
from scipy.special import expit

import microgradnp as mg
from microgradnp.viz import GraphvizNotFoundError, draw_graph, render, to_dot

HEADER = (
    "digraph microgradnp {\n"
    '  graph [rankdir=LR, fontname="Helvetica", fontsize=10]\n'
    '  node [fontname="Helvetica", fontsize=10]\n'
    "  edge [arrowsize=0.7]\n"
)


def test_exact_text_of_a_small_graph_before_backward():
    a = mg.tensor(2.0, requires_grad=True, name="a")
    y = a * a + 1.0
    assert to_dot(y) == HEADER + (
        '  t0 [label="() float64\\nvalue 5", shape=box, style="rounded,filled", fillcolor="#d5e8d4", peripheries=2]\n'
        '  t1 [label="() float64\\nvalue 4", shape=box, style="rounded,filled", fillcolor="#ffffff"]\n'
        '  t2 [label="a\\n() float64\\nvalue 2", shape=box, style="rounded,filled", fillcolor="#dae8fc"]\n'
        '  op_t0 [label="add", shape=ellipse, style=filled, fillcolor="#eeeeee"]\n'
        "  t1 -> op_t0\n"
        '  c_t0_1 [label="1.0", shape=plaintext, fontsize=9]\n'
        "  c_t0_1 -> op_t0\n"
        "  op_t0 -> t0\n"
        '  op_t1 [label="mul", shape=ellipse, style=filled, fillcolor="#eeeeee"]\n'
        "  t2 -> op_t1\n"
        "  t2 -> op_t1\n"
        "  op_t1 -> t1\n"
        "}\n"
    )


def test_shared_subexpressions_appear_once_and_text_is_deterministic():
    def build():
        x = mg.tensor([1.0, 2.0], requires_grad=True, name="x")
        h = mg.exp(x)
        return (h * h + h).sum()

    text = to_dot(build())
    assert text == to_dot(build())
    assert text.count('label="(2,) float64\\nvalue [2.7183, 7.3891]"') == 1  # exp(x) drawn once ...
    h_id = next(line.split()[0] for line in text.splitlines() if "value [2.7183, 7.3891]" in line)
    assert sum(1 for line in text.splitlines() if line.strip().startswith(f"{h_id} -> ")) == 3  # ... used thrice
    edges = [line.strip() for line in text.splitlines() if "->" in line]
    assert edges == sorted(edges, key=edges.index)  # (stable order is the order of the text itself)


def test_after_backward_values_grads_names_and_flow_colours():
    x = mg.tensor([1.0, -1.0], requires_grad=True)
    w = mg.nn.Parameter([0.5, 2.0])
    loss = (mg.sigmoid(x * w) * 3.0).sum()
    loss.backward(retain_graph=True)
    text = to_dot(loss, names={"x": x})
    assert 'label="x\\n(2,) float64\\nvalue [ 1., -1.]\\ngrad [' in text
    assert "grad 1" in text  # the output's gradient
    assert "fillcolor=\"#fff2cc\"" in text  # the parameter is drawn as a parameter
    assert "color=\"#" in text and "legend" in text
    # interior gradients are recomputed without touching .grad
    sig = expit(x.data * w.data)
    assert f"grad [{np.round(3 * sig[0] * (1 - sig[0]), 4):g}," in text


def test_released_graph_shows_leaf_grads_and_says_why_not_more():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    loss = (x * x).sum()
    loss.backward()
    text = to_dot(loss)
    assert "grad [2., 4.]" in text and "retain_graph=True" in text


def test_nan_and_inf_are_flagged_in_red():
    x = mg.tensor([1.0, 0.0], requires_grad=True)
    with np.errstate(divide="ignore", invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        y = mg.log(x)  # -inf in the value
        loss = (y * 0.0).sum()  # nan in the value: -inf * 0
        loss.backward(retain_graph=True)  # NaN in x's gradient: 0 * (1 / 0)
        text = to_dot(loss)
    assert "!! inf in value" in text and "!! NaN in value" in text and "NaN in grad" in text
    assert text.count('fillcolor="#f8cecc"') >= 3


def test_zero_gradient_edges_are_dashed():
    x = mg.tensor([-1.0, -2.0], requires_grad=True)
    loss = mg.relu(x).sum()
    loss.backward(retain_graph=True)
    assert "style=dashed" in to_dot(loss)


def test_module_names_and_collapse():
    net = mg.nn.MLP([3, 4, 2], rng=0)
    loss = mg.nn.functional.cross_entropy(net(mg.tensor(np.ones((5, 3)))), np.zeros(5, dtype=int))
    plain = to_dot(loss)
    assert "layers.0.weight" in plain and "layers.2.bias" in plain
    folded = to_dot(loss, collapse="modules")
    assert "Linear layers.0" in folded and "Sigmoid layers.1" in folded and "Linear layers.2" in folded
    assert folded.count("shape=box3d") == 3
    assert 'label="linear"' not in folded and 'label="sigmoid"' not in folded
    assert len(folded.splitlines()) < len(plain.splitlines())


def test_attributes_appear_on_op_nodes():
    x = mg.tensor(np.ones((2, 3)), requires_grad=True)
    assert 'label="sum\\naxis=1"' in to_dot(x.sum(axis=1))


def test_huge_graph_is_truncated_without_recursion():
    x = mg.tensor([1.0], requires_grad=True)
    y = x
    for _ in range(100_000):
        y = y + 1.0
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(200)  # any recursion over the graph would fail at once
    try:
        with pytest.warns(UserWarning, match="only the"):
            text = to_dot(y, max_nodes=500)
    finally:
        sys.setrecursionlimit(limit)
    assert "more tensors not drawn (max_nodes=500)" in text
    assert text.count("shape=box,") <= 500


def test_to_dot_argument_checks():
    x = mg.tensor([1.0], requires_grad=True)
    with pytest.raises(TypeError, match="Tensor"):
        to_dot(x.data)
    with pytest.raises(ValueError, match="collapse"):
        to_dot(x * 2, collapse="layers")
    with pytest.raises(TypeError, match="names"):
        to_dot(x * 2, names={"x": x.data})


graphviz = pytest.importorskip("graphviz")
needs_dot = pytest.mark.skipif(__import__("shutil").which("dot") is None, reason="Graphviz's dot is not installed")


@needs_dot
def test_render_svg_parses_and_has_every_node(tmp_path):
    a = mg.tensor(2.0, requires_grad=True, name="a")
    y = a * a + 1.0
    path = render(y, tmp_path / "g.svg")
    tree = ET.parse(path)
    ns = {"svg": "http://www.w3.org/2000/svg"}
    nodes = tree.getroot().findall(".//svg:g[@class='node']", ns)
    assert len(nodes) == 6  # 3 tensors, 2 ops, 1 constant
    assert sorted(p.name for p in tmp_path.iterdir()) == ["g.svg"]
    png = render(y, tmp_path / "g.png")
    assert open(png, "rb").read(4) == b"\x89PNG"


@needs_dot
def test_draw_graph_and_tensor_draw_render(tmp_path):
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    g = (x * x).sum().draw()
    assert isinstance(g, graphviz.Digraph) and g.source.startswith("digraph microgradnp")
    out = g.render(str(tmp_path / "graph"), format="svg")
    assert out.endswith(".svg")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["graph.svg"]  # the DOT source is cleaned up


def test_rendering_without_dot_explains_and_leaves_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    y = (mg.tensor([1.0], requires_grad=True) * 2).sum()
    with pytest.raises(GraphvizNotFoundError, match="apt-get install graphviz"):
        render(y, tmp_path / "g.svg")
    with pytest.raises(GraphvizNotFoundError, match="to_dot"):
        draw_graph(y).render(str(tmp_path / "g2"), format="png")
    assert list(tmp_path.iterdir()) == []
    assert to_dot(y).startswith("digraph")  # DOT text still works
    path = render(y, tmp_path / "g.dot")
    assert open(path).read() == to_dot(y)


@pytest.mark.parametrize("rankdir", ["LR; node [shape=star]", "lr", "", None, "TB]"])
def test_rankdir_is_checked_before_it_reaches_the_dot_text(rankdir):
    y = (mg.tensor([1.0], requires_grad=True) * 2.0).sum()
    with pytest.raises(ValueError, match="rankdir must be one of TB, LR, BT, RL"):
        to_dot(y, rankdir=rankdir)


@pytest.mark.parametrize("max_nodes", [0, -3, 2.5, True])
def test_max_nodes_must_be_a_positive_integer(max_nodes):
    y = (mg.tensor([1.0], requires_grad=True) * 2.0).sum()
    with pytest.raises(ValueError, match="max_nodes must be a positive integer"):
        to_dot(y, max_nodes=max_nodes)


def test_control_characters_in_names_are_shown_escaped_never_written_raw():
    # A NUL ends a string for Graphviz: the rest of the file would be misread.
    x = mg.tensor([1.0], requires_grad=True, name='w\x00evil"\t')
    dot = to_dot((x * 2.0).sum())
    assert "\x00" not in dot and "\t" not in dot.replace("\n", "")
    assert r'w\\x00evil\"\\x09' in dot
    if shutil.which("dot"):
        done = subprocess.run(["dot", "-Tsvg"], input=dot.encode(), capture_output=True)
        assert done.returncode == 0 and b"w\\x00evil" in done.stdout


def test_folding_modules_whose_inputs_are_several_tensors_compares_them_by_identity():
    # A module fed two different tensors once compared them with ==, which is elementwise on tensors.
    cell = mg.nn.GRUCell(1, 2, rng=0)
    x = mg.tensor(np.ones((3, 1)))
    h = cell(x[:, 0:1])
    loss = (cell(x[:, 0:1] * 2.0, h) ** 2).sum()
    dot = mg.viz.to_dot(loss, collapse="modules")
    assert "GRUCell" in dot
