"""Graph drawing: exact DOT text, gradient flow, names, NaN flags, module folding, rendering."""

import ast
import re
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
    assert "grad [2., 4.]" in text and "record_grad_norms=True" in text


def test_a_graph_drawn_after_an_optimizer_step_shows_what_was_recorded_and_says_values_changed():
    net = mg.nn.MLP([2, 3, 2], rng=0)
    loss = mg.nn.functional.cross_entropy(net(mg.tensor(np.ones((4, 2)))), np.array([0, 1, 0, 1]))
    opt = mg.optim.SGD(net.parameters(), lr=0.1)
    loss.backward(retain_graph=True)  # as the docs recommend, to see interior gradients
    opt.step()
    text = to_dot(loss)  # raised the in-place modification error before
    assert "values changed since this graph was recorded ('layers.2.weight'" in text
    assert "interior gradients not shown" in text
    assert "log_softmax" in text and text.count("label=\"linear\"") == 2  # every recorded op is drawn
    before = mg.nn.MLP([2, 3, 2], rng=0)
    fresh = mg.nn.functional.cross_entropy(before(mg.tensor(np.ones((4, 2)))), np.array([0, 1, 0, 1]))
    fresh.backward(retain_graph=True)
    assert "values changed" not in to_dot(fresh)  # nothing written: the interior gradients are shown


def test_the_html_panel_titles_nodes_by_name_or_op_with_the_shape_and_counts_non_finite_values():
    from microgradnp.viz import _details, _Drawing

    x = mg.tensor([np.nan, np.inf, -np.inf, 1.0, np.nan], requires_grad=True, name="x")
    y = x * 2.0
    details = _details(_Drawing(y.sum(), show_grads=False))
    by_title = {d["title"]: dict(d["rows"]) for d in details.values()}
    assert "x (5,)" in by_title and "mul (5,)" in by_title and "sum ()" in by_title, sorted(by_title)
    rows = by_title["x (5,)"]
    assert rows["non-finite"] == "2 NaN, 1 inf, 1 -inf"
    assert rows["min / mean / max of the finite"] == "1 / 1 / 1"


def test_backward_memory_counts_each_kept_value_once_and_simulates_the_gradient_peak():
    from microgradnp.viz import backward_memory

    n = 1000
    x = mg.tensor(np.ones(n), requires_grad=True)
    a = mg.tanh(x)
    b = a * 2.0
    s = b.sum()
    m = backward_memory(s)
    assert m["kept"] == {id(a): 8 * n, id(b): 8 * n, id(s): 8}  # x is the user's: nothing kept for it
    assert m["total"] == 16 * n + 8
    # newest first: s's gradient (8 B) makes b's (8n); b's makes a's while b's is alive (16n); a's makes x's
    assert m["gradients"] == 16 * n and m["peak"] == 32 * n + 8
    loss = mg.nn.functional.cross_entropy(mg.randn(4, 2, rng=0, requires_grad=True), np.arange(4) % 2)
    assert sum(backward_memory(loss)["kept"].values()) >= 4 * 8 + 4 * 2 * 8  # the labels an op kept count too


def test_the_memory_view_labels_nodes_and_the_html_lists_them_largest_first(tmp_path):
    import re

    net = mg.nn.MLP([2, 5, 5, 2], rng=0)
    loss = mg.nn.functional.cross_entropy(net(mg.randn(8, 2, rng=0)), np.arange(8) % 2)
    loss.backward(retain_graph=True)
    text = to_dot(loss, show_memory=True)
    assert "keeps 320 B for backward" in text and "memory for backward: the graph keeps" in text
    assert "keeps" not in to_dot(loss)  # off by default
    if not __import__("shutil").which("dot"):
        return
    page = (tmp_path / "m.html")
    render(loss, page, show_memory=True)
    table = re.search(r'<table id="mg-memory">(.*?)</table>', page.read_text()).group(1)
    sizes = [float(v.split()[0]) * (1024 if "KiB" in v else 1) for v in re.findall(r"<td>([\d.]+ (?:B|KiB))</td>", table)]
    assert len(sizes) == 9 and sizes == sorted(sizes, reverse=True)


def test_the_graphs_page_shows_the_real_memory_notes():
    import pathlib
    import re

    from microgradnp.cli import load

    docs = (pathlib.Path(__file__).resolve().parents[1] / "docs" / "graphs.md").read_text()
    moons = load("moons").graph_loss()
    moons.backward(retain_graph=True)
    loss, _ = _rnn_loss(mg.nn.GRUCell)
    for root in (moons, loss):
        note = re.search(r'memory \[label="(.*?)", shape', to_dot(root, show_memory=True, collapse="modules")).group(1)
        assert note.replace("\\n", " ") in docs, note
    kept = re.search(r"keeps ([\d.]+ \w+) for backward", to_dot(loss, show_memory=True, collapse="modules").split(
        "GRUCell", 1)[1]).group(1)
    assert f"says `keeps {kept} for backward`" in docs


def test_recorded_gradient_norms_show_the_interior_flow_after_a_plain_backward():
    x = mg.tensor(np.ones((3, 4)), requires_grad=True)
    h = mg.tanh(x * 3.0)
    loss = (h * h).sum()
    loss.backward(record_grad_norms=True)
    text = to_dot(loss)
    assert f"|grad| {h.grad_norm:.3g}" in text and "released the graph" not in text
    assert h.grad_norm == pytest.approx(np.linalg.norm(2 * np.tanh(3.0) * np.ones((3, 4))))
    assert text.count("penwidth=1.6") >= 3  # every edge coloured by the norm that flowed along it


def test_small_graphs_go_left_to_right_and_larger_ones_top_to_bottom():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    assert "rankdir=LR" in to_dot((x * x).sum())
    net = mg.nn.MLP([4, 8, 8, 3], rng=0)
    loss = mg.nn.functional.cross_entropy(net(mg.randn(16, 4, rng=0)), np.arange(16) % 3)
    assert "rankdir=TB" in to_dot(loss)
    assert "rankdir=LR" in to_dot(loss, rankdir="LR")


def test_an_explicit_size_dpi_or_rankdir_always_wins_and_bad_ones_are_refused():
    net = mg.nn.MLP([4, 8, 8, 3], rng=0)
    loss = mg.nn.functional.cross_entropy(net(mg.randn(16, 4, rng=0)), np.arange(16) % 3)
    head = to_dot(loss, size=(6, 4.5), dpi=200, rankdir="LR").splitlines()[1]
    assert head == '  graph [rankdir=LR, fontname="Helvetica", fontsize=10, size="6,4.5", dpi=200]'
    assert 'size="7,9"' in to_dot(loss, size="7,9")
    for bad in [(0, 3), (1,), "a,b", (float("nan"), 2), 5]:
        with pytest.raises(ValueError, match="size must be"):
            to_dot(loss, size=bad)
    for bad in [0, -3, True, "200"]:
        with pytest.raises(ValueError, match="dpi must be"):
            to_dot(loss, dpi=bad)


def test_highlight_outlines_what_detect_anomaly_names():
    x = mg.tensor([1.0, -1.0], requires_grad=True)
    with mg.detect_anomaly(), pytest.raises(mg.AnomalyError) as info, np.errstate(invalid="ignore"):
        mg.log(x * 2.0)
    text = to_dot(info.value.tensor, highlight=info.value.tensor)
    assert 'color="#d7191c", penwidth=3' in text and "NaN in value" in text


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
    with pytest.raises(ValueError, match="rankdir must be .auto. or one of TB, LR, BT, RL"):
        to_dot(y, rankdir=rankdir)


@pytest.mark.parametrize("max_nodes", [0, -3, 2.5, True])
def test_max_nodes_must_be_a_positive_integer(max_nodes):
    y = (mg.tensor([1.0], requires_grad=True) * 2.0).sum()
    with pytest.raises(ValueError, match="max_nodes must be a positive integer"):
        to_dot(y, max_nodes=max_nodes)


#: names that once broke a drawing or came out as another name
AWKWARD_NAMES = ['w\x00evil"\t', "tab\there", "cr\rhere", "line\u2028sep", "nul\x00", "&lt;b&gt;", "&amp;", "&#65;",
                 "<!--<script>", "</script><b>", "back\\slash", "quote'\"", "plain name", "x\ny", "\\x00"]


def test_control_characters_in_names_are_shown_escaped_never_written_raw():
    # A NUL ends a string for Graphviz: the rest of the file would be misread.
    x = mg.tensor([1.0], requires_grad=True, name='w\x00evil"\t')
    dot = to_dot((x * 2.0).sum())
    assert "\x00" not in dot and "\t" not in dot.replace("\n", "")
    assert r'w\\x00evil\"\\t' in dot


def _name_back(line: str):
    """The name a drawn line shows: as written, or read back as Python reads a string literal."""
    if "\\" not in line:
        return line
    for quote in ("'", '"'):
        try:
            return ast.literal_eval(quote + line + quote)
        except (SyntaxError, ValueError):
            pass
    return None


@needs_dot
def test_every_name_round_trips_through_dot():
    tensors = [mg.tensor([float(i)], requires_grad=True, name=n) for i, n in enumerate(AWKWARD_NAMES)]
    loss = sum((t * 1.0).sum() for t in tensors)
    done = subprocess.run(["dot", "-Tsvg"], input=to_dot(loss).encode(), capture_output=True, check=True)
    lines = [el.text for el in ET.fromstring(done.stdout).iter("{http://www.w3.org/2000/svg}text") if el.text]
    for name in AWKWARD_NAMES:  # each name is on exactly one drawn line, and that line gives it back
        assert [line for line in lines if _name_back(line) == name] != [], name
        assert sum(_name_back(line) == name for line in lines) == 1, name


def test_folding_modules_whose_inputs_are_several_tensors_compares_them_by_identity():
    # A module fed two different tensors once compared them with ==, which is elementwise on tensors.
    cell = mg.nn.GRUCell(1, 2, rng=0)
    x = mg.tensor(np.ones((3, 1)))
    h = cell(x[:, 0:1])
    loss = (cell(x[:, 0:1] * 2.0, h) ** 2).sum()
    dot = mg.viz.to_dot(loss, collapse="modules")
    assert "GRUCell" in dot


def _rnn_loss(Cell, steps: int = 30):
    """The loss of a ``steps``-step recurrent net on a batch of 4, after backward(record_grad_norms=True)."""
    cell, head = Cell(3, 8, rng=0), mg.nn.Linear(8, 1, rng=1)
    x, h = mg.randn(steps, 4, 3, rng=0), mg.zeros(4, 8)
    for t in range(steps):
        h = cell(x[t], h)
    loss = ((head(h) - 1.0) ** 2).mean()
    loss.backward(record_grad_norms=True)
    return loss, cell


@needs_dot
def test_a_30_step_rnn_is_drawn_with_bounded_layout_passes_chosen_by_its_size(tmp_path):
    # Laid out the full way, dot did not finish this graph (289 nodes) in 13 minutes; above
    # BOUNDED_ABOVE nodes dot's passes are bounded, decided by the node count, never by a clock.
    loss, cell = _rnn_loss(mg.nn.RNNCell)
    out = render(loss, tmp_path / "rnn.svg", names=cell, collapse=False)  # every node, nothing folded
    svg = (tmp_path / "rnn.svg").read_text()
    assert out.endswith("rnn.svg") and svg.rstrip().endswith("</svg>")
    assert svg.count('class="node"') > 250 and "rankdir" not in svg
    assert not list(tmp_path.glob("*.part"))


def test_a_layout_that_cannot_finish_falls_back_to_fewer_nodes_with_a_warning(tmp_path, monkeypatch):
    from microgradnp import viz

    calls = []

    def layout(source, fmt, budget=None):
        calls.append(source.count("[label="))
        if len(calls) == 1:
            raise viz.LayoutTimeout("Graphviz's dot ran past 60 s on this graph (a hang guard)")
        return b"<svg></svg>"

    monkeypatch.setattr(viz, "_layout", layout)
    net = mg.nn.MLP([4, 8, 3], rng=0)
    loss = net(mg.randn(2, 4, rng=0)).sum()
    with pytest.warns(UserWarning, match="drawing it with its modules folded"):
        render(loss, tmp_path / "g.svg")
    assert calls[1] < calls[0] and (tmp_path / "g.svg").read_text() == "<svg></svg>"


@needs_dot
def test_the_same_graph_gives_the_same_picture_whatever_the_clock_says(tmp_path, monkeypatch):
    import subprocess

    from microgradnp import viz

    loss, cell = _rnn_loss(mg.nn.RNNCell, steps=12)
    calls = []
    real_run = subprocess.run

    def run(args, **kw):  # what dot was asked to do; no layout choice may depend on time
        calls.append((tuple(args), kw.get("timeout")))
        return real_run(args, **kw)

    monkeypatch.setattr(viz.subprocess, "run", run)
    first = (tmp_path / "a.svg", tmp_path / "b.svg")
    for path in first:
        render(loss, path, names=cell)
    assert first[0].read_bytes() == first[1].read_bytes()
    assert len(calls) == 2 and calls[0] == calls[1]  # one dot run per picture, same options
    assert calls[0][1] == viz.LAYOUT_BUDGET  # the hang guard, the only use of time
    small = mg.tensor([1.0, 2.0], requires_grad=True)
    render((small * small).sum(), tmp_path / "small.svg")
    assert not any(opt.startswith("-Gnslimit") for opt in calls[-1][0])  # full layout below BOUNDED_ABOVE nodes


def test_a_hung_layout_in_the_html_view_still_gives_a_page_with_a_warning(tmp_path, monkeypatch):
    from microgradnp import viz

    real_layout, calls = viz._layout, []

    def layout(source, fmt, budget=None):
        calls.append(source.count("[label="))
        if len(calls) == 1:
            raise viz.LayoutTimeout("Graphviz's dot ran past 60 s on this graph (a hang guard)")
        return real_layout(source, fmt, budget) if viz.shutil.which("dot") else b"<svg></svg>"

    monkeypatch.setattr(viz, "_layout", layout)
    net = mg.nn.MLP([4, 8, 3], rng=0)
    with pytest.warns(UserWarning, match="ran past 60 s.*drawing it with its modules folded"):
        render(net(mg.randn(2, 4, rng=0)).sum(), tmp_path / "g.html")
    assert calls[1] < calls[0] and "<svg" in (tmp_path / "g.html").read_text()


@needs_dot
def test_what_jupyter_shows_is_the_svg_drawing():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    bundle = draw_graph((x * x).sum())._repr_mimebundle_()
    assert bundle["image/svg+xml"].lstrip().startswith(("<?xml", "<svg"))


needs_chromium = pytest.mark.skipif(__import__("tests.browser", fromlist=["CHROMIUM"]).CHROMIUM is None,
                                    reason="headless Chromium is not installed")


@needs_dot
@needs_chromium
def test_the_html_view_loads_offline_shows_every_node_and_a_nodes_arrays_on_click(tmp_path):
    import html
    import json
    import re

    from tests.browser import dom_after

    W = mg.tensor([[0.5, -1.0], [2.0, 0.25]], requires_grad=True, name="W")
    loss = mg.tanh(W @ mg.tensor([1.0, 3.0])).sum()
    loss.backward(record_grad_norms=True)
    path = render(loss, tmp_path / "graph.html")
    page = (tmp_path / "graph.html").read_text()
    assert "http://" not in page.replace("http://www.w3.org", "") and "https://" not in page  # nothing to fetch
    probe = """
      var nodes = document.querySelectorAll('#mg-canvas g.node');
      var data = JSON.parse(document.getElementById('mg-data').textContent), w = null;
      nodes.forEach(function (g) { var d = data[g.querySelector('title').textContent]; if (d && d.title === 'W (2, 2)') w = g; });
      w.dispatchEvent(new MouseEvent('click', {bubbles: true}));
      var before = document.querySelector('svg').getAttribute('viewBox');
      document.getElementById('mg-canvas').dispatchEvent(new WheelEvent('wheel', {deltaY: -100, clientX: 50, clientY: 50, bubbles: true, cancelable: true}));
      document.body.dataset.probe = JSON.stringify({nodes: nodes.length, panel: document.getElementById('mg-panel').textContent,
        zoomed: before !== document.querySelector('svg').getAttribute('viewBox')});
    """
    dom = dom_after(path, probe)
    found = json.loads(html.unescape(re.search(r'data-probe="([^"]*)"', dom).group(1)))
    assert found["nodes"] == page.count('class="node"') == 9  # 5 tensors, 3 ops, the legend
    assert "[[ 0.5 , -1.  ],\n [ 2.  ,  0.25]]" in found["panel"] and "grad" in found["panel"]
    assert found["zoomed"]


def _plain_rnn(steps):
    rng = np.random.default_rng(0)
    W_xh = mg.tensor(rng.standard_normal((3, 8)) * 0.3, requires_grad=True, name="W_xh")
    W_hh = mg.tensor(rng.standard_normal((8, 8)) * 0.3, requires_grad=True, name="W_hh")
    x, h = mg.randn(steps, 4, 3, rng=0), mg.zeros(4, 8)
    for t in range(steps):
        h = mg.tanh(x[t] @ W_xh + h @ W_hh)
    return (h ** 2).mean()


def test_a_large_graph_of_repeated_plain_op_steps_is_folded_by_structure():
    loss = _plain_rnn(30)
    text = to_dot(loss)  # 155 tensors: over FOLD_ABOVE, folded without being asked
    assert "repeated step  x27 (steps folded)\\nmatmul, matmul, add, tanh\\nW_xh (3, 8)" in text
    assert "x27 (one per step)\\n(4, 3) float64" in text  # each step's x[t], drawn once
    assert text.count("[label=") < 45
    full = to_dot(loss, collapse=False)
    assert "steps folded" not in full and full.count("[label=") > 250
    small = _plain_rnn(8)  # 43 tensors: drawn in full unless asked
    assert "steps folded" not in to_dot(small)
    assert "repeated step  x" in to_dot(small, collapse="steps")
    net = mg.nn.MLP([4] + [4] * 12, activation="tanh", rng=0)  # same ops, different weights: not steps
    assert "steps folded" not in to_dot(net(mg.randn(2, 4, rng=0)).sum(), collapse="steps")
    with pytest.raises(ValueError, match="collapse must be"):
        to_dot(loss, collapse="layers")


def test_the_module_docstring_the_legend_and_the_docs_name_the_same_edge_colours():
    import pathlib

    from microgradnp import viz

    legend = "blue 1e-8 (vanishing) - green 1 - red 1e4 (exploding)"
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    loss = (x * x).sum()
    loss.backward()
    assert legend in to_dot(loss)
    docs = (pathlib.Path(__file__).resolve().parents[1] / "docs" / "graphs.md").read_text()
    for text in (" ".join(viz.__doc__.split()), " ".join(docs.split())):
        assert "blue" in text and "green around 1" in text or "through green (1)" in text, text[:300]
        assert "grey (1)" not in text


def test_a_long_chain_of_one_input_elementwise_ops_is_drawn_as_one_op_node():
    x = mg.tensor([0.1, 0.2], requires_grad=True, name="x")
    h = mg.tanh(mg.sin(mg.exp(mg.sigmoid(x))))
    loss = (h * h).sum()
    text = to_dot(loss, collapse="chains")
    assert 'label="sigmoid -> exp -> sin -> tanh\\n(4 ops folded)"' in text
    xid = re.search(r'(t\d+) \[label="x\\n', text).group(1)
    assert f"{xid} -> op_" in text  # the chain's input feeds its one node
    assert text.count("[label=") == to_dot(loss).count("[label=") - 6  # 3 op nodes and 3 results fewer
    named = mg.sin(mg.exp(x))
    named.name = "kept"  # a named result is never hidden inside a run
    assert "folded" not in to_dot(mg.sigmoid(mg.tanh(named)).sum(), collapse="chains")
    shared = mg.exp(mg.sin(x))
    assert "folded" not in to_dot((mg.tanh(shared) + shared).sum(), collapse="chains")  # used twice: drawn


def test_folding_modules_folds_the_steps_of_an_rnn_into_one_node_marked_x30():
    loss, _ = _rnn_loss(mg.nn.GRUCell)
    text = to_dot(loss, collapse="modules")
    assert "GRUCell  x30 (steps folded)" in text and "x30 (one per step)\\n(4, 3) float64" in text
    assert text.count("[label=") < 30  # 611 tensors, folded
    assert "weight_hh (24, 8)  |grad|" in text  # the recorded norms of the shared parameters


@needs_dot
@needs_chromium
def test_every_name_survives_the_html_view_and_never_stops_its_script(tmp_path):
    import html
    import json
    import re

    from tests.browser import dom_after

    tensors = [mg.tensor([float(i)], requires_grad=True, name=n) for i, n in enumerate(AWKWARD_NAMES)]
    path = render(sum((t * 1.0).sum() for t in tensors), tmp_path / "names.html")
    probe = """
      var data = JSON.parse(document.getElementById('mg-data').textContent), shown = [];
      document.querySelectorAll('#mg-canvas g.node').forEach(function (g) {
        var d = data[g.querySelector('title').textContent];
        if (!d || !d.rows[0] || d.rows[0][1] !== '(1,) float64' || g.id.indexOf('op') >= 0) return;
        g.dispatchEvent(new MouseEvent('click', {bubbles: true}));  // the view's own script fills the panel
        shown.push(document.querySelector('#mg-panel h3').textContent);
      });
      document.body.dataset.probe = JSON.stringify({shown: shown});
    """
    found = json.loads(html.unescape(re.search(r'data-probe="([^"]*)"', dom_after(path, probe)).group(1)))
    assert {f"{name} (1,)" for name in AWKWARD_NAMES} <= set(found["shown"])  # titled by name and shape
